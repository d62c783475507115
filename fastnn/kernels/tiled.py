"""The BLAS plan: each layer of a tile of rows as one matrix product (wide, deep or dense nets).

Where layers are wide and the data dense, a matrix product blocked for the caches (BLAS GEMM,
through Numba's ``np.dot``) beats the fused micro-kernels, which re-read a group's inputs for
every pair of vectors of units. A worker walks its rows in tiles of ``tile`` rows
(``COST_GRAD_TILE_ROWS``, ``FORWARD_TILE_ROWS``; tests pass small ones): forward, every
layer ``z = a W^T`` then ``a = f(z + b)``; at the output the loss and ``delta = s dloss/dz``;
backward, ``G += delta^T a`` and ``delta = (delta W) f'``. Intermediates are
``(tile, units)``, never ``(m, units)``; BLAS runs one thread per Numba worker (``_jit``
holds every pool at one thread during a parallel kernel).

Weights come without their bias column (``bare_weights``: each ``Theta_l[:, 1:]`` contiguous,
``(s_{l+1}, s_l)``), biases are added in the elementwise passes. Chunks of rows depend on m
alone and their partial sums are added in a fixed order, as in :mod:`.packing`: the same bits
for any thread count.
"""

import numpy as np
from numba import prange

from .._jit import kernel
from ..tunables import MAX_CHUNKS, TILE_CHUNK_MIN_ROWS
from .inputs import magnitude, scratch, tile_rows, values
from .micro import loss_columns, softmax_row, vactivate, weigh_column
from .packing import chunk, fixed_order_sum, offsets
from .scalars import IDENTITY, SOFTMAX, activate as activate_scalar, slope
from .vectors import lanes, vadd, vload, vstore


@kernel()
def n_tiled_chunks(m):
    """Chunks for m rows, a function of m alone: a power of two, at most MAX_CHUNKS, each with
    TILE_CHUNK_MIN_ROWS rows or more where m allows."""
    nc = 1
    while 2 * nc <= MAX_CHUNKS and 2 * nc * TILE_CHUNK_MIN_ROWS <= m:
        nc *= 2
    return nc


@kernel()
def bare_weights(w, layers):
    """``(bare, biases)``: every ``Theta_l[:, 1:]`` contiguous, one after another (placed by
    ``bare_at``), and every bias column, one after another (placed by ``offsets().units``)."""
    at, units = offsets(layers).weights, offsets(layers).units
    where = bare_at(layers)
    bare, biases = np.empty(where[-1], w.dtype), np.empty(units[-1], w.dtype)
    for l in range(layers.shape[0] - 1):
        W = w[at[l]:at[l + 1]].reshape(layers[l + 1], layers[l] + 1)
        for j in range(layers[l + 1]):
            bare[where[l] + j * layers[l]:where[l] + (j + 1) * layers[l]] = W[j, 1:]
            biases[units[l] + j] = W[j, 0]
    return bare, biases


@kernel()
def bare_at(layers):
    """Where each ``Theta_l[:, 1:]`` starts in ``bare_weights``; [-1]: its size."""
    n = layers.shape[0] - 1
    at = np.zeros(n + 1, np.int64)
    for l in range(n):
        at[l + 1] = at[l] + layers[l + 1] * layers[l]
    return at


@kernel()
def activate(z, b, a, code):
    """z[i, j] += b[j], then a = f(z), f the activation ``code`` (with a of z's shape: ``a is
    None`` leaves it); rows contiguous, a vector at a time."""
    L = lanes(z[0])
    n = z.shape[1]
    for i in range(z.shape[0]):
        zi = z[i]
        j = 0
        while j + L <= n:
            u = vadd(vload(zi, j), vload(b, j))
            vstore(zi, j, u)
            if a is not None:
                vstore(a[i], j, vactivate(u, code))
            j += L
        for t in range(j, n):
            zi[t] += b[t]
            if a is not None:
                a[i, t] = activate_scalar(zi[t], code)


@kernel()
def output_delta_loss(z, Y, weights, output, r, delta, outputs):
    """Weighted loss summed over the rows (Y[r + i] the targets of row i); delta = s dloss/dz
    (z and delta may be the same array). In float64 vectors of rows, as the fused pass does:
    each output's z and targets go to ``outputs`` ``(2, K, tile + 8)``, transposed, and come
    back as residual and loss; rows past the tile's are zero and not counted."""
    rows, K = z.shape
    zt, target = outputs[0], outputs[1]
    L = lanes(zt[0])
    padded = (rows + L - 1) // L * L
    for i in range(padded):
        for k in range(K):
            zt[k, i] = z[i, k] if i < rows else 0.0
            target[k, i] = Y[r + i, k] if i < rows else 0.0
    loss_columns(outputs, padded, output)
    if weights.shape[0]:
        for i in range(rows):
            weigh_column(outputs, i, weights[r + i])
    total = 0.0
    for i in range(rows):
        for k in range(K):
            total += target[k, i]
            delta[i, k] = zt[k, i]
    return total


@kernel()
def times_slope(a, delta, code):
    """delta *= f'(z), from a = f(z), in place."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            delta[i, j] *= slope(a[i, j], code)


@kernel()
def add_outer(delta, inputs, product, G):
    """G[:, 0] += column sums of delta, G[:, 1:] += delta^T inputs (product: scratch); delta's
    rows are read in order (its columns are a stride apart)."""
    np.dot(delta.T, inputs, product)
    sums = np.zeros(G.shape[0])
    for i in range(delta.shape[0]):
        sums += delta[i]
    for j in range(G.shape[0]):
        G[j, 0] += sums[j]
        G[j, 1:] += product[j]


@kernel()
def tile_states(layers, like, tile):
    """A worker's z and a of layers 2..L for ``tile`` rows, flat, layer by layer (``layer_view``
    cuts them; every entry is written before it is read: no zeroing)."""
    units = 0
    for l in range(1, layers.shape[0]):
        units += layers[l]
    return np.empty(tile * units, like.dtype), np.empty(tile * units, like.dtype)


@kernel()
def tile_scratch(layers, like, tile):
    """A worker's two deltas and the scratch of one gradient product (written before read)."""
    widest, product = 0, 0
    for l in range(layers.shape[0] - 1):
        widest = max(widest, layers[l + 1])
        product = max(product, layers[l + 1] * layers[l])
    return np.empty((2, tile * widest), like.dtype), np.empty(product, like.dtype)


@kernel()
def layer_view(flat, layers, i, rows, tile):
    """Layer i's ``(rows, s_i)`` block of a flat per-layer buffer (i >= 1)."""
    o = 0
    for l in range(1, i):
        o += tile * layers[l]
    return flat[o:o + rows * layers[i]].reshape(rows, layers[i])


@kernel()
def forward_tile(x, layers, codes, bare, biases, z, a, tile, output_act):
    """z (bias added) and a = f(z) of layers 2..L-1 for the tile's rows x ``(rows, s1)``; the
    output layer's z, and its values (``codes[1]``) in a where ``output_act``."""
    n = layers.shape[0] - 1
    rows = x.shape[0]
    where, units = bare_at(layers), offsets(layers).units
    inputs = x
    for l in range(n):
        Wb = bare[where[l]:where[l + 1]].reshape(layers[l + 1], layers[l])
        zl = layer_view(z, layers, l + 1, rows, tile)
        np.dot(inputs, Wb.T, zl)
        b = biases[units[l]:units[l + 1]]
        if l < n - 1:
            inputs = layer_view(a, layers, l + 1, rows, tile)
            activate(zl, b, inputs, codes[0])
        elif output_act:
            al = layer_view(a, layers, l + 1, rows, tile)
            activate(zl, b, al, IDENTITY if codes[1] == SOFTMAX else codes[1])
            if codes[1] == SOFTMAX:
                for i in range(rows):
                    softmax_row(zl[i], al[i])
        else:
            activate(zl, b, None, IDENTITY)


@kernel()
def tiled_chunk(X, Y, weights, w, layers, codes, bare, biases, lo, hi, grad, tile, read_X):
    """Serial worker: ``(loss, read)``, the weighted loss summed over rows lo..hi-1 and, with
    ``read_X``, the sum of their |x| (``fused.States.read``; else 0); adds their gradient into
    grad (w's flat layout, w's dtype)."""
    n = layers.shape[0] - 1
    at, where = offsets(layers).weights, bare_at(layers)
    tile = min(tile, hi - lo)  # the same tiles; buffers no larger than the chunk's rows
    (z, a), (deltas, product) = tile_states(layers, w, tile), tile_scratch(layers, w, tile)
    outputs = np.zeros((2, layers[-1], tile + 8))
    dense = scratch(X, tile)
    loss, read = 0.0, 0.0
    for r in range(lo, hi, tile):
        rows = min(tile, hi - r)
        x = tile_rows(X, r, rows, dense)
        if read_X:
            read += magnitude(X, x)  # the tile in cache for the product that reads it next
        forward_tile(x, layers, codes, bare, biases, z, a, tile, False)
        delta = layer_view(z, layers, n, rows, tile)
        loss += output_delta_loss(delta, Y, weights, codes[1], r, delta, outputs)
        for l in range(n - 1, -1, -1):
            inputs = x if l == 0 else layer_view(a, layers, l, rows, tile)
            G = grad[at[l]:at[l + 1]].reshape(layers[l + 1], layers[l] + 1)
            add_outer(delta, inputs,
                      product[:layers[l + 1] * layers[l]].reshape(layers[l + 1], layers[l]), G)
            if l > 0:
                Wb = bare[where[l]:where[l + 1]].reshape(layers[l + 1], layers[l])
                back = deltas[l % 2, :rows * layers[l]].reshape(rows, layers[l])
                np.dot(delta, Wb, back)
                times_slope(inputs, back, codes[0])
                delta = back
    return loss, read


@kernel(parallel=True, calls_blas=True)
def tiled_cost_grad_sums(X, Y, weights, w, layers, codes, tile, read_X):
    """``(loss, grad, read)`` of ``fused.cost_grad_sums``, BLAS plan, in tiles of ``tile``
    rows (arguments as there); read is summed where ``read_X`` (X's values unchecked), else
    0."""
    m = X.shape[0]
    nc = n_tiled_chunks(m)
    bare, biases = bare_weights(w, layers)
    partial = np.zeros((nc, w.shape[0]), w.dtype)
    losses, read = np.zeros((nc, 1)), np.zeros(nc)
    for c in prange(nc):
        lo, hi = chunk(m, nc, c, 1)
        losses[c, 0], read[c] = tiled_chunk(X, Y, weights, w, layers, codes, bare, biases, lo,
                                            hi, partial[c], tile, read_X)
    return fixed_order_sum(losses)[0], fixed_order_sum(partial), read.sum()


@kernel()
def _tiled_forward_rows(X, layers, codes, bare, biases, lo, hi, pre_out, act_out, tile):
    """Rows lo..hi-1 of the last columns of z (pre_out) and the units' values (act_out);
    returns the sum of their |x| (``fused.States.read``)."""
    n = layers.shape[0] - 1
    tile = min(tile, hi - lo)  # the same tiles; buffers no larger than the chunk's rows
    z, a = tile_states(layers, values(X), tile)
    dense = scratch(X, tile)
    units_at = offsets(layers).units
    first_pre, first_act = units_at[-1] - pre_out.shape[1], units_at[-1] - act_out.shape[1]
    read = 0.0
    for r in range(lo, hi, tile):
        rows = min(tile, hi - r)
        x = tile_rows(X, r, rows, dense)
        read += magnitude(X, x)  # the tile in cache for the product that reads it next
        forward_tile(x, layers, codes, bare, biases, z, a, tile, act_out.shape[1] > 0)
        for l in range(1, n + 1):
            u0 = units_at[l - 1]  # layer l's first unit among layers 2..L
            if u0 + layers[l] > first_pre:
                _copy_units(layer_view(z, layers, l, rows, tile), u0 - first_pre, pre_out, r)
            if u0 + layers[l] > first_act:
                _copy_units(layer_view(a, layers, l, rows, tile), u0 - first_act, act_out, r)
    return read


@kernel()
def _copy_units(state, column, out, r):
    """out[r + i, column + j] = state[i, j] where that column exists (column may be < 0)."""
    for i in range(state.shape[0]):
        for j in range(max(0, -column), state.shape[1]):
            out[r + i, column + j] = state[i, j]


@kernel(parallel=True, calls_blas=True)
def tiled_forward_states(X, w, layers, codes, pre_cols, act_cols, tile):
    """``(pre, act, read)``: the last ``pre_cols`` columns of z and ``act_cols`` of the units'
    values, every row, BLAS plan (as ``fused.forward_states``)."""
    m = X.shape[0]
    dtype = values(X).dtype
    pre, act = np.empty((m, pre_cols), dtype), np.empty((m, act_cols), dtype)
    nc = n_tiled_chunks(m)
    bare, biases = bare_weights(w, layers)
    read = np.zeros(nc)
    for c in prange(nc):
        lo, hi = chunk(m, nc, c, 1)
        read[c] = _tiled_forward_rows(X, layers, codes, bare, biases, lo, hi, pre, act, tile)
    return pre, act, read.sum()
