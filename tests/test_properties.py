"""Properties that must hold for any network and data, searched for with hypothesis."""

import numpy as np
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import reference
from conftest import DTYPES, RTOL, assert_close

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def problems(draw):
    """Depth 2-5, widths 1-40, 1-300 rows, lambda in [0, 10], either dtype and memory order,
    weights up to +-50 (saturated units)."""
    layers = tuple(draw(st.lists(st.integers(1, 40), min_size=2, max_size=5)))
    m = draw(st.integers(1, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.3, 3.0, 50.0]))
    params = rng.uniform(-scale, scale, fastnn.n_params(layers))
    X = rng.random((m, layers[0]))
    if draw(st.booleans()):
        X = np.asfortranarray(X)
    y = rng.integers(0, layers[-1], m)
    lam = draw(st.floats(0, 10))
    return params, layers, X, y, lam, draw(st.sampled_from(DTYPES))


# float32 cannot hold values far below 1e-7 of the O(1) terms next to them (a saturated
# output's 1e-70 is 0 there): an absolute floor besides the relative tolerance.
ATOL = {np.float64: 0.0, np.float32: 1e-6}
# Where a row's result may change with the batch it is in (the BLAS plan: a row's place in a
# tile changes BLAS's rounding of its z by an ulp), float32 gradients of saturated deep nets
# agree only as well as float32 computes them at all: both plans' worst relative error against
# the float64 reference over 300 such problems was 3.3e-4.
BATCH_RTOL = {np.float64: 1e-11, np.float32: 1e-3}


@SETTINGS
@given(problems())
def test_matches_reference_and_cost_is_nonnegative(problem):
    params, layers, X, y, lam, dtype = problem
    J, grad = fastnn.cost_grad(params, layers, X, y, lam, dtype=dtype)
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y, lam)
    assert np.isfinite(J) and np.isfinite(grad).all() and J >= 0
    # With weights up to +-50, float32 rounding of X and of the products moves z by ~1e-4:
    # a tenfold looser bar there. float64 keeps its bar everywhere.
    saturated = dtype == np.float32 and np.abs(params).max() > 10
    tol = RTOL[dtype] * (10 if saturated else 1), ATOL[dtype]
    assert_close(J, J_ref, *tol)
    assert_close(grad, grad_ref, *tol)
    proba = fastnn.predict_proba(params, layers, X, dtype=dtype)
    assert_close(proba, reference.predict_proba(params, layers, X), *tol)


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_row_order_changes_nothing(problem, random):
    params, layers, X, y, lam, dtype = problem
    perm = np.array(random.sample(range(len(y)), len(y)))
    J, grad = fastnn.cost_grad(params, layers, X, y, lam, dtype=dtype)
    J_p, grad_p = fastnn.cost_grad(params, layers, X[perm], y[perm], lam, dtype=dtype)
    # summation order differs, and on the BLAS plan a row's place in a tile (BATCH_RTOL)
    tol = BATCH_RTOL[dtype]
    assert_close(J_p, J, tol, ATOL[dtype])
    assert_close(grad_p, grad, tol, ATOL[dtype])
    np.testing.assert_array_equal(fastnn.predict(params, layers, X[perm], dtype=dtype),
                                  fastnn.predict(params, layers, X, dtype=dtype)[perm])


@SETTINGS
@given(problems())
def test_a_batch_is_the_weighted_sum_of_its_halves(problem):
    params, layers, X, y, lam, dtype = problem
    m = len(y)
    if m < 2:
        return
    h = m // 2
    J, grad = fastnn.cost_grad(params, layers, X, y, lam, dtype=dtype)
    # m J(all; lam) = h J(first; lam h/m) + (m-h) J(second; lam (m-h)/m)
    J1, g1 = fastnn.cost_grad(params, layers, X[:h], y[:h], lam * h / m, dtype=dtype)
    J2, g2 = fastnn.cost_grad(params, layers, X[h:], y[h:], lam * (m - h) / m, dtype=dtype)
    # a row's z may round an ulp apart in another batch (BATCH_RTOL); sums of m rows:
    # float32's floor (ATOL, per row) grows with m
    tol = BATCH_RTOL[dtype]
    assert_close(h * J1 + (m - h) * J2, m * J, tol, m * ATOL[dtype])
    assert_close(h * g1 + (m - h) * g2, m * grad, tol, m * ATOL[dtype])
