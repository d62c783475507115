"""The Numba kernels against the numpy reference, over dtypes, depths and batch sizes."""

import threading

import numpy as np
import pytest
from scipy.special import expit

import fastnn
from fastnn import kernels, reference
from conftest import DTYPES, RTOL, problem

NETWORKS = [(4, 3), (5, 1, 2), (7, 6, 5), (9, 8, 7, 3), (3, 4, 5, 6, 2), (30, 25, 10)]
BATCHES = [1, 7, 8, 9, 203]  # 8 rows make a group: below, at and off a multiple of it


def assert_close(actual, expected, rtol):
    """Norm-wise relative agreement, fair to gradient entries near zero."""
    assert np.linalg.norm(actual - expected) <= rtol * np.linalg.norm(expected)


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
def test_predict_matches_reference(dtype, layers, m):
    params, X, _ = problem(layers, m, seed=m)
    proba = fastnn.predict_proba(params, layers, X, dtype=dtype)
    expected = reference.predict_proba(params, layers, X)
    assert proba.dtype == dtype and proba.shape == (m, layers[-1])
    assert_close(proba, expected, RTOL[dtype])
    if dtype == np.float64:
        np.testing.assert_array_equal(fastnn.predict(params, layers, X), expected.argmax(axis=1))


def sparse_problem(layers, m, seed):
    """Mostly-zero inputs, as digit images are: the first layer reads only the columns where
    one of four rows is non-zero. Blank rows (a whole four among them), blank columns and
    negative values included."""
    params, X, y = problem(layers, m, seed=seed)
    X[np.random.default_rng(seed).random(X.shape) < 0.75] = 0
    X[3:9] = 0
    X[:, ::3] = 0
    X[20] = -X[21]
    return params, X, y


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("layers", [(12, 5, 3), (30, 25, 10), (13, 9, 17, 4)], ids=str)
def test_sparse_inputs_match_reference(dtype, layers):
    params, X, y = sparse_problem(layers, 37, seed=5)
    J, grad = fastnn.cost_grad(params, layers, X, y, lam=0.3, dtype=dtype)
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y, lam=0.3)
    assert J == pytest.approx(J_ref, rel=RTOL[dtype])
    assert_close(grad, grad_ref, RTOL[dtype])
    assert_close(fastnn.predict_proba(params, layers, X, dtype=dtype),
                 reference.predict_proba(params, layers, X), RTOL[dtype])
    v = np.random.default_rng(6).standard_normal(params.size)
    hv = fastnn.Objective(layers, X, y, 0.3, dtype=dtype).hessp(params, v)
    eps = 1e-5
    numerical = (reference.cost_grad(params + eps * v, layers, X, y, 0.3)[1]
                 - reference.cost_grad(params - eps * v, layers, X, y, 0.3)[1]) / (2 * eps)
    assert_close(hv, numerical, 1e-8 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("m", [1, 4, 5, 37])
def test_nonzero_columns_are_the_union_over_blocks_of_four_rows(m):
    X = sparse_problem((30, 25, 10), 37, seed=1)[1][:m]
    starts, cols = kernels.nonzero_columns(X)
    assert starts.shape == (2 * -(-m // 8) + 1,) and starts[0] == 0  # two blocks a group
    for b in range(starts.size - 1):
        block = X[np.minimum(np.arange(4 * b, 4 * b + 4), m - 1)]  # last rows clamped
        np.testing.assert_array_equal(cols[starts[b]:starts[b + 1]],
                                      np.flatnonzero((block != 0).any(axis=0)))


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


@pytest.mark.parametrize("z", [-800.0, -30.0, -1.0, 0.0, 0.5, 30.0, 800.0])
def test_scalar_kernels_match_scipy(z):
    assert kernels.sigmoid(z) == pytest.approx(expit(z), rel=1e-15, abs=1e-300)
    a = expit(z)
    assert kernels.sigmoid_gradient_from_activation(a) == pytest.approx(
        reference.sigmoid_gradient(z), rel=1e-14, abs=1e-300)


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


def test_python_threads_at_once_match_serial_calls():
    layers = (20, 8, 5)
    params, X, y = problem(layers, 500)
    serial = [fastnn.cost_grad(params + i, layers, X, y, 1.0) for i in range(4)]
    labels = fastnn.predict(params, layers, X)
    results = [None] * 4

    def work(i):
        for _ in range(5):
            results[i] = (fastnn.cost_grad(params + i, layers, X, y, 1.0),
                          fastnn.predict(params, layers, X))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, ((J, grad), pred) in enumerate(results):
        assert J == serial[i][0]
        np.testing.assert_array_equal(grad, serial[i][1])
        np.testing.assert_array_equal(pred, labels)
