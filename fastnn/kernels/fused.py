"""The fused pass: forward, cost and backprop of a group of rows while it is in cache.

A serial worker walks its rows in groups of ``GROUP_ROWS`` (``cost_grad_chunk``); each group goes
forward through every layer (``forward_group``), gets its output deltas and loss
(``output_delta``) and goes back (``backward_group``), adding its gradient into the worker's
own packed buffer. The parallel drivers (``cost_grad_sums``, ``forward_states``) split the
rows into chunks (:mod:`.packing`) and sum the chunks' partials in a fixed order.
"""

from typing import NamedTuple

import numpy as np
from numba import prange

from .._isa import TILE_ROWS, TILES
from .._jit import kernel
from ..tunables import GROUP_ROWS
from .columns import start_group, unsearched_columns, worker_columns
from .inputs import by_input, values
from .micro import (activate_block, affine_tile, dot_outer, dot_rows, loss_columns, outer_tile,
                    output_values, sparse_affine_tile, sparse_outer_tile, times_slope,
                    weigh_column)
from .packing import (Placement, Packed, add_unpacked, aligned_zeros, by_dots, chunk,
                      fixed_order_sum, placement, n_chunks, pack_weights, summed_unpacked)
from .sharing import borrowed, held
from .vectors import lanes


class GroupState(NamedTuple):
    """A group's state, ``(GROUP_ROWS, Placement.column[-1])`` buffers of the compute dtype (zeroed:
    the padding stays 0); the Hessian's R{.} state has the same three."""

    pre: np.ndarray  # pre-activations z of every layer
    act: np.ndarray  # hidden activations f(z)
    delta: np.ndarray  # back-propagated deltas


class States(NamedTuple):
    """Every row's states from ``forward_states``, units of layers 2..L in order."""

    pre: np.ndarray  # (m, pre_cols): the last pre_cols columns of z
    act: np.ndarray  # (m, act_cols): the last act_cols columns of the units' values
    read: float  # the sum of |x| over a dense X as the pass read it: not finite where X
    # holds a nan or inf (nor where the sum overflows); 0 for CSR rows


class Workspace(NamedTuple):
    """A worker's rows, column lists and scratch."""

    rows: np.ndarray  # (GROUP_ROWS,) int64: the group's rows of X
    slots: np.ndarray  # 0..GROUP_ROWS-1: the group's rows in its state buffers
    every_unit: np.ndarray  # 0..widest-1, int32: all units of a layer as a column list
    columns: object  # the first layer's ColumnLists (cached, or the worker's own)
    mass: np.ndarray  # (s1,) scratch of the column search
    outputs: np.ndarray  # (2, K, GROUP_ROWS) float64: the outputs' z and targets, transposed


@kernel()
def new_state(place, like):
    """A zeroed ``GroupState`` in like's dtype: three buffers of one cache-aligned block (each
    row a whole number of vectors, so every row starts aligned too)."""
    width = place.column[-1]
    block = aligned_zeros(3 * GROUP_ROWS * width, like).reshape(3, GROUP_ROWS, width)
    return GroupState(block[0], block[1], block[2])


@kernel()
def workspace(layers, like, columns):
    """A worker's ``Workspace``; ``columns``: cached ``ColumnLists`` or ``unsearched_columns()``."""
    return Workspace(np.empty(GROUP_ROWS, np.int64), np.arange(GROUP_ROWS),
                     np.arange(layers.max()).astype(np.int32),  # the same index type as cols
                     worker_columns(columns, layers[0]), np.empty(layers[0], like.dtype),
                     np.empty((2, layers[-1], GROUP_ROWS)))


class Group(NamedTuple):
    """Where a worker's groups of rows read their inputs (made once per chunk: a tuple of
    arrays made per group costs its reference counts every time, and they add up)."""

    X: np.ndarray  # a group's rows are X[ws.rows] (an array, or CsrRows)
    layers: np.ndarray  # int64 layer sizes
    place: object  # the Placement
    ws: object  # the worker's Workspace
    activation: int  # the hidden units' code (scalars.UNITS)


@kernel(inline=True)
def affine_inputs(group, block, act, l, wt, width, dst, dst_col):
    """``affine_tile`` of every tile of a group (its first column block ``block``) over layer
    l's inputs: X's non-zero columns for l = 0, the previous layer's units in act otherwise."""
    if l > 0:
        affine_units(act, group, l, wt, width, dst, dst_col, False)
        return
    for t in range(TILES):
        _affine_x(group.X, group, block + t, TILE_ROWS * t, wt, width, dst, dst_col)


@kernel(inline=True)
def outer_inputs(group, block, act, l, d, d_col, gt, width):
    """``outer_tile`` (bias row included) of every tile of a group over layer l's inputs."""
    if l > 0:
        outer_layer(act, group, l, d, d_col, gt, width, True)
        return
    for t in range(TILES):
        _outer_x(group.X, group, block + t, TILE_ROWS * t, d, d_col, gt, width)


@kernel(inline=True)
def _block_span(group, b):
    """Where block b's non-zero columns are in the worker's lists: ``(start, stop)``."""
    return group.ws.columns.starts[b], group.ws.columns.starts[b + 1]


def _dense_affine_x(X, group, b, g0, wt, width, dst, dst_col):
    """``affine_tile`` of the first layer: X's rows over block b's non-zero columns (dense X),
    or each row over its own columns (``sparse_affine_tile``, a ``CsrRows`` X)."""
    start, stop = _block_span(group, b)
    # X's columns from np.int64(0), not a literal 0: Numba would compile affine_tile (and
    # outer_tile) once for literal 0 and again for the buffers' int64 offsets, 0.8 s more of a
    # first call
    affine_tile(X, group.ws.rows, np.int64(0), group.ws.columns.cols[start:], stop - start, g0,
                wt, width, dst, dst_col, False)


def _sparse_affine_x(X, group, b, g0, wt, width, dst, dst_col):
    sparse_affine_tile(X.data, X.indices, X.indptr, group.ws.rows, g0, wt, width, dst, dst_col)


_affine_x = by_input(_dense_affine_x, _sparse_affine_x)


def _dense_outer_x(X, group, b, g0, d, d_col, gt, width):
    """``outer_tile`` of the first layer, bias row included, as ``_affine_x`` reads X."""
    start, stop = _block_span(group, b)
    outer_tile(X, group.ws.rows, np.int64(0), group.ws.columns.cols[start:], stop - start, g0,
               d, d_col, gt, width, True)  # np.int64(0): see _dense_affine_x


def _sparse_outer_x(X, group, b, g0, d, d_col, gt, width):
    sparse_outer_tile(X.data, X.indices, X.indptr, group.ws.rows, g0, d, d_col, gt, width)


_outer_x = by_input(_dense_outer_x, _sparse_outer_x)


@kernel(inline=True)
def affine_units(buffer, group, i, wt, width, dst, dst_col, accumulate):
    """``affine_tile`` of every tile over layer i's units in a group buffer (activations,
    deltas, R{.})."""
    for t in range(TILES):
        affine_tile(buffer, group.ws.slots, group.place.column[i], group.ws.every_unit,
                    group.layers[i], TILE_ROWS * t, wt, width, dst, dst_col, accumulate)


@kernel(inline=True)
def outer_units(buffer, group, i, d, d_col, gt, width, bias):
    """``outer_tile`` of every tile over layer i's units in a group buffer."""
    for t in range(TILES):
        outer_tile(buffer, group.ws.slots, group.place.column[i], group.ws.every_unit,
                   group.layers[i], TILE_ROWS * t, d, d_col, gt, width, bias)


@kernel(inline=True)
def outer_layer(buffer, group, l, d, d_col, gt, width, bias):
    """Layer l's (l >= 1) outer products into its block gt of a packed gradient: transposed
    (``dot_outer``) where it goes forward by dots (``packing.by_dots``), else by tiles."""
    if by_dots(l, group.layers, lanes(gt)):
        dot_outer(buffer, group.place.column[l], group.place.padded[l], d, d_col,
                  group.layers[l + 1], gt, bias)
    else:
        outer_units(buffer, group, l, d, d_col, gt, width, bias)


@kernel(inline=True)
def back_propagate(buffer, group, i, wt, width, dst, dst_col, accumulate):
    """dst[:, dst_col:] (+)= W^T of layer i's units in buffer, the whole group (wt: a packed
    backward matrix)."""
    affine_units(buffer, group, i, wt, width, dst, dst_col, accumulate)


@kernel(inline=True)
def forward_group(group, block, packed, state):
    """Pre-activations z of every layer into state.pre, hidden activations into state.act."""
    place = group.place
    n = group.layers.shape[0] - 1
    for l in range(n):
        forward = packed.forward[place.forward_at[l]:place.forward_at[l + 1]]
        if by_dots(l, group.layers, lanes(forward)):
            dot_rows(state.act, place.column[l], place.padded[l],
                     packed.backward[place.backward_at[l]:place.backward_at[l + 1]], forward,
                     group.layers[l + 1], state.pre, place.column[l + 1])
        else:
            affine_inputs(group, block, state.act, l, forward, place.padded[l + 1], state.pre,
                          place.column[l + 1])
        if l < n - 1:
            activate_block(state.pre, state.act, place.column[l + 1], place.padded[l + 1],
                           group.activation)


@kernel(inline=True)
def output_delta(pre, Y, weights, output, rows, valid, z0, delta, outputs):
    """Weighted loss summed over the group's real rows; output deltas s dloss/dz (0 on
    padding), for targets Y ``(m, K)`` float64 and the ``output`` code.

    In float64, a vector of rows at a time: each output's z of the group and its targets go to
    ``outputs`` ``(2, K, GROUP_ROWS)``, transposed, and come back as residual and loss.
    """
    z, target = outputs[0], outputs[1]
    for g in range(GROUP_ROWS):
        for k in range(z.shape[0]):
            z[k, g] = pre[g, z0 + k]
            target[k, g] = Y[rows[g], k]
    loss_columns(outputs, GROUP_ROWS, output)
    if weights.shape[0]:
        for g in range(valid):
            weigh_column(outputs, g, weights[rows[g]])
    total = 0.0
    for g in range(GROUP_ROWS):
        for k in range(z.shape[0]):
            if g < valid:
                total += target[k, g]
            delta[g, z0 + k] = z[k, g] if g < valid else 0
    return total


@kernel(inline=True)
def backward_group(group, block, packed, state, grad):
    """Back-propagate the group's output deltas; add its gradient into grad (packed)."""
    place = group.place
    for l in range(group.layers.shape[0] - 2, -1, -1):
        outer_inputs(group, block, state.act, l, state.delta, place.column[l + 1],
                     grad[place.forward_at[l]:place.forward_at[l + 1]], place.padded[l + 1])
        if l > 0:
            back_propagate(state.delta, group, l + 1,
                           packed.backward[place.backward_at[l]:place.backward_at[l + 1]],
                           place.padded[l], state.delta, place.column[l], False)
            times_slope(state.act, state.delta, state.delta, place.column[l], place.padded[l],
                        group.activation)


@kernel()
def cost_grad_chunk(X, Y, weights, layers, codes, place, packed, columns, lo, hi, packed_grad,
                    with_grad):
    """Serial worker on packed weights: ``(loss, read)``, the summed loss over rows lo..hi-1
    and the sum of their |x| where the columns were found now (``start_group``); adds their
    summed gradient into packed_grad (packed layout) when ``with_grad``. Cached ``columns``
    need lo to be a multiple of GROUP_ROWS."""
    X, Y, weights, layers, codes, place, packed, columns, packed_grad = borrowed(
        (X, Y, weights, layers, codes, place, packed, columns, packed_grad))
    scratch = new_state(place, packed.forward), workspace(layers, packed.forward, columns)
    state, ws = borrowed(scratch)
    group = Group(X, layers, place, ws, codes[0])
    loss, read = 0.0, 0.0
    for r in range(lo, hi, GROUP_ROWS):
        valid, block, group_read = start_group(X, ws.columns, ws.rows, ws.mass, r, hi)
        read += group_read
        forward_group(group, block, packed, state)
        loss += output_delta(state.pre, Y, weights, codes[1], ws.rows, valid, place.column[-2],
                             state.delta, ws.outputs)
        if with_grad:
            backward_group(group, block, packed, state, packed_grad)
    held(scratch)
    return loss, read


@kernel()
def cost_grad_rows(X, Y, weights, w, layers, codes, lo, hi, grad, with_grad=True):
    """Serial worker: summed loss over rows lo..hi-1; adds their summed gradient into grad
    (left alone when not ``with_grad``)."""
    place = placement(layers, w)
    packed = pack_weights(w, layers, place)
    packed_grad = np.zeros(packed.forward.shape[0] if with_grad else 0, w.dtype)
    loss, _ = cost_grad_chunk(X, Y, weights, layers, codes, place, packed, unsearched_columns(),
                              lo, hi, packed_grad, with_grad)
    if with_grad:
        add_unpacked(packed_grad, layers, place, grad, lanes(packed_grad))
    return loss


@kernel(parallel=True)
def cost_grad_sums(X, Y, weights, w, layers, codes, columns):
    """``(loss, grad, read)``: the weighted loss and gradient (float64, shaped like w) summed
    over all rows of X, and the sum of |x| over a dense X as it was read (``States.read``;
    0 where cached columns were read). ``columns``: ``nonzero_columns(X)``, or
    ``unsearched_columns()`` to find them on the way."""
    m = X.shape[0]
    nc = n_chunks(m)
    place = Placement(*placement(layers, w))  # rebuilt by the class itself: see packing
    packed = Packed(*pack_weights(w, layers, place))
    partial = aligned_zeros(nc * packed.forward.shape[0], w).reshape(nc, -1)
    losses, read = np.zeros((nc, 1)), np.zeros(nc)
    for c in prange(nc):
        lo, hi = chunk(m, nc, c, GROUP_ROWS)
        losses[c, 0], read[c] = cost_grad_chunk(X, Y, weights, layers, codes, place, packed,
                                                columns, lo, hi, partial[c], True)
    return (fixed_order_sum(losses)[0], summed_unpacked(partial, layers, place, w.shape[0]),
            read.sum())


@kernel()
def unit_columns(layers, place, n):
    """Where the last n units of layers 2..L (in order, the outputs last) sit in a row of a
    group buffer: ``(n,)`` int64."""
    at = np.empty(n, np.int64)
    q = n
    for i in range(layers.shape[0] - 1, 0, -1):
        for j in range(layers[i] - 1, -1, -1):
            if q > 0:
                q -= 1
                at[q] = place.column[i] + j
    return at


@kernel()
def _forward_rows(X, layers, codes, place, packed, lo, hi, pre_out, act_out):
    """Rows lo..hi-1 of the last columns of z (into pre_out) and the units' values (into
    act_out); returns the sum of their |x| (``States.read``)."""
    X, layers, codes, place, packed, pre_out, act_out = borrowed(
        (X, layers, codes, place, packed, pre_out, act_out))
    scratch = new_state(place, packed.forward), workspace(layers, packed.forward,
                                                          unsearched_columns())
    state, ws = borrowed(scratch)
    group = Group(X, layers, place, ws, codes[0])
    n = layers.shape[0] - 1
    pre_at = unit_columns(layers, place, pre_out.shape[1])
    act_at = unit_columns(layers, place, act_out.shape[1])
    read = 0.0
    for r in range(lo, hi, GROUP_ROWS):
        valid, block, group_read = start_group(X, ws.columns, ws.rows, ws.mass, r, hi)
        read += group_read
        forward_group(group, block, packed, state)
        if act_out.shape[1] > 0:  # the outputs' values: labels need only z
            output_values(state.pre, state.act, valid, place.column[n], place.padded[n],
                          layers[n], codes[1])
        for g in range(valid):
            for q in range(pre_at.shape[0]):
                pre_out[r + g, q] = state.pre[g, pre_at[q]]
            for q in range(act_at.shape[0]):
                act_out[r + g, q] = state.act[g, act_at[q]]
    held(scratch)
    return read


@kernel(parallel=True)
def forward_states(X, w, layers, codes, pre_cols, act_cols):
    """``States``: the last ``pre_cols`` columns of z and ``act_cols`` of the units' values
    (hidden activations, then the outputs'), every row.

    Columns are the units of layers 2..L in order, the output layer last: ``(X, w, layers,
    codes, 0, K)`` gives just the output values h, ``(..., n, n)`` every layer's state.
    """
    m = X.shape[0]
    dtype = values(X).dtype
    pre, act = np.empty((m, pre_cols), dtype), np.empty((m, act_cols), dtype)
    nc = n_chunks(m)
    place = Placement(*placement(layers, w))  # rebuilt by the class itself: see packing
    packed = Packed(*pack_weights(w, layers, place))
    read = np.zeros(nc)
    for c in prange(nc):
        lo, hi = chunk(m, nc, c, GROUP_ROWS)
        read[c] = _forward_rows(X, layers, codes, place, packed, lo, hi, pre, act)
    return States(pre, act, read.sum())
