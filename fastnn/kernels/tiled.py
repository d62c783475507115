"""The BLAS plan: each layer of a tile of rows as one matrix product (wide, deep or dense nets).

Where layers are wide and the data dense, a matrix product blocked for the caches (BLAS GEMM,
through Numba's ``np.dot``) beats the fused micro-kernels, which re-read a group's inputs for
every pair of vectors of units. A worker walks its rows in tiles of ``tile`` rows
(``COST_GRAD_TILE``, ``FORWARD_TILE``; tests pass small ones): forward, every
layer ``z = a W^T`` then ``a = sigma(z + b)``; at the output the loss and ``delta = sigma(z) -
onehot``; backward, ``G += delta^T a`` and ``delta = (delta W) sigma'``. Intermediates are
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
from .packing import chunk, fixed_order_sum, offsets
from .scalars import sigmoid
from .vectors import lanes, vadd, vload, vsigmoid, vstore

CHUNK_ROWS = 256  # rows a chunk has at least, where m allows
CHUNKS = 16
# Rows per tile, measured with tiles of 32..512 rows interleaved in one process (2 cores, AVX2,
# the matrix shapes of bench/ in both dtypes): longer tiles were faster or equal everywhere for
# cost_grad (512 best or within 3 %); forward passes were best at 256-512 (256 within 6 %).
COST_GRAD_TILE = 512
FORWARD_TILE = 256


@kernel()
def n_tiled_chunks(m):
    """Chunks for m rows, a function of m alone: a power of two, at most CHUNKS, each with
    CHUNK_ROWS rows or more where m allows."""
    nc = 1
    while 2 * nc <= CHUNKS and 2 * nc * CHUNK_ROWS <= m:
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
def activate(z, b, a):
    """z[i, j] += b[j], then a = sigma(z) (with a of z's shape: ``a is None`` leaves it);
    rows contiguous, a vector at a time."""
    L = lanes(z[0])
    n = z.shape[1]
    for i in range(z.shape[0]):
        zi = z[i]
        j = 0
        while j + L <= n:
            u = vadd(vload(zi, j), vload(b, j))
            vstore(zi, j, u)
            if a is not None:
                vstore(a[i], j, vsigmoid(u))
            j += L
        for t in range(j, n):
            zi[t] += b[t]
            if a is not None:
                a[i, t] = sigmoid(zi[t])


@kernel()
def output_delta_loss(z, y, r, delta):
    """Loss summed over the rows (y[r + i] the label of row i); delta = sigma(z) - onehot.
    z and delta may be the same array. Both from v = z (target 0) or -z (target 1): the loss
    is softplus(v) and the residual +-sigma(v), with no cancellation when a unit saturates."""
    total = 0.0
    for i in range(z.shape[0]):
        label = y[r + i]
        for k in range(z.shape[1]):
            v = -z[i, k] if k == label else z[i, k]
            e = np.exp(-abs(v))
            total += max(v, 0.0) + np.log1p(e)
            s = 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)
            delta[i, k] = -s if k == label else s
    return total


@kernel()
def times_slope(a, delta):
    """delta *= sigma'(z) = a (1 - a), in place."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            delta[i, j] *= a[i, j] * (1.0 - a[i, j])


@kernel()
def add_outer(delta, inputs, product, G):
    """G[:, 0] += column sums of delta, G[:, 1:] += delta^T inputs (product: scratch)."""
    np.dot(delta.T, inputs, product)
    for j in range(G.shape[0]):
        s = 0.0
        for i in range(delta.shape[0]):
            s += delta[i, j]
        G[j, 0] += s
        G[j, 1:] += product[j]


@kernel()
def tile_buffers(layers, like, tile):
    """A worker's buffers: z and a of layers 2..L for ``tile`` rows (flat, layer by layer), two
    deltas and the scratch of one gradient product."""
    n = layers.shape[0] - 1
    units, widest, product = 0, 0, 0
    for l in range(n):
        units += layers[l + 1]
        widest = max(widest, layers[l + 1])
        product = max(product, layers[l + 1] * layers[l])
    z, a = np.zeros(tile * units, like.dtype), np.zeros(tile * units, like.dtype)
    return z, a, np.zeros((2, tile * widest), like.dtype), np.zeros(product, like.dtype)


@kernel()
def layer_view(flat, layers, i, rows, tile):
    """Layer i's ``(rows, s_i)`` block of a flat per-layer buffer (i >= 1)."""
    o = 0
    for l in range(1, i):
        o += tile * layers[l]
    return flat[o:o + rows * layers[i]].reshape(rows, layers[i])


@kernel()
def forward_tile(x, layers, bare, biases, z, a, tile):
    """z (bias added) and a = sigma(z) of layers 2..L-1, z of the output layer, for the
    tile's rows x ``(rows, s1)``."""
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
            al = layer_view(a, layers, l + 1, rows, tile)
            activate(zl, b, al)
            inputs = al
        else:
            activate(zl, b, None)


@kernel()
def tiled_chunk(X, y, w, layers, bare, biases, lo, hi, grad, tile):
    """Serial worker: loss summed over rows lo..hi-1; adds their gradient into grad (w's flat
    layout, w's dtype)."""
    n = layers.shape[0] - 1
    at, where = offsets(layers).weights, bare_at(layers)
    z, a, deltas, product = tile_buffers(layers, w, tile)
    loss = 0.0
    for r in range(lo, hi, tile):
        rows = min(tile, hi - r)
        x = X[r:r + rows]
        forward_tile(x, layers, bare, biases, z, a, tile)
        delta = layer_view(z, layers, n, rows, tile)
        loss += output_delta_loss(delta, y, r, delta)
        for l in range(n - 1, -1, -1):
            inputs = x if l == 0 else layer_view(a, layers, l, rows, tile)
            G = grad[at[l]:at[l + 1]].reshape(layers[l + 1], layers[l] + 1)
            add_outer(delta, inputs,
                      product[:layers[l + 1] * layers[l]].reshape(layers[l + 1], layers[l]), G)
            if l > 0:
                Wb = bare[where[l]:where[l + 1]].reshape(layers[l + 1], layers[l])
                back = deltas[l % 2, :rows * layers[l]].reshape(rows, layers[l])
                np.dot(delta, Wb, back)
                times_slope(inputs, back)
                delta = back
    return loss


@kernel(parallel=True)
def tiled_cost_grad_sums(X, y, w, layers, tile):
    """Loss and gradient (float64, shaped like w) summed over all rows of X, BLAS plan, in
    tiles of ``tile`` rows."""
    m = X.shape[0]
    nc = n_tiled_chunks(m)
    bare, biases = bare_weights(w, layers)
    partial = np.zeros((nc, w.shape[0]), w.dtype)
    losses = np.zeros((nc, 1))
    for c in prange(nc):
        lo, hi = chunk(m, nc, c, 1)
        losses[c, 0] = tiled_chunk(X, y, w, layers, bare, biases, lo, hi, partial[c], tile)
    return fixed_order_sum(losses)[0], fixed_order_sum(partial)


@kernel()
def _tiled_forward_rows(X, layers, bare, biases, lo, hi, pre_out, act_out, tile):
    """Rows lo..hi-1 of the last columns of z (pre_out) and sigma(z) (act_out)."""
    n = layers.shape[0] - 1
    z, a, _, _ = tile_buffers(layers, X, tile)
    units = offsets(layers).units[-1]
    first_pre, first_act = units - pre_out.shape[1], units - act_out.shape[1]
    for r in range(lo, hi, tile):
        rows = min(tile, hi - r)
        forward_tile(X[r:r + rows], layers, bare, biases, z, a, tile)
        u = 0
        for l in range(1, n + 1):
            zl, al = layer_view(z, layers, l, rows, tile), layer_view(a, layers, l, rows, tile)
            for j in range(layers[l]):
                for i in range(rows):
                    if u >= first_pre:
                        pre_out[r + i, u - first_pre] = zl[i, j]
                    if u >= first_act:
                        act_out[r + i, u - first_act] = al[i, j] if l < n else sigmoid(zl[i, j])
                u += 1


@kernel(parallel=True)
def tiled_forward_states(X, w, layers, pre_cols, act_cols, tile):
    """``(pre, act)``: the last ``pre_cols`` columns of z and ``act_cols`` of sigma(z), every
    row, BLAS plan (columns as in ``fused.forward_states``)."""
    m = X.shape[0]
    pre, act = np.empty((m, pre_cols), X.dtype), np.empty((m, act_cols), X.dtype)
    nc = n_tiled_chunks(m)
    bare, biases = bare_weights(w, layers)
    for c in prange(nc):
        lo, hi = chunk(m, nc, c, 1)
        _tiled_forward_rows(X, layers, bare, biases, lo, hi, pre, act, tile)
    return pre, act
