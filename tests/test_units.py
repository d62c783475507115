"""Every hidden activation x output, on both plans, dense and CSR, float64 and float32: cost,
gradient, Hessian products, outputs and the checker against the numpy reference and against
PyTorch's automatic differentiation (an oracle that shares no code with either); sample weights
against repeated rows; saturated units; bad names and weights."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

import fastnn
from fastnn import reference
from fastnn.layout import unpack
from fastnn.rows import make_rows
from conftest import DTYPES, RTOL, assert_close

torch.set_num_threads(1)  # tiny products; no thread pool left spinning beside Numba's

ACTIVATIONS, OUTPUTS = reference.ACTIVATIONS, reference.OUTPUTS
PAIRS = [(a, o) for a in ACTIVATIONS for o in OUTPUTS]
# one and two hidden layers; the last two have layers of few units (kernels.fused.by_dots)
DEPTHS = [(9, 6, 4), (9, 7, 5, 3), (9, 12, 1), (9, 40, 2, 3)]


def task(layers, output, m=45, seed=0, scale=0.8):
    """params, X (some zeros, negative values), targets of output, positive weights."""
    rng = np.random.default_rng(seed)
    params = rng.uniform(-scale, scale, fastnn.n_params(layers))
    X = rng.normal(size=(m, layers[0]))
    X[rng.random(X.shape) < 0.4] = 0
    if output == "identity":
        y = rng.normal(size=(m, layers[-1]))
    else:
        y = rng.integers(0, layers[-1], m)
    return params, X, y, rng.uniform(0.1, 3.0, m)


def torch_cost(params, layers, X, y, lam, activation, output, weights):
    """The loss of the issue's definitions, written directly in torch (params a tensor)."""
    f = {"logistic": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
         "identity": lambda z: z}[activation]
    thetas, at = [], 0
    for n_in, n_out in zip(layers[:-1], layers[1:]):
        thetas.append(params[at:at + n_out * (n_in + 1)].reshape(n_out, n_in + 1))
        at += n_out * (n_in + 1)
    a = torch.as_tensor(X)
    for theta in thetas[:-1]:
        a = f(a @ theta[:, 1:].T + theta[:, 0])
    z = a @ thetas[-1][:, 1:].T + thetas[-1][:, 0]
    if output == "identity":
        losses = 0.5 * torch.sum((z - torch.as_tensor(y).reshape(z.shape)) ** 2, dim=1)
    else:
        Y = F.one_hot(torch.as_tensor(y), layers[-1]).to(z.dtype)
        if output == "softmax":
            losses = -torch.sum(Y * F.log_softmax(z, dim=1), dim=1)
        else:
            losses = -torch.sum(Y * F.logsigmoid(z) + (1 - Y) * F.logsigmoid(-z), dim=1)
    s = torch.ones(len(X), dtype=z.dtype) if weights is None else torch.as_tensor(weights)
    penalty = sum(torch.sum(t[:, 1:] ** 2) for t in thetas)
    return (s @ losses + lam / 2 * penalty) / torch.sum(s)


def torch_oracle(params, layers, X, y, lam, activation, output, weights, v):
    """(J, gradient, Hessian times v) by PyTorch autograd: the gradient, then the gradient of
    its dot product with v (double back-propagation)."""
    p = torch.tensor(params, requires_grad=True)
    J = torch_cost(p, layers, X, y, lam, activation, output, weights)
    (grad,) = torch.autograd.grad(J, p, create_graph=True)
    (hv,) = torch.autograd.grad(grad @ torch.as_tensor(v), p)
    return J.item(), grad.detach().numpy(), hv.numpy()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("layers", DEPTHS, ids=str)
@pytest.mark.parametrize("activation,output", PAIRS)
def test_cost_gradient_and_hessian_products_equal_torch_autograd(activation, output, layers,
                                                                sparse, weighted):
    """float64, both plans: J and the gradient to 1e-10 relative, H v (the R-operator) too."""
    params, X, y, s = task(layers, output)
    s = s if weighted else None
    v = np.random.default_rng(1).normal(size=params.size)
    J_torch, grad_torch, hv_torch = torch_oracle(params, layers, X, y, 0.4, activation, output,
                                                 s, v)
    X_in = sp.csr_matrix(X) if sparse else X
    units = dict(activation=activation, output=output, sample_weight=s)
    for plan in ("fused", "blas"):
        objective = fastnn.Objective.on(make_rows(layers, X_in, y, plan=plan, **units), 0.4)
        J, grad = objective(params)
        assert J == pytest.approx(J_torch, rel=1e-10)
        assert_close(grad, grad_torch, 1e-10)
        assert_close(objective.hessp(params, v), hv_torch, 1e-10)
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y, 0.4, **units)
    assert J == pytest.approx(J_ref, rel=1e-12) and J_ref == pytest.approx(J_torch, rel=1e-12)
    assert_close(grad_ref, grad_torch, 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("plan", ["fused", "blas"])
@pytest.mark.parametrize("activation,output", PAIRS)
def test_outputs_and_predictions_match_the_reference(activation, output, plan, dtype):
    layers = (9, 7, 5, 3)
    params, X, y, _ = task(layers, output, m=60, scale=2.0)
    rows = make_rows(layers, X, dtype=dtype, plan=plan, activation=activation, output=output)
    values = rows.forward(params, 0, layers[-1]).act
    expected = reference.outputs(params, layers, X, dtype, activation, output)
    np.testing.assert_allclose(values, expected, rtol=RTOL[dtype], atol=10 * RTOL[dtype])
    hidden = rows.forward(params, 0, sum(layers[1:])).act[:, :-layers[-1]]
    np.testing.assert_allclose(hidden, np.hstack(reference.forward(
        params, layers, X, dtype, activation, output)[1:-1]), rtol=RTOL[dtype],
        atol=10 * RTOL[dtype])
    units = dict(activation=activation, output=output)
    if output == "identity":
        np.testing.assert_array_equal(fastnn.predict(params, layers, X, dtype, **units),
                                      fastnn.outputs(params, layers, X, dtype, **units))
        with pytest.raises(ValueError, match="predict_proba needs class outputs"):
            fastnn.predict_proba(params, layers, X, **units)
        return
    proba = fastnn.predict_proba(params, layers, X, dtype, **units)
    np.testing.assert_allclose(proba, reference.predict_proba(params, layers, X, dtype,
                                                              activation, output),
                               rtol=RTOL[dtype], atol=10 * RTOL[dtype])
    np.testing.assert_array_equal(fastnn.predict(params, layers, X, dtype, **units),
                                  reference.predict(params, layers, X, dtype, activation))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("activation,output", PAIRS)
def test_float32_agrees_with_the_reference_to_its_precision(activation, output, sparse):
    layers = (9, 7, 5, 3)
    params, X, y, s = task(layers, output)
    X_in = sp.csr_matrix(X) if sparse else X
    units = dict(activation=activation, output=output, sample_weight=s)
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y, 0.4, **units)
    for plan in ("fused", "blas"):
        rows = make_rows(layers, X_in, y, np.float32, plan=plan, **units)
        J, grad = fastnn.Objective.on(rows, 0.4)(params)
        assert J == pytest.approx(J_ref, rel=RTOL[np.float32])
        assert_close(grad, grad_ref, RTOL[np.float32])


@pytest.mark.parametrize("plan", ["fused", "blas"])
@pytest.mark.parametrize("activation,output", PAIRS)
def test_integer_sample_weights_equal_repeated_rows(activation, output, plan):
    """scikit-learn's definition: a weight of k is the row k times (0: the row left out)."""
    layers = (9, 7, 5, 3)
    params, X, y, _ = task(layers, output)
    counts = np.random.default_rng(2).integers(0, 4, len(X))
    v = np.random.default_rng(3).normal(size=params.size)
    units = dict(activation=activation, output=output)
    weighted = fastnn.Objective.on(make_rows(layers, X, y, plan=plan, sample_weight=counts,
                                             **units), 0.4)
    repeated = fastnn.Objective.on(make_rows(layers, np.repeat(X, counts, axis=0),
                                             np.repeat(y, counts, axis=0), plan=plan, **units),
                                   0.4)
    (J_w, grad_w), (J_r, grad_r) = weighted(params), repeated(params)
    assert J_w == pytest.approx(J_r, rel=1e-12)
    assert_close(grad_w, grad_r, 1e-12)
    assert_close(weighted.hessp(params, v), repeated.hessp(params, v), 1e-12)


@pytest.mark.parametrize("method", ["incremental", "full"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("activation,output", PAIRS)
def test_the_checker_confirms_every_pair(activation, output, sparse, method):
    layers = (9, 7, 5, 3)
    params, X, y, s = task(layers, output, m=20)
    check = fastnn.check_gradients(params, layers, sp.csr_matrix(X) if sparse else X, y,
                                   lam=0.4, method=method, activation=activation,
                                   output=output, sample_weight=s)
    assert check.rel_diff < 1e-8
    wrong = check.analytical.copy()  # every parameter's: indices=None
    wrong[0] += 1e-3
    bad = fastnn.check_gradients(params, layers, X, y, lam=0.4, method=method,
                                 activation=activation, output=output, sample_weight=s,
                                 analytical=wrong)
    assert bad.worst == 0 and bad.max_abs_diff == pytest.approx(1e-3, rel=1e-3)


@pytest.mark.parametrize("plan", ["fused", "blas"])
@pytest.mark.parametrize("activation,output", PAIRS)
def test_saturated_units_give_finite_costs(activation, output, plan):
    """Weights of +-60 on inputs up to 3: tanh and sigmoids at +-1, ReLU and identity units
    in the thousands, softmax and sigmoid outputs at 0 and 1: J and the gradient stay finite
    and equal the reference's stable forms."""
    layers = (9, 7, 5, 3)
    params, X, y, _ = task(layers, output, scale=60.0)
    X *= 3
    rows = make_rows(layers, X, y, plan=plan, activation=activation, output=output)
    J, grad = fastnn.Objective.on(rows, 0.0)(params)
    assert np.isfinite(J) and np.isfinite(grad).all()
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y, 0.0, activation=activation,
                                          output=output)
    assert J == pytest.approx(J_ref, rel=1e-10)
    assert_close(grad, grad_ref, 1e-10)


def test_glorot_ranges_for_other_activations_and_the_course_range_for_logistic():
    layers = (400, 25, 10)
    course = fastnn.init_params(layers, seed=3)
    assert np.abs(course).max() <= 0.12 and np.abs(course).max() > 0.119
    np.testing.assert_array_equal(course, fastnn.init_params(layers, 3, activation="logistic"))
    for activation in ("tanh", "relu", "identity"):
        thetas = unpack(fastnn.init_params(layers, seed=3, activation=activation), layers)
        for theta, (n_in, n_out) in zip(thetas, [(400, 25), (25, 10)]):
            bound = np.sqrt(6 / (n_in + n_out))
            assert np.abs(theta).max() <= bound and np.abs(theta).max() > 0.95 * bound
    assert np.abs(fastnn.init_params(layers, 3, epsilon=0.5, activation="relu")).max() <= 0.5


@pytest.mark.parametrize("call,message", [
    (lambda X, y: fastnn.cost_grad(np.zeros(17), (3, 2, 3), X, y, activation="sigmoid"),
     "activation must be one of logistic, tanh, relu, identity; got 'sigmoid'"),
    (lambda X, y: fastnn.cost_grad(np.zeros(17), (3, 2, 3), X, y, output="tanh"),
     "output must be one of logistic, softmax, identity; got 'tanh'"),
    (lambda X, y: fastnn.cost_grad(np.zeros(17), (3, 2, 3), X, y, sample_weight=[1, 2]),
     "sample_weight must be a 1-D vector of 4 weights"),
    (lambda X, y: fastnn.cost_grad(np.zeros(17), (3, 2, 3), X, y, sample_weight=[1, -1, 1, 1]),
     "sample_weight must be >= 0"),
    (lambda X, y: fastnn.cost_grad(np.zeros(17), (3, 2, 3), X, y,
                                   sample_weight=[1, np.nan, 1, 1]),
     "sample_weight must be finite"),
    (lambda X, y: fastnn.cost_grad(np.zeros(17), (3, 2, 3), X, y, sample_weight=np.zeros(4)),
     "sample_weight must not be all zero"),
    (lambda X, y: fastnn.cost_grad(np.zeros(17), (3, 2, 3), X, np.ones((4, 2)),
                                   output="identity"),
     r"y must hold \(m, 3\) real targets"),
    (lambda X, y: fastnn.cost_grad(np.zeros(17), (3, 2, 3), X, [0, 1, np.inf, 0],
                                   output="identity"),
     "y must hold"),
    (lambda X, y: fastnn.init_params((3, 2, 3), activation="softmax"),
     "activation must be one of"),
])
def test_bad_units_targets_and_weights_are_refused_by_name(call, message):
    X, y = np.eye(4, 3), np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match=message):
        call(X, y)


def test_one_output_regression_takes_a_vector_of_targets():
    params, X, _, _ = task((9, 6, 1), "identity")
    y = X[:, 0] - X[:, 1]
    J, grad = fastnn.cost_grad(params, (9, 6, 1), X, y, activation="tanh", output="identity")
    J_col, grad_col = fastnn.cost_grad(params, (9, 6, 1), X, y[:, None], activation="tanh",
                                       output="identity")
    assert J == J_col and np.array_equal(grad, grad_col)
    assert J == pytest.approx(reference.cost_grad(params, (9, 6, 1), X, y, activation="tanh",
                                                  output="identity")[0], rel=1e-12)
