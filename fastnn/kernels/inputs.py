"""X as the kernels read it: a dense array, or the rows of a CSR matrix (``CsrRows``).

Every kernel takes either. The few functions that touch X's entries come in a dense and a
sparse form joined by :func:`by_input`: Numba picks the form from X's type when it compiles
the caller (no branch at run time), plain Python by ``isinstance`` (``NUMBA_DISABLE_JIT=1``).

Sparse rows are read through their structure: the fused first layer runs each row over its
own stored columns (``micro.sparse_affine_tile``, ``micro.sparse_outer_tile``), with no column
search at all; the BLAS plan scatters a tile of rows at a time into a dense scratch. No more
than a tile of X is ever dense.
"""

from typing import NamedTuple

import numpy as np
from numba import types
from numba.extending import overload

from .._jit import jit_options


class CsrRows(NamedTuple):
    """A CSR matrix in canonical form: row i's entries are ``data[indptr[i]:indptr[i + 1]]``
    at the columns ``indices[indptr[i]:indptr[i + 1]]``, ascending, no column twice (explicit
    zeros allowed)."""

    data: np.ndarray  # (nnz,) the compute dtype
    indices: np.ndarray  # (nnz,) int32
    indptr: np.ndarray  # (m + 1,) int64
    shape: np.ndarray  # (2,) int64 (m, n): an array, so that ``X.shape[0]`` reads as for a
    # dense X and a prange body can take it (a tuple in a NamedTuple cannot go there)

    def copy(self):
        """A CsrRows of copies of the arrays."""
        return CsrRows(*(np.copy(a) for a in self))


def by_input(dense, sparse):
    """One function of ``(X, *args)`` that runs ``dense`` for an array X, ``sparse`` for
    ``CsrRows`` (two plain functions of the same arguments, compiled with the kernels' options).

    In a kernel the chosen function's own code is inlined where it is called: no call, and no
    reference counts taken on the arrays it is given (X is shared by every worker: counting
    its references from both threads made a cost_grad 5-10 % slower)."""
    def either(X, *args):
        return (sparse if isinstance(X, CsrRows) else dense)(X, *args)

    @overload(either, strict=False, inline="always", jit_options=jit_options())
    def _typed(X, *args):
        return dense if isinstance(X, types.Array) else sparse

    either.__doc__ = dense.__doc__
    return either


def _dense_values(X):
    """An array of X's compute dtype (``np.empty(n, values(X).dtype)``)."""
    return X


def _sparse_values(X):
    return X.data


values = by_input(_dense_values, _sparse_values)


def _dense_scratch(X, rows):
    """Room for ``rows`` of X made dense (none for a dense X)."""
    return np.zeros((0, X.shape[1]), X.dtype)


def _sparse_scratch(X, rows):
    return np.zeros((rows, X.shape[1]), X.data.dtype)


scratch = by_input(_dense_scratch, _sparse_scratch)


def _dense_tile(X, r, n, dense):
    """Rows r..r+n-1 of X as a dense ``(n, s1)`` array: a view of a dense X, or the rows
    scattered into dense[:n]."""
    return X[r:r + n]


def _sparse_tile(X, r, n, dense):
    tile = dense[:n]
    tile[:] = 0
    for g in range(n):
        for p in range(X.indptr[r + g], X.indptr[r + g + 1]):
            tile[g, X.indices[p]] = X.data[p]
    return tile


tile_rows = by_input(_dense_tile, _sparse_tile)


def _dense_entries(X, r):
    """How many entries of row r the entry index t of ``entry`` runs over."""
    return X.shape[1]


def _sparse_entries(X, r):
    return X.indptr[r + 1] - X.indptr[r]


n_entries = by_input(_dense_entries, _sparse_entries)


def _dense_entry(X, r, t):
    """Entry t of row r: ``(column, value)``; every column of a dense row, the stored
    entries of a sparse one."""
    return t, X[r, t]


def _sparse_entry(X, r, t):
    p = X.indptr[r] + t
    return X.indices[p], X.data[p]


entry = by_input(_dense_entry, _sparse_entry)


def _dense_magnitude(X, x):
    """The sum of |x| over rows x of X made dense (float64; not finite where one is nan or
    inf), for a dense X; 0 for CSR rows, whose values were checked with X."""
    total = np.float64(0.0)  # not a Python float: numpy adds float32 to it in float32
    for i in range(x.shape[0]):
        for k in range(x.shape[1]):
            total += abs(x[i, k])
    return total


def _sparse_magnitude(X, x):
    return 0.0


magnitude = by_input(_dense_magnitude, _sparse_magnitude)
