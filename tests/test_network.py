"""The public network API against the numpy reference: cost_grad, Objective (and hessp),
outputs, predict_proba and predict, over dtypes, depths and batch sizes."""


import numpy as np
import pytest

import fastnn
from fastnn import reference
from conftest import DTYPES, RTOL, assert_close, peak_memory_growth, problem, sparse_problem

NETWORKS = [(4, 3), (5, 1, 2), (7, 6, 5), (9, 8, 7, 3), (3, 4, 5, 6, 2), (30, 25, 10)]
BATCHES = [1, 7, 8, 9, 203]  # 8 rows make a group: below, at and off a multiple of it


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("layers", NETWORKS, ids=str)
@pytest.mark.parametrize("m", BATCHES)
def test_cost_grad_matches_reference(dtype, layers, m):
    params, X, y = problem(layers, m, seed=m)
    J, grad = fastnn.cost_grad(params, layers, X, y, lam=0.7, dtype=dtype)
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y, lam=0.7)
    assert type(J) is float and grad.dtype == np.float64 and grad.shape == params.shape
    assert J == pytest.approx(J_ref, rel=RTOL[dtype])
    assert_close(grad, grad_ref, RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("layers", NETWORKS, ids=str)
@pytest.mark.parametrize("m", BATCHES)
def test_outputs_and_predict_match_reference(dtype, layers, m):
    params, X, _ = problem(layers, m, seed=m)
    h = fastnn.outputs(params, layers, X, dtype=dtype)
    expected = reference.outputs(params, layers, X)
    assert h.dtype == dtype and h.shape == (m, layers[-1])
    assert_close(h, expected, RTOL[dtype])
    if dtype == np.float64:
        np.testing.assert_array_equal(fastnn.predict(params, layers, X), expected.argmax(axis=1))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_predict_proba_is_the_outputs_scaled_to_sum_to_one(dtype):
    layers = (7, 6, 5)
    params, X, _ = problem(layers, 40, scale=3.0)
    proba = fastnn.predict_proba(params, layers, X, dtype=dtype)
    assert proba.dtype == np.float64 and proba.shape == (40, 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_close(proba, reference.predict_proba(params, layers, X), RTOL[dtype])
    np.testing.assert_array_equal(proba.argmax(axis=1), fastnn.predict(params, layers, X, dtype))


def test_predict_proba_keeps_proportions_when_every_output_underflows():
    """Outputs sigma(z) with z near -800 are 0 in float64; their ratios are e^(z_k - z_j)."""
    layers = (1, 3)
    params = np.array([-800.0, 0.0, -801.0, 0.0, -802.0, 0.0])  # biases only, row-major
    assert not fastnn.outputs(params, layers, [[1.0]]).any()
    np.testing.assert_allclose(fastnn.predict_proba(params, layers, [[1.0]])[0],
                               np.exp([0.0, -1.0, -2.0]) / np.exp([0.0, -1.0, -2.0]).sum())


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("layers", [(12, 5, 3), (30, 25, 10), (13, 9, 17, 4)], ids=str)
def test_sparse_inputs_match_reference(dtype, layers):
    params, X, y = sparse_problem(layers, 37, seed=5)
    J, grad = fastnn.cost_grad(params, layers, X, y, lam=0.3, dtype=dtype)
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y, lam=0.3)
    assert J == pytest.approx(J_ref, rel=RTOL[dtype])
    assert_close(grad, grad_ref, RTOL[dtype])
    assert_close(fastnn.outputs(params, layers, X, dtype=dtype),
                 reference.outputs(params, layers, X), RTOL[dtype])
    v = np.random.default_rng(6).standard_normal(params.size)
    hv = fastnn.Objective(layers, X, y, 0.3, dtype=dtype).hessp(params, v)
    eps = 1e-5
    numerical = (reference.cost_grad(params + eps * v, layers, X, y, 0.3)[1]
                 - reference.cost_grad(params - eps * v, layers, X, y, 0.3)[1]) / (2 * eps)
    assert_close(hv, numerical, 1e-8 if dtype == np.float64 else 1e-5)



@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("m", [1, 6, 37, 203])
def test_columns_found_once_give_the_bits_of_columns_found_per_call(dtype, m):
    """Objective finds X's non-zero columns once, cost_grad group by group: same sums."""
    layers = (30, 25, 10)
    params, X, y = sparse_problem(layers, 203, seed=m)
    X, y = X[:m], y[:m]
    J, grad = fastnn.Objective(layers, X, y, 0.3, dtype=dtype)(params)
    J_found, grad_found = fastnn.cost_grad(params, layers, X, y, 0.3, dtype=dtype)
    assert J == J_found
    np.testing.assert_array_equal(grad, grad_found)


@pytest.mark.jit
def test_full_size_digits_match_reference(digits):
    X, y = digits
    layers = (400, 25, 10)
    params = fastnn.init_params(layers, seed=3)
    J, grad = fastnn.cost_grad(params, layers, X, y, lam=1.0)
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y, lam=1.0)
    assert J == pytest.approx(J_ref, rel=1e-12)
    assert_close(grad, grad_ref, 1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_saturated_units_give_finite_cost_matching_reference(dtype):
    layers = (6, 5, 4)
    params, X, y = problem(layers, 40, scale=50.0)
    J, grad = fastnn.cost_grad(params, layers, X, y, dtype=dtype)
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y)
    assert np.isfinite(J) and np.isfinite(grad).all() and J > 10
    assert J == pytest.approx(J_ref, rel=RTOL[dtype])
    assert_close(grad, grad_ref, RTOL[dtype])


def test_each_call_returns_a_fresh_gradient():
    layers = (4, 3, 2)
    params, X, y = problem(layers, 10)
    obj = fastnn.Objective(layers, X, y)
    J1, g1 = obj(params)
    keep = g1.copy()
    J2, g2 = obj(params + 0.1)
    assert g1 is not g2 and not np.shares_memory(g1, g2)
    np.testing.assert_array_equal(g1, keep)


def test_objective_keeps_its_own_copy_of_X():
    layers = (6, 5, 4)
    params, X, y = problem(layers, 20)
    obj = fastnn.Objective(layers, X, y)
    J, grad = obj(params)
    X[:] = 0  # the caller's arrays change; the objective's data must not
    y[:] = 0
    J_after, grad_after = obj(params)
    assert J_after == J
    np.testing.assert_array_equal(grad_after, grad)


def test_one_class_network():
    layers = (3, 2, 1)
    params, X, _ = problem(layers, 5)
    y = np.zeros(5, int)
    J, grad = fastnn.cost_grad(params, layers, X, y, lam=0.0)
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y)
    assert J == pytest.approx(J_ref, rel=1e-12)
    assert_close(grad, grad_ref, 1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("layers", [(5, 4), (6, 5, 4), (7, 6, 5, 3)], ids=str)
def test_hessp_matches_differences_of_the_gradient(layers, dtype):
    params, X, y = problem(layers, 23, scale=0.7)
    v = np.random.default_rng(1).standard_normal(params.size)
    hv = fastnn.Objective(layers, X, y, 0.9, dtype=dtype).hessp(params, v)
    exact = fastnn.Objective(layers, X, y, 0.9)
    eps = 1e-5
    numerical = (exact(params + eps * v)[1] - exact(params - eps * v)[1]) / (2 * eps)
    tol = 1e-8 if dtype == np.float64 else 1e-5
    assert np.linalg.norm(hv - numerical) <= tol * np.linalg.norm(numerical)
    assert hv.dtype == np.float64


def test_hessp_is_symmetric_and_linear():
    layers = (6, 5, 4)
    params, X, y = problem(layers, 40)
    obj = fastnn.Objective(layers, X, y, 2.0)
    rng = np.random.default_rng(2)
    u, v = rng.standard_normal((2, params.size))
    hu, hv = obj.hessp(params, u), obj.hessp(params, v)
    assert u @ hv == pytest.approx(v @ hu, rel=1e-10)
    np.testing.assert_allclose(obj.hessp(params, 2 * u - 3 * v), 2 * hu - 3 * hv,
                               rtol=1e-9, atol=1e-12 * np.abs(hu).max())


@pytest.mark.jit
def test_large_batches_use_bounded_extra_memory():
    setup = """
import numpy as np, fastnn
m, n = 200_000, 400
X = np.empty((m, n))
rng = np.random.default_rng(0)
for i in range(0, m, 1000):  # filled in place: no temporary as large as X
    X[i:i + 1000] = rng.random((1000, n))
y = rng.integers(0, 10, m)
layers = (n, 25, 10)
p = fastnn.init_params(layers, 0)
fastnn.cost_grad(p, layers, X[:9], y[:9]); fastnn.predict(p, layers, X[:9])  # compiled
"""
    cost, predict = peak_memory_growth(setup, ["J, g = fastnn.cost_grad(p, layers, X, y, 1.0)",
                                               "labels = fastnn.predict(p, layers, X)"])
    x_bytes = 200_000 * 400 * 8
    assert cost <= 0.05 * x_bytes  # the kernels keep no (m x n) temporaries
    assert predict <= 0.10 * x_bytes  # predict returns (m, 10) floats and (m,) labels


@pytest.mark.parametrize("dtype, low, high", [(np.float64, 40.0, 50.0), (np.float32, 20.0, 30.0)],
                         ids=["f64", "f32"])
def test_every_label_tells_saturated_outputs_apart(dtype, low, high, tmp_path):
    """sigma(low) and sigma(high) round to the same 1.0 in dtype: the label is the unit of the
    larger z (not the first of the tied sigmoids) in predict, Model, the estimator and the
    reference. Row 0 turns on hidden unit 0, which lifts output 1 to z = high; row 1 turns on
    hidden unit 1, which lifts output 2."""
    layers = (2, 2, 3)
    hidden = np.array([[-50.0, 100.0, 0.0], [-50.0, 0.0, 100.0]])  # sigma(+-50): 1.0 and ~0
    out = np.array([[low, 0.0, 0.0], [low, high - low, 0.0], [low, 0.0, high - low]])
    params, X = fastnn.pack([hidden, out]), np.eye(2)
    h = fastnn.outputs(params, layers, X, dtype=dtype)
    assert h[0, 0] == h[0, 1] == h[1, 0] == h[1, 2] == 1.0  # tied where it matters
    np.testing.assert_array_equal(fastnn.predict(params, layers, X, dtype=dtype), [1, 2])
    np.testing.assert_array_equal(reference.predict(params, layers, X, dtype=dtype), [1, 2])
    fastnn.save_model(tmp_path / "m.npz", params, layers, dtype=np.dtype(dtype).name,
                      labels=["a", "b", "c"])
    np.testing.assert_array_equal(fastnn.load_model(tmp_path / "m.npz").predict(X), ["b", "c"])
    clf = fastnn.NeuralNetClassifier(hidden_layer_sizes=(2,), max_iter=1, dtype=dtype)
    clf.fit(np.vstack([X, X[:1]]), ["a", "b", "c"])
    clf.params_ = params  # the fitted network replaced by the saturated one
    np.testing.assert_array_equal(clf.predict(X), ["b", "c"])
