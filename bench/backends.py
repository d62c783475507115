"""The implementations a benchmark can time side by side, one registry for every group.

Each ``make_*`` takes ``(layers, X, y, lam, dtype, units)`` and returns ``f(params) -> (J,
grad)`` with J a float and grad a float64 numpy vector, after converting the data once (as a
user would). ``PREDICTORS`` do the same for predicted labels: ``(layers, X, dtype, units)`` ->
``f(params)``. ``units`` names the hidden activation and the output (``UNITS``; default the
course's sigmoids). PyTorch and JAX are optional (``pip install '.[bench]'``): missing ones are
skipped.
"""

import numpy as np
import pytest

import fastnn
from fastnn import reference


SIGMOID = ("logistic", "logistic")  # the course's network
UNITS = {"sigmoid": SIGMOID, "relu-softmax": ("relu", "softmax")}


def _names(units):
    return dict(zip(("activation", "output"), units))


def make_fastnn(layers, X, y, lam, dtype, units=SIGMOID):
    return fastnn.Objective(layers, X, y, lam, dtype=dtype, **_names(units))


def make_fastnn_drop_in(layers, X, y, lam, dtype, units=SIGMOID):
    """``fastnn.cost_grad`` itself: validates X and finds its non-zero columns every call."""
    X = np.ascontiguousarray(X, dtype=dtype)
    return lambda p: fastnn.cost_grad(p, layers, X, y, lam, dtype, **_names(units))


def make_numpy(layers, X, y, lam, dtype, units=SIGMOID):
    X = np.ascontiguousarray(X, dtype=dtype)
    return lambda p: reference.cost_grad(p, layers, X, y, lam, dtype, **_names(units))


def _shapes(layers):
    return [(b, a + 1) for a, b in zip(layers[:-1], layers[1:])]


def _torch_forward(torch, params, Xt, layers, activation):
    """``(z, thetas)``: the output layer's pre-activations for Xt, and views of params."""
    f = {"logistic": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}[activation]
    shapes = _shapes(layers)
    parts = torch.split(params, [r * c for r, c in shapes])
    thetas = [part.view(shape) for part, shape in zip(parts, shapes)]
    a = Xt
    for i, theta in enumerate(thetas):
        z = torch.addmm(theta[:, 0], a, theta[:, 1:].T)
        a = z if i == len(thetas) - 1 else f(z)
    return a, thetas


def _torch(dtype):
    torch = pytest.importorskip("torch")
    return torch, torch.float64 if dtype == np.float64 else torch.float32


def make_torch(layers, X, y, lam, dtype, units=SIGMOID):
    torch, tdtype = _torch(dtype)
    Xt = torch.as_tensor(X, dtype=tdtype)
    yt = torch.as_tensor(y)
    Yt = torch.nn.functional.one_hot(yt, layers[-1]).to(tdtype)
    m = X.shape[0]
    activation, output = units

    def loss(z):
        if output == "softmax":
            return torch.nn.functional.cross_entropy(z, yt, reduction="sum")
        return torch.nn.functional.binary_cross_entropy_with_logits(z, Yt, reduction="sum")

    def cost_grad(p):
        params = torch.tensor(p, dtype=tdtype, requires_grad=True)
        z, thetas = _torch_forward(torch, params, Xt, layers, activation)
        reg = sum((theta[:, 1:] ** 2).sum() for theta in thetas)
        J = loss(z) / m
        J = J + lam / (2 * m) * reg
        J.backward()
        return J.item(), params.grad.numpy().astype(np.float64)

    return cost_grad


def _jax_forward(jax, params, Xj, layers, activation):
    """``(z, thetas)``: the output layer's pre-activations for Xj, and slices of params."""
    f = {"logistic": jax.nn.sigmoid, "relu": jax.nn.relu, "tanh": jax.numpy.tanh}[activation]
    shapes = _shapes(layers)
    splits = np.cumsum([r * c for r, c in shapes])[:-1]
    thetas = [part.reshape(shape) for part, shape in zip(jax.numpy.split(params, splits), shapes)]
    a = Xj
    for i, theta in enumerate(thetas):
        z = a @ theta[:, 1:].T + theta[:, 0]
        a = z if i == len(thetas) - 1 else f(z)
    return a, thetas


def _jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def make_jax(layers, X, y, lam, dtype, units=SIGMOID):
    jax = _jax()
    jnp = jax.numpy
    Xj = jnp.asarray(X, dtype=dtype)
    Yj = jnp.asarray(np.eye(layers[-1], dtype=dtype)[y])
    m = X.shape[0]
    activation, output = units

    def loss(z):
        if output == "softmax":
            return -jnp.sum(Yj * jax.nn.log_softmax(z, axis=1))
        return jnp.sum(-Yj * jax.nn.log_sigmoid(z) - (1 - Yj) * jax.nn.log_sigmoid(-z))

    def cost(params):
        z, thetas = _jax_forward(jax, params, Xj, layers, activation)
        reg = sum(jnp.sum(theta[:, 1:] ** 2) for theta in thetas)
        return loss(z) / m + lam / (2 * m) * reg

    value_and_grad = jax.jit(jax.value_and_grad(cost))

    def cost_grad(p):
        J, g = value_and_grad(jnp.asarray(p, dtype=dtype))
        return float(J), np.asarray(g, dtype=np.float64)

    return cost_grad


def predictor_torch(layers, X, dtype, units=SIGMOID):
    torch, tdtype = _torch(dtype)
    Xt = torch.as_tensor(X, dtype=tdtype)

    def predict(p):
        with torch.no_grad():
            z, _ = _torch_forward(torch, torch.as_tensor(p, dtype=tdtype), Xt, layers, units[0])
            return z.argmax(dim=1).numpy()

    return predict


def predictor_jax(layers, X, dtype, units=SIGMOID):
    jax = _jax()
    Xj = jax.numpy.asarray(X, dtype=dtype)
    labels = jax.jit(lambda params: _jax_forward(jax, params, Xj, layers,
                                                 units[0])[0].argmax(axis=1))
    return lambda p: np.asarray(labels(jax.numpy.asarray(p, dtype=dtype)))


def predictor_fastnn(layers, X, dtype, units=SIGMOID):
    X = np.ascontiguousarray(X, dtype=dtype)
    return lambda p: fastnn.predict(p, layers, X, dtype=dtype, **_names(units))


def predictor_numpy(layers, X, dtype, units=SIGMOID):
    X = np.ascontiguousarray(X, dtype=dtype)
    return lambda p: reference.predict(p, layers, X, dtype=dtype, activation=units[0])


BACKENDS = {"fastnn": make_fastnn, "fastnn drop-in": make_fastnn_drop_in, "numpy": make_numpy,
            "torch": make_torch, "jax": make_jax}
PREDICTORS = {"fastnn": predictor_fastnn, "numpy": predictor_numpy, "torch": predictor_torch,
              "jax": predictor_jax}
DTYPES = {"f64": np.float64, "f32": np.float32}


def synthetic(layers, m, seed=0):
    """Dense random data (every pixel non-zero, unlike a digit): X in [0, 1) (m, layers[0]),
    labels, and initial params."""
    rng = np.random.default_rng(seed)
    X = np.empty((m, layers[0]))
    for i in range(0, m, 1000):  # in place: no temporary as large as X (memory benchmark)
        X[i:i + 1000] = rng.random((min(1000, m - i), layers[0]))
    return X, rng.integers(0, layers[-1], m), fastnn.init_params(layers, seed=seed)
