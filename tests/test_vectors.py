"""The vector intrinsics of fastnn.kernels.vectors against scipy, lane by lane, over the float
range."""

import numpy as np
import pytest
from scipy.special import expit, log_expit

from fastnn._isa import VECTOR_BYTES
from fastnn._jit import kernel
from fastnn.kernels.vectors import (lanes, vabs, vadd, vcompress, vdiv, vexp, vfma, vload, vlog,
                                    vlog_loss, vmax, vmul, vsigmoid, vsplat, vstep, vstore, vsub,
                                    vsum, vtanh)
from conftest import DTYPES


@kernel()
def _each_vector(op, a, b, out, out2):
    """out (and out2) from a and b a vector at a time: op 0 sigmoid, 1 log loss, 2 fma/add/mul,
    3 tanh and step, 4 exp of -|a| and log of 1 + |a|, 5 sub/div and max."""
    for i in range(0, a.shape[0], lanes(a)):
        x, t = vload(a, i), vload(b, i)
        if op == 0:
            vstore(out, i, vsigmoid(x))
        elif op == 1:
            loss, residual = vlog_loss(x, t)
            vstore(out, i, loss)
            vstore(out2, i, residual)
        elif op == 2:
            vstore(out, i, vfma(x, t, vsplat(2.0, a)))
            vstore(out2, i, vadd(vmul(x, t), x))
        elif op == 3:
            vstore(out, i, vtanh(x))
            vstore(out2, i, vstep(x))
        elif op == 4:
            magnitude = vmax(x, vsub(vsplat(0.0, a), x))
            vstore(out, i, vexp(vsub(vsplat(0.0, a), magnitude)))
            vstore(out2, i, vlog(vadd(vsplat(1.0, a), magnitude)))
        else:
            vstore(out, i, vsub(x, t))
            vstore(out2, i, vdiv(vmax(x, t), t))


def grid(dtype):
    """Every regime of z: saturated both ways, underflow edges, zeros, ordinary values."""
    z = np.concatenate([np.linspace(-800, 800, 4001), [0.0, -0.0, 1e-300, -1e-300, 1e-30],
                        np.random.default_rng(0).standard_normal(997) * 8])
    z = z.astype(dtype)
    return np.concatenate([z, np.zeros(-z.size % 16, dtype)])  # whole vectors


def run(op, a, b):
    out, out2 = np.full_like(a, np.nan), np.full_like(a, np.nan)
    _each_vector(op, a, b, out, out2)
    return out, out2


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_sigmoid_within_a_few_ulp(dtype):
    z = grid(dtype)
    s, _ = run(0, z, z)
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).tiny
    # below exp's normal range (z < -708 in float64, -87 in float32) the result is exactly 0
    np.testing.assert_allclose(s, expit(z.astype(np.float64)), rtol=4 * eps, atol=2 * tiny)
    assert np.all((s >= 0) & (s <= 1)) and np.all(np.diff(s[:4001]) >= 0)


def test_log_loss_and_residual_match_scipy():
    z = grid(np.float64)
    for target in (1.0, 0.0):
        loss, residual = run(1, z, np.full_like(z, target))
        np.testing.assert_allclose(loss, -log_expit(z if target else -z), rtol=1e-14, atol=1e-300)
        # sigma(z) - 1 is -sigma(-z): exact, not 1 - 1 = 0, for large z
        expected = -expit(-z) if target else expit(z)
        np.testing.assert_allclose(residual, expected, rtol=1e-14, atol=1e-300)
        assert np.all(np.isfinite(loss))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_arithmetic_lane_by_lane(dtype):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 64)).astype(dtype)
    fma, add_mul = run(2, a, b)
    x, y = a.astype(np.longdouble), b.astype(np.longdouble)
    bound = 2 * np.finfo(dtype).eps * (np.abs(x * y) + 2 + np.abs(x))  # rounding, fused or not
    assert np.all(np.abs(fma - (x * y + 2)) <= bound)
    assert np.all(np.abs(add_mul - (x * y + x)) <= bound)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_tanh_and_step_within_a_few_ulp(dtype):
    z = grid(dtype)
    t, step = run(3, z, z)
    eps = np.finfo(dtype).eps
    # tanh from exp(-2|z|): an absolute error of a few ulp of 1 near 0, relative elsewhere
    np.testing.assert_allclose(t, np.tanh(z.astype(np.float64)), rtol=4 * eps, atol=4 * eps)
    assert np.all(np.abs(t) <= 1) and np.all(np.diff(t[:4001]) >= 0)
    np.testing.assert_array_equal(step, (z > 0).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_exp_of_non_positive_and_log_of_at_least_one_within_a_few_ulp(dtype):
    z = grid(dtype)
    e, log = run(4, z, z)
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).tiny
    np.testing.assert_allclose(e, np.exp(-np.abs(z.astype(np.float64))), rtol=4 * eps,
                               atol=2 * tiny)
    given = (dtype(1) + np.abs(z)).astype(np.float64)  # the argument vlog had, rounded
    np.testing.assert_allclose(log, np.log(given), rtol=4 * eps, atol=eps)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_sub_div_and_max_lane_by_lane(dtype):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 64)).astype(dtype)
    difference, ratio = run(5, a, b)
    np.testing.assert_array_equal(difference, a - b)
    np.testing.assert_array_equal(ratio, np.maximum(a, b) / b)


@kernel()
def _compress_each_vector(a, cols):
    """|a| a vector at a time: the indices of its positive lanes compressed into cols, and
    each vector's sum. Returns ``(count, sums)``."""
    n, L = 0, lanes(a)
    sums = np.empty(a.shape[0] // L, a.dtype)
    for i in range(0, a.shape[0], L):
        v = vabs(vload(a, i))
        n += vcompress(v, i, cols, n)
        sums[i // L] = vsum(v)
    return n, sums


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_abs_compress_and_sum_lane_by_lane(dtype):
    """The column search's intrinsics: a nan lane is not positive (left out), zeros of
    either sign are left out, every other lane kept in order; sums of |a| per vector."""
    a = grid(dtype)
    a[::7], a[5], a[3] = 0, -0.0, np.nan
    cols = np.full(a.size, -1, np.int32)
    n, sums = _compress_each_vector(a, cols)
    np.testing.assert_array_equal(cols[:n], np.flatnonzero(np.abs(a) > 0))
    by_vector = np.abs(a.astype(np.float64)).reshape(-1, VECTOR_BYTES // a.itemsize).sum(1)
    np.testing.assert_allclose(sums, by_vector, rtol=4 * np.finfo(dtype).eps)
