"""Where the first layer's inputs are non-zero, by tiles of rows.

The micro-kernels of the first layer read only the columns where one of a tile's rows is
non-zero (three quarters of a digit image are blank), with no loss of exactness. The lists are
found once for all of X (``nonzero_columns``: an ``Objective``'s rows do) or by each worker for
each group as it goes (``unsearched_columns()`` asks for that); both find them with
``find_columns``, so both give the same bits.
"""

from typing import NamedTuple

import numpy as np
from numba import prange

from .._isa import COMPRESS_STORES, TILE_ROWS, TILES
from .._jit import kernel
from ..tunables import GROUP_ROWS
from .inputs import by_input
from .micro import upper_rows
from .packing import chunk, n_chunks
from .vectors import lanes, vabs, vadd, vcompress, vload, vsplat, vsum


class ColumnLists(NamedTuple):
    """Non-zero input columns of tiles of rows (``TILE_ROWS``, ``TILES`` a group): block b's
    are ``cols[starts[b]:starts[b + 1]]``. ``cached``: the lists of all of X, block b = the
    rows from TILE_ROWS b on; otherwise a worker's own blocks of one group, refilled for each
    group."""

    starts: np.ndarray  # int64
    cols: np.ndarray  # int32
    cached: bool


@kernel()
def unsearched_columns():
    """No lists found ahead: each worker finds its groups' non-zero columns as it goes."""
    return ColumnLists(np.zeros(0, np.int64), np.zeros(0, np.int32), False)


@kernel()
def worker_columns(columns, n_inputs):
    """The lists a worker reads: the cached ones, or room for a group's blocks."""
    if columns.cached:
        return columns
    return ColumnLists(np.zeros(TILES + 1, np.int64), np.empty(TILES * n_inputs, np.int32),
                       False)


@kernel(inline=True)
def group_rows(lo, hi, rows):
    """Fill rows with lo, lo+1, ..., clamped to hi-1; return how many are real rows."""
    for g in range(GROUP_ROWS):
        rows[g] = min(lo + g, hi - 1)
    return min(GROUP_ROWS, hi - lo)


@kernel(inline=True)
def _block_columns(X, rows, g0, cols, mass):
    """Columns where one of a tile's rows X[rows[g0:g0 + TILE_ROWS]] is non-zero, into cols:
    ``(count, read)``, read the sum of the rows' |x| (not finite where one is nan or inf; a
    column with a nan is left out).

    With compress stores (AVX-512), a vector of columns at a time: their absolute sums, the
    positive ones' indices packed and stored as one vector (it fits: n <= k, so it ends
    within the n_inputs entries a tile has in cols). Otherwise, and for the columns after the
    last whole vector: the absolute sums (a loop LLVM vectorises), then a branch-free
    compaction.
    """
    x0, x1, x2, x3 = X[rows[g0]], X[rows[g0 + 1]], X[rows[g0 + 2]], X[rows[g0 + 3]]
    x4, x5, x6, x7 = upper_rows(X, rows, g0)
    n, read, rest = 0, 0.0, 0
    if COMPRESS_STORES:
        L = lanes(mass)
        total = vsplat(0.0, mass)
        for k in range(0, X.shape[1] - L + 1, L):
            v = vadd(vadd(vabs(vload(x0, k)), vabs(vload(x1, k))),
                     vadd(vabs(vload(x2, k)), vabs(vload(x3, k))))
            if TILE_ROWS == 8:
                v = vadd(v, vadd(vadd(vabs(vload(x4, k)), vabs(vload(x5, k))),
                                 vadd(vabs(vload(x6, k)), vabs(vload(x7, k)))))
            total = vadd(total, v)
            n += vcompress(v, k, cols, n)
        read, rest = float(vsum(total)), X.shape[1] // L * L
    for k in range(rest, X.shape[1]):
        mass[k] = (abs(x0[k]) + abs(x1[k])) + (abs(x2[k]) + abs(x3[k]))
        if TILE_ROWS == 8:
            mass[k] += (abs(x4[k]) + abs(x5[k])) + (abs(x6[k]) + abs(x7[k]))
        read += mass[k]
    for k in range(rest, X.shape[1]):
        cols[n] = k
        n += mass[k] > 0
    return n, read


def _dense_find_columns(X, rows, starts, cols, mass):
    """The non-zero columns of a group's tiles of rows (``rows``), into cols: tile t's are
    ``cols[starts[t]:starts[t + 1]]``, starts[0] = 0. mass: a row of scratch. Returns the sum
    of the rows' |x| (``_block_columns``)."""
    read = 0.0
    for t in range(TILES):
        n, block_read = _block_columns(X, rows, TILE_ROWS * t, cols[starts[t]:], mass)
        starts[t + 1] = starts[t] + n
        read += block_read
    return read


def _sparse_find_columns(X, rows, starts, cols, mass):
    """Nothing to find: sparse rows are read over their own columns (nor summed: their values
    were checked when X was)."""
    return 0.0


find_columns = by_input(_dense_find_columns, _sparse_find_columns)


@kernel(inline=True)
def start_group(X, columns, rows, mass, r, hi):
    """Set a group up from row r on (rows up to hi): its rows, and its first block in columns
    -- r // TILE_ROWS of cached lists, or block 0 of the worker's own, found now.
    Returns ``(valid, block, read)``: how many rows are real, the first block, and the sum of
    the group's |x| where its columns were found now (0 otherwise; not finite where X holds a
    nan or inf)."""
    valid = group_rows(r, hi, rows)
    if columns.cached:
        return valid, r // TILE_ROWS, 0.0
    return valid, 0, find_columns(X, rows, columns.starts, columns.cols, mass)


@kernel(parallel=True)
def nonzero_columns(X):
    """The cached ``ColumnLists`` of all of X: a block per tile of rows, found as the workers
    find them (``find_columns``). Two passes: the columns' lengths, then the columns."""
    m = X.shape[0]
    nc = n_chunks(m)
    blocks = (m + GROUP_ROWS - 1) // GROUP_ROWS * TILES
    starts, cols = np.zeros(blocks + 1, np.int64), np.empty(0, np.int32)
    for fill in range(2):
        if fill:
            for b in range(blocks):  # lengths -> starts
                starts[b + 1] += starts[b]
            cols = np.empty(starts[-1], np.int32)
        for c in prange(nc):
            rows, mass = np.empty(GROUP_ROWS, np.int64), np.empty(X.shape[1], X.dtype)
            found_at, found = np.zeros(TILES + 1, np.int64), np.empty(TILES * X.shape[1],
                                                                         np.int32)
            lo, hi = chunk(m, nc, c, GROUP_ROWS)
            for r in range(lo, hi, GROUP_ROWS):
                group_rows(r, hi, rows)
                find_columns(X, rows, found_at, found, mass)
                b = r // TILE_ROWS
                if fill:  # the group's blocks at once: they are contiguous in cols too
                    for t in range(found_at[TILES]):
                        cols[starts[b] + t] = found[t]
                else:
                    for t in range(TILES):
                        starts[b + t + 1] = found_at[t + 1] - found_at[t]
    return ColumnLists(starts, cols, True)
