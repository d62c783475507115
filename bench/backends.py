"""The implementations a benchmark can time side by side, one registry for every group.

Each ``make_*`` takes ``(layers, X, y, lam, dtype)`` and returns ``f(params) -> (J, grad)``
with J a float and grad a float64 numpy vector, after converting the data once (as a user
would). PyTorch and JAX are optional (``pip install '.[bench]'``): missing ones are skipped.
"""

import numpy as np
import pytest

import fastnn
from fastnn import reference


def make_fastnn(layers, X, y, lam, dtype):
    return fastnn.Objective(layers, X, y, lam, dtype=dtype)


def make_numpy(layers, X, y, lam, dtype):
    X = np.ascontiguousarray(X, dtype=dtype)
    return lambda p: reference.cost_grad(p, layers, X, y, lam, dtype)


def make_torch(layers, X, y, lam, dtype):
    torch = pytest.importorskip("torch")
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    Xt = torch.as_tensor(X, dtype=tdtype)
    Yt = torch.nn.functional.one_hot(torch.as_tensor(y), layers[-1]).to(tdtype)
    m = X.shape[0]
    shapes = [(b, a + 1) for a, b in zip(layers[:-1], layers[1:])]

    def cost_grad(p):
        params = torch.tensor(p, dtype=tdtype, requires_grad=True)
        thetas = torch.split(params, [r * c for r, c in shapes])
        a, reg = Xt, 0.0
        for i, (theta, shape) in enumerate(zip(thetas, shapes)):
            theta = theta.view(shape)
            z = torch.addmm(theta[:, 0], a, theta[:, 1:].T)
            a = z if i == len(shapes) - 1 else torch.sigmoid(z)
            reg = reg + (theta[:, 1:] ** 2).sum()
        J = torch.nn.functional.binary_cross_entropy_with_logits(a, Yt, reduction="sum") / m
        J = J + lam / (2 * m) * reg
        J.backward()
        return J.item(), params.grad.numpy().astype(np.float64)

    return cost_grad


def make_jax(layers, X, y, lam, dtype):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    Xj = jnp.asarray(X, dtype=dtype)
    Yj = jnp.asarray(np.eye(layers[-1], dtype=dtype)[y])
    m = X.shape[0]
    shapes = [(b, a + 1) for a, b in zip(layers[:-1], layers[1:])]
    splits = np.cumsum([r * c for r, c in shapes])[:-1]

    def cost(params):
        a, reg = Xj, 0.0
        for i, (theta, shape) in enumerate(zip(jnp.split(params, splits), shapes)):
            theta = theta.reshape(shape)
            z = a @ theta[:, 1:].T + theta[:, 0]
            a = z if i == len(shapes) - 1 else jax.nn.sigmoid(z)
            reg = reg + jnp.sum(theta[:, 1:] ** 2)
        loss = jnp.sum(-Yj * jax.nn.log_sigmoid(a) - (1 - Yj) * jax.nn.log_sigmoid(-a)) / m
        return loss + lam / (2 * m) * reg

    value_and_grad = jax.jit(jax.value_and_grad(cost))

    def cost_grad(p):
        J, g = value_and_grad(jnp.asarray(p, dtype=dtype))
        return float(J), np.asarray(g, dtype=np.float64)

    return cost_grad


BACKENDS = {"fastnn": make_fastnn, "numpy": make_numpy, "torch": make_torch, "jax": make_jax}
DTYPES = {"f64": np.float64, "f32": np.float32}


def synthetic(layers, m, seed=0):
    """Dense random data (every pixel non-zero, unlike a digit): X in [0, 1) (m, layers[0]),
    labels, and initial params."""
    rng = np.random.default_rng(seed)
    X = np.empty((m, layers[0]))
    for i in range(0, m, 1000):  # in place: no temporary as large as X (memory benchmark)
        X[i:i + 1000] = rng.random((min(1000, m - i), layers[0]))
    return X, rng.integers(0, layers[-1], m), fastnn.init_params(layers, seed=seed)
