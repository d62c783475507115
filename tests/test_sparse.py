"""scipy.sparse X: every entry point against the same X dense, odd structures, bad input."""


import numpy as np
import pytest
import scipy.sparse as sp

import fastnn
from fastnn.rows import choose_plan
from conftest import DTYPES, assert_close, peak_memory_growth
from conftest import REORDERED_RTOL as RTOL

# Sparse rows are summed over their own columns: the forward pass gives the dense path's bits,
# gradients add a row at a time (the dense pass adds a group's eight rows' products first): RTOL is
# conftest's REORDERED_RTOL.
# fused (the first layer skips zeros) and BLAS (a layer of 402 000 weights: the plan of both
# cost_grad and predictions unless a core's L2 holds 5.8 MB, or 2.9 MB in float32) plans
NETS = [(40, 9, 4), (200, 2000, 4), (12, 6, 3)]


def csr_problem(layers, m=203, density=0.15, seed=0):
    """A CSR X ``(m, s1)`` with empty rows and an explicit zero, labels, parameters."""
    rng = np.random.default_rng(seed)
    X = sp.random(m, layers[0], density=density, format="csr", random_state=seed,
                  data_rvs=lambda n: rng.normal(size=n) * 2)
    X = X.tolil()
    X[5, :] = 0  # an empty row
    X = X.tocsr()
    X.data[0] = 0.0  # an explicit zero, kept in the structure
    return X, rng.integers(0, layers[-1], m), fastnn.init_params(layers, seed, epsilon=1.0)


def test_the_nets_run_both_plans():
    for forward in (False, True):
        assert {choose_plan(layers, forward=forward) for layers in NETS} == {"fused", "blas"}


def close(sparse, dense, dtype):
    assert_close(sparse, dense, RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layers", NETS)
def test_every_entry_point_matches_dense(layers, dtype):
    X, y, p = csr_problem(layers)
    D = X.toarray()
    close(fastnn.cost_grad(p, layers, X, y, 0.7, dtype)[1],
          fastnn.cost_grad(p, layers, D, y, 0.7, dtype)[1], dtype)
    assert fastnn.cost_grad(p, layers, X, y, 0.7, dtype)[0] == pytest.approx(
        fastnn.cost_grad(p, layers, D, y, 0.7, dtype)[0], rel=RTOL[dtype])
    obj = fastnn.Objective(layers, X, y, 0.7, dtype)
    ref = fastnn.Objective(layers, D, y, 0.7, dtype)
    assert obj.plan == ref.plan
    close(obj(p)[1], ref(p)[1], dtype)
    v = np.random.default_rng(1).normal(size=p.size)
    close(obj.hessp(p, v), ref.hessp(p, v), dtype)
    np.testing.assert_array_equal(fastnn.predict(p, layers, X, dtype),
                                  fastnn.predict(p, layers, D, dtype))
    close(fastnn.predict_proba(p, layers, X, dtype), fastnn.predict_proba(p, layers, D, dtype),
          dtype)
    close(fastnn.outputs(p, layers, X, dtype), fastnn.outputs(p, layers, D, dtype), dtype)


@pytest.mark.parametrize("method", ["full", "incremental"])
def test_gradient_check_of_sparse_input(method):
    layers = (40, 9, 4)
    X, y, p = csr_problem(layers, m=40)
    sparse = fastnn.check_gradients(p, layers, X, y, lam=0.5, indices=60, method=method)
    dense = fastnn.check_gradients(p, layers, X.toarray(), y, lam=0.5, indices=60,
                                   method=method)
    assert sparse.rel_diff < 1e-8
    np.testing.assert_allclose(sparse.numerical, dense.numerical, rtol=1e-9, atol=1e-12)


@pytest.mark.jit
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_pass_gives_the_dense_bits(digits, dtype):
    """The sparse first layer adds each row's products in the dense pass's order."""
    X, y = digits
    layers, p = (400, 25, 10), fastnn.init_params((400, 25, 10), 0)
    S = sp.csr_matrix(X[:300])
    np.testing.assert_array_equal(fastnn.outputs(p, layers, S, dtype),
                                  fastnn.outputs(p, layers, X[:300], dtype))
    assert (fastnn.Objective(layers, S, y[:300], 1.0, dtype)(p)[0] ==
            fastnn.Objective(layers, X[:300], y[:300], 1.0, dtype)(p)[0])


def odd_structures(X):
    """The same matrix as CSC, COO, with int64 indices, unsorted indices, split into
    duplicate entries (which scipy sums), as a csr_array, and with integer data."""
    unsorted = X.copy()
    for i in range(X.shape[0]):  # reverse each row's entries
        lo, hi = unsorted.indptr[i], unsorted.indptr[i + 1]
        unsorted.indices[lo:hi] = unsorted.indices[lo:hi][::-1].copy()
        unsorted.data[lo:hi] = unsorted.data[lo:hi][::-1].copy()
    unsorted.has_sorted_indices = False
    coo = X.tocoo()
    parts = [(X.indices[lo:hi], X.data[lo:hi]) for lo, hi in zip(X.indptr, X.indptr[1:])]
    twice = sp.csr_matrix((np.concatenate([np.concatenate([d * 0.25, d * 0.75]) for _, d in parts]),
                           np.concatenate([np.concatenate([i, i]) for i, _ in parts]),
                           2 * X.indptr), shape=X.shape)  # each entry twice, in two parts
    wide = sp.csr_matrix((X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)),
                         shape=X.shape)
    return {"csc": X.tocsc(), "coo": coo, "int64 indices": wide, "unsorted": unsorted,
            "duplicates": twice, "csr_array": sp.csr_array(X), "int data": sp.csr_matrix(
                np.round(X.toarray() * 3).astype(np.int32))}


@pytest.mark.parametrize("name", ["csc", "coo", "int64 indices", "unsorted", "duplicates",
                                  "csr_array", "int data"])
def test_odd_sparse_structures_are_read_as_their_matrix(name):
    layers = (40, 9, 4)
    X, y, p = csr_problem(layers)
    odd = odd_structures(X)[name]
    before = (odd.copy(), odd.toarray())
    dense = odd.toarray()
    J, grad = fastnn.cost_grad(p, layers, odd, y, 0.3)
    J_ref, grad_ref = fastnn.cost_grad(p, layers, dense, y, 0.3)
    assert J == pytest.approx(J_ref, rel=1e-12)
    close(grad, grad_ref, np.float64)
    close(fastnn.Objective(layers, odd, y, 0.3)(p)[1], grad_ref, np.float64)
    # the caller's matrix is left as it was, structure and all
    assert type(odd) is type(before[0]) and (odd != before[0]).nnz == 0
    np.testing.assert_array_equal(odd.toarray(), before[1])
    if name in ("unsorted", "duplicates"):
        assert not odd.has_canonical_format


def test_objective_keeps_its_own_copy_of_sparse_X():
    layers = (40, 9, 4)
    X, y, p = csr_problem(layers)
    obj = fastnn.Objective(layers, X, y, 0.3)
    J = obj(p)[0]
    X.data[:] = 0
    assert obj(p)[0] == J


@pytest.mark.parametrize("bad, error, match", [
    (lambda X: sp.csr_matrix((np.where(np.arange(X.nnz) == 3, np.nan, X.data), X.indices,
                              X.indptr), shape=X.shape), ValueError, "X must be finite"),
    (lambda X: sp.csr_matrix((np.where(np.arange(X.nnz) == 3, np.inf, X.data), X.indices,
                              X.indptr), shape=X.shape), ValueError, "X must be finite"),
    (lambda X: X[:, :39], ValueError, "X must have 40 features"),
    (lambda X: X[:0], ValueError, "at least one row"),
    (lambda X: X.astype(np.complex128), TypeError, "real numbers"),
    (lambda X: X.astype(bool), TypeError, "real numbers"),
    (lambda X: sp.csr_matrix(X.toarray() * 1e300), ValueError, "beyond float32's range"),
])
def test_bad_sparse_input_is_refused_clearly(bad, error, match):
    layers = (40, 9, 4)
    X, y, p = csr_problem(layers)
    X = bad(X)
    with pytest.raises(error, match=match):
        fastnn.Objective(layers, X, y[:X.shape[0]], dtype=np.float32 if "range" in match
                         else np.float64)
    with pytest.raises(error, match=match):
        fastnn.predict(p, layers, X, dtype=np.float32 if "range" in match else np.float64)


def test_sparse_labels_are_refused():
    layers = (40, 9, 4)
    X, y, p = csr_problem(layers)
    with pytest.raises(TypeError, match="y is a scipy.sparse"):
        fastnn.cost_grad(p, layers, X, sp.csr_matrix(y[:, None]), 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_training_on_sparse_input_matches_dense(dtype):
    layers = (40, 9, 4)
    X, y, _ = csr_problem(layers)
    sparse = fastnn.train(X, y, hidden=(9,), maxiter=30, dtype=dtype, validation=0.2)
    dense = fastnn.train(X.toarray(), y, hidden=(9,), maxiter=30, dtype=dtype, validation=0.2)
    np.testing.assert_array_equal(sparse.validation_rows, dense.validation_rows)
    assert sparse.costs[0] == pytest.approx(dense.costs[0], rel=1e-6)
    assert sparse.train_accuracy == pytest.approx(dense.train_accuracy, abs=0.02)
    assert sparse.cost <= sparse.costs[0]


@pytest.mark.jit
@pytest.mark.parametrize("layers", [(4000, 25, 10), (4000, 80, 10)])
def test_peak_memory_does_not_scale_with_the_dense_size(layers):
    """A 40 000 x 4000 CSR at 0.25 % (1.3 GB dense): a call's peak memory (the process's
    maximum resident set, measured in a fresh process) stays a small fraction of that."""
    setup = f"""
import numpy as np, scipy.sparse as sp, fastnn
layers = {layers}
X = sp.random(40_000, 4000, density=0.0025, format="csr", random_state=0)
y = np.arange(X.shape[0]) % 10
p = fastnn.init_params(layers, 0)
fastnn.cost_grad(p, layers, X[:64], y[:64]); fastnn.predict(p, layers, X[:64])  # compiled
"""
    growth = peak_memory_growth(setup, ["fastnn.cost_grad(p, layers, X, y)",
                                        "fastnn.Objective(layers, X, y)(p)",
                                        "fastnn.predict(p, layers, X)"])
    assert growth[-1] < 0.05 * 40_000 * 4000 * 8
