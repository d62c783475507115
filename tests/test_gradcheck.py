"""The gradient checker: both methods against each other and against backprop."""

import numpy as np
import pytest

import fastnn
from conftest import DTYPES, problem, sparse_problem

NETWORKS = [(6, 5), (6, 5, 4), (7, 6, 5, 3)]  # depths 2, 3 and 4
# Central differences in float32 carry the rounding of float32 sums over the rows: a larger
# step keeps that noise small next to the difference, and the bars are looser.
EPS = {np.float64: 1e-4, np.float32: 1e-2}
AGREE = {np.float64: 1e-8, np.float32: 1e-3}
VS_BACKPROP = {np.float64: 1e-9, np.float32: 1e-3}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("layers", NETWORKS, ids=str)
def test_methods_agree_with_each_other_and_backprop(layers, dtype):
    params, X, y = sparse_problem(layers, 30, seed=0, scale=0.5)
    kwargs = dict(lam=1.5, dtype=dtype, eps=EPS[dtype])
    inc = fastnn.check_gradients(params, layers, X, y, method="incremental", **kwargs)
    full = fastnn.check_gradients(params, layers, X, y, method="full", **kwargs)
    diff = np.linalg.norm(inc.numerical - full.numerical) / np.linalg.norm(full.numerical)
    assert diff < AGREE[dtype]
    assert inc.rel_diff < VS_BACKPROP[dtype] and full.rel_diff < VS_BACKPROP[dtype]
    np.testing.assert_array_equal(inc.indices, np.arange(fastnn.n_params(layers)))


@pytest.mark.parametrize("lam", [0.0, 3.0])
def test_classic_small_check(lam):
    check = fastnn.check_nn_gradients(lam)
    assert check.numerical.shape == (fastnn.n_params((3, 5, 3)),)
    assert check.rel_diff < 1e-9


@pytest.mark.parametrize("method", ["incremental", "full"])
def test_a_wrong_gradient_is_caught_and_located(method):
    layers = (6, 5, 4)
    params, X, y = sparse_problem(layers, 30, seed=0, scale=0.5)
    _, good = fastnn.cost_grad(params, layers, X, y, lam=1.0)
    bad = good.copy()
    bad[17] += 1e-3  # a bug in one component
    check = fastnn.check_gradients(params, layers, X, y, lam=1.0, method=method, analytical=bad)
    assert check.worst == 17
    assert check.max_abs_diff == pytest.approx(1e-3, rel=1e-4)
    assert check.rel_diff > 1e-5


@pytest.mark.jit
def test_subset_checks_are_reproducible_with_a_seed(digits):
    X, y = digits
    layers = (400, 25, 10)
    params = fastnn.init_params(layers, seed=0)
    a = fastnn.check_gradients(params, layers, X, y, lam=1.0, indices=40, seed=7)
    b = fastnn.check_gradients(params, layers, X, y, lam=1.0, indices=40, seed=7)
    c = fastnn.check_gradients(params, layers, X, y, lam=1.0, indices=40, seed=8)
    assert a.indices.size == 40 and len(set(a.indices)) == 40
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.numerical, b.numerical)
    assert not np.array_equal(a.indices, c.indices)
    assert a.rel_diff < 1e-9  # the full-size network, on real digits


def test_explicit_indices_match_the_whole_check():
    layers = (6, 5, 4)
    params, X, y = sparse_problem(layers, 30, seed=0, scale=0.5)
    whole = fastnn.check_gradients(params, layers, X, y)
    some = fastnn.check_gradients(params, layers, X, y, indices=[3, 30, 50])
    np.testing.assert_array_equal(some.numerical, whole.numerical[[3, 30, 50]])


@pytest.mark.parametrize("kwargs, error, message", [
    ({"eps": 0.0}, ValueError, "eps must be finite and > 0"),
    ({"eps": np.nan}, ValueError, "eps must be finite and > 0"),
    ({"method": "fast"}, ValueError, "method must be"),
    ({"indices": 0}, ValueError, "indices as a count must be between 1 and"),
    ({"indices": [0, 10**6]}, ValueError, "indices must lie in"),
    ({"indices": [0.5]}, TypeError, "indices must be None, a count"),
    ({"analytical": np.zeros(3)}, ValueError, "analytical must be a 1-D vector of length"),
    ({"lam": -1}, ValueError, "lam must be finite"),
])
def test_bad_arguments(kwargs, error, message):
    layers = (4, 3, 2)
    params, X, y = problem(layers, 5)
    with pytest.raises(error, match=message):
        fastnn.check_gradients(params, layers, X, y, **kwargs)
