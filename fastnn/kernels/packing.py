"""Rows into groups and chunks, and the weights in the micro-kernels' layout.

Rows are walked in groups of ``GROUP_ROWS``. Parallel drivers cut their work into a number of
chunks that depends on its size alone, never on the thread count (``n_chunks``, ``chunk``);
each chunk adds into its own row of a buffer, and the rows are summed in a fixed order
(``fixed_order_sum``), so results are bitwise the same for any ``NUMBA_NUM_THREADS``.

For the micro-kernels each weight matrix Theta_l ``(s_{l+1}, s_l + 1)`` is laid out again once
per call (``pack_weights``): transposed, one row of units per input, bias row first, units
zero-padded to whole vectors (``forward``); and for back-propagation Theta_l[:, 1:] itself,
padded, under a zero bias row (``backward``). Gradients are accumulated in the forward layout
and unpacked once (``add_unpacked``), but for a layer that goes by dot products (``by_dots``),
whose block holds its gradient transposed.

A parallel driver whose ``prange`` body reads a NamedTuple builds it by calling the class
itself (``Placement(*placement(...))``): Numba rebuilds the tuple inside the body from source that
names the class, found only where the class is called directly in the driver.
"""

from typing import NamedTuple

import numpy as np

from .._jit import kernel
from ..tunables import DOT_REDUCE_COST, GROUP_ROWS, MAX_CHUNKS
from .vectors import lanes



class Offsets(NamedTuple):
    """Where each layer starts in the flat vectors (int64 arrays of n_layers entries)."""

    weights: np.ndarray  # weights[l]: start of Theta_l in params; weights[-1] = n_params
    units: np.ndarray  # units[l]: start of layers[l + 1]'s units in a row of every non-input unit


class Placement(NamedTuple):
    """Where each layer sits for the micro-kernels, in a given dtype's vectors (``layout``)."""

    padded: np.ndarray  # padded[i]: layer i's units padded to whole vectors (i >= 1)
    column: np.ndarray  # column[i]: where layer i starts in a group buffer's row; [-1]: width
    forward_at: np.ndarray  # forward_at[l]: start of Theta_l's forward matrix, (s_l + 1, padded)
    backward_at: np.ndarray  # backward_at[l]: start of its backward matrix (l >= 1)


class Packed(NamedTuple):
    """The weights in the micro-kernels' layout: flat arrays, matrices placed by ``Placement``."""

    forward: np.ndarray
    backward: np.ndarray


@kernel()
def n_chunks(m):
    """Chunks of rows for m rows: a function of m alone, so results do not depend on threads."""
    return max(1, min(MAX_CHUNKS, (m + GROUP_ROWS - 1) // GROUP_ROWS))


@kernel()
def chunk(n, nc, c, unit):
    """Items ``(lo, hi)`` of chunk c when n items are cut into nc chunks at multiples of unit
    (GROUP_ROWS for the group drivers, so that cached column blocks line up with the groups)."""
    units = (n + unit - 1) // unit
    return c * units // nc * unit, min(n, (c + 1) * units // nc * unit)


@kernel()
def offsets(layers):
    """The ``Offsets`` of the network ``layers`` (int64 layer sizes)."""
    n = layers.shape[0] - 1
    weights, units = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
    for l in range(n):
        weights[l + 1] = weights[l] + layers[l + 1] * (layers[l] + 1)
        units[l + 1] = units[l] + layers[l + 1]
    return Offsets(weights, units)


@kernel()
def placement(layers, like):
    """The ``Placement`` of ``layers`` for vectors of like's dtype."""
    n = layers.shape[0] - 1
    step = lanes(like)
    padded, column = np.zeros(n + 1, np.int64), np.zeros(n + 2, np.int64)
    forward_at, backward_at = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
    for i in range(1, n + 1):
        padded[i] = (layers[i] + step - 1) // step * step
        column[i + 1] = column[i] + padded[i]
    for l in range(n):
        forward_at[l + 1] = forward_at[l] + (layers[l] + 1) * padded[l + 1]
        backward_at[l + 1] = backward_at[l] + (0 if l == 0 else (layers[l + 1] + 1) * padded[l])
    return Placement(padded, column, forward_at, backward_at)


@kernel()
def aligned_zeros(n, like):
    """``np.zeros(n, like.dtype)`` from a cache-line boundary (64 bytes) on: no vector load or
    store straddles two lines. Numba's own arrays start at 32 bytes: an AVX-512 float64
    vector then straddles two lines wherever the allocator happened to give 32 mod 64."""
    extra = 64 // like.itemsize
    flat = np.zeros(n + extra, like.dtype)
    skip = (64 - flat.ctypes.data % 64) % 64 // like.itemsize
    return flat[skip:skip + n]


@kernel()
def pack_weights(w, layers, place):
    """The flat row-major weights w in the micro-kernels' layout place: ``Packed``. A row of
    the layout at a time (W read down a column, its rows' cache lines reused from row to row),
    not a unit at a time (each store a cache line of its own); scalar loops, not slice
    copies, which Numba compiles into many more functions."""
    weights_at = offsets(layers).weights
    forward = aligned_zeros(place.forward_at[-1], w)
    backward = aligned_zeros(place.backward_at[-1], w)
    for l in range(layers.shape[0] - 1):
        W = w[weights_at[l]:weights_at[l + 1]].reshape(layers[l + 1], layers[l] + 1)
        width = place.padded[l + 1]
        for i in range(layers[l] + 1):
            at = place.forward_at[l] + i * width
            for j in range(layers[l + 1]):
                forward[at + j] = W[j, i]
        for j in range(layers[l + 1] if l > 0 else 0):
            at = place.backward_at[l] + (1 + j) * place.padded[l] - 1
            for i in range(1, layers[l] + 1):
                backward[at + i] = W[j, i]
    return Packed(forward, backward)


@kernel(inline=True)
def by_dots(l, layers, L):
    """Whether layer l's units (l >= 1: its inputs are units too) go forward by a dot product
    per row and unit (``micro.dot_rows``) rather than a vector of units per input
    (``micro.affine_tile``), for vectors of L lanes: by their loads per row, n_out (two a
    vector of inputs, the activations' and the weights', + DOT_REDUCE_COST) against n_in
    (one a vector of units: the row's input broadcast). Such a layer's gradient is
    accumulated transposed (``micro.dot_outer``, read by ``add_unpacked``)."""
    if l == 0:
        return False
    n_in, n_out = layers[l], layers[l + 1]
    return n_out * (2 * ((n_in + L - 1) // L) + DOT_REDUCE_COST) < n_in * ((n_out + L - 1) // L)


@kernel()
def add_unpacked(packed_grad, layers, place, grad, L):
    """grad += packed_grad, a gradient accumulated in the packed forward layout (a row of it at
    a time, as ``pack_weights``) of vectors of L lanes; a ``by_dots`` layer's block holds its
    gradient transposed instead: row j of Theta_l from ``j (L + padded[l])`` on, the bias
    first, then the inputs from L on."""
    weights_at = offsets(layers).weights
    for l in range(layers.shape[0] - 1):
        G = grad[weights_at[l]:weights_at[l + 1]].reshape(layers[l + 1], layers[l] + 1)
        width = place.padded[l + 1]
        if by_dots(l, layers, L):
            for j in range(layers[l + 1]):
                at = place.forward_at[l] + j * (L + place.padded[l])
                G[j, 0] += packed_grad[at]
                for i in range(layers[l]):
                    G[j, 1 + i] += packed_grad[at + L + i]
            continue
        for i in range(layers[l] + 1):
            at = place.forward_at[l] + i * width
            for j in range(layers[l + 1]):
                G[j, i] += packed_grad[at + j]


@kernel()
def fixed_order_sum(partial):
    """Sum the rows of partial in order, in float64: the same bits for any thread count."""
    total = np.zeros(partial.shape[1])
    for c in range(partial.shape[0]):
        for p in range(partial.shape[1]):
            total[p] += partial[c, p]
    return total


@kernel()
def summed_unpacked(partial, layers, place, size):
    """The rows of partial (packed layout, its dtype's lanes) summed in a fixed order,
    unpacked: ``(size,)``."""
    total = np.zeros(size)
    add_unpacked(fixed_order_sum(partial), layers, place, total, lanes(partial))
    return total
