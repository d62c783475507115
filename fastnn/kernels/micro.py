"""The vector micro-kernels every layer runs on, a tile of a group's rows at a time.

``affine_tile``: z = b + sum_k x_k W[:, k] over a list of input columns, the units of z in
registers; ``outer_tile``: G[:, k] += sum_r x_rk d_r. A tile's rows x two vectors of units
sit in registers, and each vector of weights is loaded once for the tile's rows:
``TILE_ROWS`` (``fastnn._isa``) is 8 where AVX-512's 32 registers hold sixteen accumulators,
4 where AVX2's 16 hold eight. Weights come in
the packed layout of :mod:`.packing`, a matrix of ``(1 + inputs, width)`` with width the
padded units; states are ``(GROUP_ROWS, width of all layers)`` buffers, a layer's units from a
column on.
"""

import numpy as np

from .._isa import TILE_ROWS
from .._jit import kernel
from ..tunables import GROUP_ROWS
from .scalars import LOGISTIC, RELU, SOFTMAX, TANH
from .vectors import (lanes, vadd, vdiv, vexp, vfma, vlog, vlog_loss, vmax, vmul, vsigmoid,
                      vsplat, vstep, vstore, vsub, vsum, vtanh, vload)


# Inputs come as named parameters (x, rows, c0, cols, n), never as a tuple: a NamedTuple of
# arrays made per call costs its reference counts every time (X's, shared by both threads),
# and read inside the loops it cost cost_grad and predict 5-20 % (interleaved A/B, 2 threads).
@kernel()
def affine_tile(x, rows, c0, cols, n, g0, wt, width, dst, dst_col, accumulate):
    """dst[g0 + r, dst_col + j] = wt[j] + sum_k x[rows[g0 + r], c0 + k] wt[(1 + k) width + j]
    for k in cols[:n], r < TILE_ROWS, j < width; with ``accumulate`` the sum is added to dst,
    no bias row.

    TILE_ROWS rows x two vectors of units in registers (one in the last step of an odd
    number): each weight vector is loaded once for the tile's rows.
    """
    L = lanes(wt)
    x0, x1, x2, x3 = x[rows[g0]], x[rows[g0 + 1]], x[rows[g0 + 2]], x[rows[g0 + 3]]
    x4, x5, x6, x7 = upper_rows(x, rows, g0)
    for j in range(0, width, 2 * L):
        pair = j + L < width
        a0, a1, a2, a3, a4, a5, a6, a7 = _starts(dst, g0, dst_col + j, wt, j, accumulate)
        b0, b1, b2, b3, b4, b5, b6, b7 = (
            _starts(dst, g0, dst_col + j + L, wt, j + L, accumulate) if pair else
            (a0, a0, a0, a0, a0, a0, a0, a0))  # unused in a one-vector step
        for t in range(n):
            k, o = c0 + cols[t], (1 + cols[t]) * width + j
            u = vload(wt, o)
            v = vload(wt, o + L) if pair else u
            a0, b0 = _fma_pair(x0[k], u, v, a0, b0, pair)
            a1, b1 = _fma_pair(x1[k], u, v, a1, b1, pair)
            a2, b2 = _fma_pair(x2[k], u, v, a2, b2, pair)
            a3, b3 = _fma_pair(x3[k], u, v, a3, b3, pair)
            if TILE_ROWS == 8:
                a4, b4 = _fma_pair(x4[k], u, v, a4, b4, pair)
                a5, b5 = _fma_pair(x5[k], u, v, a5, b5, pair)
                a6, b6 = _fma_pair(x6[k], u, v, a6, b6, pair)
                a7, b7 = _fma_pair(x7[k], u, v, a7, b7, pair)
        c = dst_col + j
        _store_pair(dst[g0], c, L, a0, b0, pair)
        _store_pair(dst[g0 + 1], c, L, a1, b1, pair)
        _store_pair(dst[g0 + 2], c, L, a2, b2, pair)
        _store_pair(dst[g0 + 3], c, L, a3, b3, pair)
        if TILE_ROWS == 8:
            _store_pair(dst[g0 + 4], c, L, a4, b4, pair)
            _store_pair(dst[g0 + 5], c, L, a5, b5, pair)
            _store_pair(dst[g0 + 6], c, L, a6, b6, pair)
            _store_pair(dst[g0 + 7], c, L, a7, b7, pair)


@kernel()
def dot_rows(buffer, c, n, wb, bias, k, dst, dst_col):
    """dst[g, dst_col + j] = bias[j] + sum_i buffer[g, c + i] wb[(1 + j) n + i] for every row
    g of the group and j < k: a dot product of whole vectors per row and unit, for a layer of
    few units (``packing.by_dots``). n: the inputs' padded width; wb: the layer's
    packed backward matrix (W[j, 1:] in row 1 + j, zero-padded); the padding lanes of dst
    are left as they are."""
    L = lanes(wb)
    for g in range(GROUP_ROWS):
        row = buffer[g]
        for j in range(k):
            o = (1 + j) * n
            total = vmul(vload(row, c), vload(wb, o))
            for i in range(L, n, L):
                total = vfma(vload(row, c + i), vload(wb, o + i), total)
            dst[g, dst_col + j] = bias[j] + vsum(total)


# ordered: as outer_tile
@kernel(ordered=True)
def dot_outer(buffer, c, n, d, d_col, k, gt, bias):
    """The gradient of a layer that ``dot_rows`` ran, transposed: gt[j (L + n) + L + i] +=
    sum_g buffer[g, c + i] d[g, d_col + j] over the group's rows, for j < k and i < n (whole
    vectors); with ``bias`` also gt[j (L + n)] += sum_g d[g, d_col + j]."""
    L = lanes(gt)
    for j in range(k):
        o = j * (L + n)
        if bias:
            total = d[0, d_col + j]
            for g in range(1, GROUP_ROWS):
                total += d[g, d_col + j]
            gt[o] += total
        for i in range(0, n, L):
            acc = vload(gt, o + L + i)
            for g in range(GROUP_ROWS):
                acc = vfma(vsplat(d[g, d_col + j], gt), vload(buffer[g], c + i), acc)
            vstore(gt, o + L + i, acc)


@kernel(inline=True)
def upper_rows(x, rows, g0):
    """Rows 4..7 of an eight-row tile; x's first row for a four-row tile (never read)."""
    if TILE_ROWS == 8:
        return x[rows[g0 + 4]], x[rows[g0 + 5]], x[rows[g0 + 6]], x[rows[g0 + 7]]
    return x[rows[g0]], x[rows[g0]], x[rows[g0]], x[rows[g0]]


@kernel(inline=True)
def _starts(dst, g0, col, wt, j, accumulate):
    """A tile's accumulators of one vector: dst's rows from column col, or the bias wt[j:] in
    every row."""
    if accumulate:
        return _tile_vectors(dst, g0, col)
    u = vload(wt, j)
    return u, u, u, u, u, u, u, u


@kernel(inline=True)
def _tile_vectors(buffer, g0, col):
    """The vectors from column col of the tile's rows of buffer, eight of them (a four-row
    tile's last four repeat its first, never read)."""
    a0, a1, a2, a3 = (vload(buffer[g0], col), vload(buffer[g0 + 1], col),
                      vload(buffer[g0 + 2], col), vload(buffer[g0 + 3], col))
    if TILE_ROWS == 8:
        return (a0, a1, a2, a3, vload(buffer[g0 + 4], col), vload(buffer[g0 + 5], col),
                vload(buffer[g0 + 6], col), vload(buffer[g0 + 7], col))
    return a0, a1, a2, a3, a0, a0, a0, a0


@kernel(inline=True)
def _fma_pair(xk, u, v, a, b, pair):
    """``(a + xk u, b + xk v)`` (b left where not ``pair``)."""
    s = vsplat(xk, u)
    return vfma(s, u, a), (vfma(s, v, b) if pair else b)


@kernel(inline=True)
def _store_pair(row, c, L, a, b, pair):
    vstore(row, c, a)
    if pair:
        vstore(row, c + L, b)


# ordered: as written, two chains of four FMAs per vector; with re-association LLVM made them
# one chain of eight, and waited on its latency (`python bench/ab.py 7bf7df3` on the change:
# Objective float32 on the digits 0.98x the time, hessp 0.96x)
@kernel(ordered=True)
def outer_tile(x, rows, c0, cols, n, g0, d, d_col, gt, width, bias):
    """gt[(1 + k) width + j] += sum_r x[rows[g0 + r], c0 + k] d[g0 + r, d_col + j] for k in
    cols[:n], r < TILE_ROWS, j < width; with ``bias`` also gt[j] += sum_r d[g0 + r, d_col + j].
    Two vectors of the tile's deltas in registers, as in ``affine_tile``."""
    L = lanes(gt)
    x0, x1, x2, x3 = x[rows[g0]], x[rows[g0 + 1]], x[rows[g0 + 2]], x[rows[g0 + 3]]
    x4, x5, x6, x7 = upper_rows(x, rows, g0)
    for j in range(0, width, 2 * L):
        pair = j + L < width
        a = _tile_vectors(d, g0, d_col + j)
        b = _tile_vectors(d, g0, d_col + j + L) if pair else a
        if bias:
            _add_rows(gt, j, a)
            if pair:
                _add_rows(gt, j + L, b)
        for t in range(n):
            k, o = c0 + cols[t], (1 + cols[t]) * width + j
            s = (vsplat(x0[k], gt), vsplat(x1[k], gt), vsplat(x2[k], gt), vsplat(x3[k], gt),
                 vsplat(x4[k], gt), vsplat(x5[k], gt), vsplat(x6[k], gt), vsplat(x7[k], gt))
            _add_outer(gt, o, s, a)
            if pair:
                _add_outer(gt, o + L, s, b)


@kernel(inline=True)
def _add_rows(gt, o, a):
    """gt[o:o + lanes] += the sum of the tile's vectors a."""
    total = vadd(vadd(a[0], a[1]), vadd(a[2], a[3]))
    if TILE_ROWS == 8:
        total = vadd(total, vadd(vadd(a[4], a[5]), vadd(a[6], a[7])))
    vstore(gt, o, vadd(vload(gt, o), total))


@kernel(inline=True)
def _add_outer(gt, o, s, a):
    """gt[o:o + lanes] += sum_r s[r] a[r] over the tile's rows: chains of two FMAs for four
    rows, of four for eight, added (half the latency of one chain)."""
    if TILE_ROWS == 8:
        first = vfma(s[0], a[0], vfma(s[1], a[1], vfma(s[2], a[2], vfma(s[3], a[3],
                                                                         vload(gt, o)))))
        second = vfma(s[4], a[4], vfma(s[5], a[5], vfma(s[6], a[6], vmul(s[7], a[7]))))
    else:
        first = vfma(s[0], a[0], vfma(s[1], a[1], vload(gt, o)))
        second = vfma(s[2], a[2], vmul(s[3], a[3]))
    vstore(gt, o, vadd(first, second))


@kernel()
def sparse_affine_tile(data, indices, indptr, rows, g0, wt, width, dst, dst_col):
    """``affine_tile`` of the first layer for CSR rows: dst[g0 + r, dst_col + j] = wt[j] +
    sum_p data[p] wt[(1 + indices[p]) width + j] over the entries p of row rows[g0 + r], r <
    TILE_ROWS, j < width.

    Each row over its own columns, ascending (the sums of ``affine_tile`` over a dense row, its
    zeros left out: the same bits), four vectors of units at a time.
    """
    L = lanes(wt)
    for r in range(TILE_ROWS):
        i, z = rows[g0 + r], dst[g0 + r]
        for j in range(0, width, 4 * L):
            more = (width - j) // L  # vectors left: the step takes up to four
            a0 = vload(wt, j)
            a1 = vload(wt, j + L) if more > 1 else a0
            a2 = vload(wt, j + 2 * L) if more > 2 else a0
            a3 = vload(wt, j + 3 * L) if more > 3 else a0
            for p in range(indptr[i], indptr[i + 1]):
                o = (1 + indices[p]) * width + j
                s = vsplat(data[p], wt)
                a0 = vfma(s, vload(wt, o), a0)
                if more > 1:
                    a1 = vfma(s, vload(wt, o + L), a1)
                if more > 2:
                    a2 = vfma(s, vload(wt, o + 2 * L), a2)
                if more > 3:
                    a3 = vfma(s, vload(wt, o + 3 * L), a3)
            vstore(z, dst_col + j, a0)
            if more > 1:
                vstore(z, dst_col + j + L, a1)
            if more > 2:
                vstore(z, dst_col + j + 2 * L, a2)
            if more > 3:
                vstore(z, dst_col + j + 3 * L, a3)


@kernel()
def sparse_outer_tile(data, indices, indptr, rows, g0, d, d_col, gt, width):
    """``outer_tile`` of the first layer for CSR rows, bias row included: gt[j] += d[g0 + r,
    d_col + j] and gt[(1 + indices[p]) width + j] += data[p] d[g0 + r, d_col + j] over the
    entries p of row rows[g0 + r], r < TILE_ROWS, j < width; a row at a time, four vectors of
    deltas in registers."""
    L = lanes(gt)
    for r in range(TILE_ROWS):
        i, e = rows[g0 + r], d[g0 + r]
        for j in range(0, width, 4 * L):
            more = (width - j) // L  # vectors left: the step takes up to four
            q0 = vload(e, d_col + j)
            q1 = vload(e, d_col + j + L) if more > 1 else q0
            q2 = vload(e, d_col + j + 2 * L) if more > 2 else q0
            q3 = vload(e, d_col + j + 3 * L) if more > 3 else q0
            for p in range(indptr[i], indptr[i + 1] + 1):
                bias = p == indptr[i + 1]  # after the entries: the bias row, an input of 1
                o = j if bias else (1 + indices[p]) * width + j
                s = vsplat(1.0 if bias else data[p], gt)
                vstore(gt, o, vfma(s, q0, vload(gt, o)))
                if more > 1:
                    vstore(gt, o + L, vfma(s, q1, vload(gt, o + L)))
                if more > 2:
                    vstore(gt, o + 2 * L, vfma(s, q2, vload(gt, o + 2 * L)))
                if more > 3:
                    vstore(gt, o + 3 * L, vfma(s, q3, vload(gt, o + 3 * L)))


@kernel()
def vactivate(v, code):
    """The activation ``code`` (:mod:`.scalars`) of every lane of v."""
    if code == LOGISTIC:
        return vsigmoid(v)
    if code == TANH:
        return vtanh(v)
    if code == RELU:
        return vmax(v, vsplat(0.0, v))
    return v


@kernel()
def vslope(a, code):
    """f'(z) of every lane, from a = f(z) (as ``scalars.slope``)."""
    if code == LOGISTIC:
        return vfma(vmul(vsplat(-1.0, a), a), a, a)
    if code == TANH:
        return vfma(vmul(vsplat(-1.0, a), a), a, vsplat(1.0, a))
    if code == RELU:
        return vstep(a)
    return vsplat(1.0, a)


@kernel(inline=True)
def activate_block(pre, act, c, width, code):
    """act[:, c:c + width] = f(pre[:, c:c + width]), f the activation ``code``, a vector at a
    time."""
    L = lanes(pre)
    for g in range(GROUP_ROWS):
        for j in range(c, c + width, L):
            vstore(act[g], j, vactivate(vload(pre[g], j), code))


@kernel(inline=True)
def times_slope(act, src, dst, c, width, code):
    """dst[:, c:c + width] = f'(z) src[:, c:c + width], f'(z) from act = f(z)."""
    L = lanes(act)
    for g in range(GROUP_ROWS):
        for j in range(c, c + width, L):
            vstore(dst[g], j, vmul(vslope(vload(act[g], j), code), vload(src[g], j)))


@kernel(inline=True)
def output_values(pre, act, rows, c, width, k, output):
    """act[:, c:c + width] = the output units' values from pre: sigmoids or z itself (every
    row), or the softmax over the k real units of the first ``rows`` rows."""
    if output != SOFTMAX:
        activate_block(pre, act, c, width, output)  # LOGISTIC and IDENTITY are both codes
        return
    for g in range(rows):
        softmax_row(pre[g, c:c + k], act[g, c:c + k])


@kernel()
def softmax_row(z, out):
    """out = softmax(z), from z - max(z): no overflow."""
    top = z.max()
    total = 0.0
    for k in range(z.shape[0]):
        out[k] = np.exp(z[k] - top)
        total += out[k]
    for k in range(z.shape[0]):
        out[k] /= total


@kernel()
def loss_columns(outputs, n, output):
    """outputs ``(2, K, >= n)`` float64, each output's z and targets t over n columns (rows of
    a batch, n a multiple of the lanes), become in place its residual dloss/dz and its loss
    term (summed over k: the row's loss): sigma(z) - t and the cross-entropy (LOGISTIC),
    z - t and (z - t)^2 / 2 (IDENTITY), or softmax(z) sum(t) - t and t (log-sum-exp(z) - z)
    (SOFTMAX)."""
    z, target = outputs[0], outputs[1]
    L = lanes(z[0])
    for g in range(0, n, L):
        if output == SOFTMAX:
            _softmax_loss(z, target, g)
            continue
        for k in range(z.shape[0]):
            zk, tk = vload(z[k], g), vload(target[k], g)
            if output == LOGISTIC:
                loss, residual = vlog_loss(zk, tk)
            else:
                residual = vsub(zk, tk)
                loss = vmul(vsplat(0.5, zk), vmul(residual, residual))
            vstore(z[k], g, residual)
            vstore(target[k], g, loss)


@kernel()
def weigh_column(outputs, j, s):
    """Column j (a row of the batch) of ``loss_columns``' residuals and losses times its
    sample weight s."""
    for k in range(outputs.shape[1]):
        outputs[0, k, j] *= s
        outputs[1, k, j] *= s


@kernel()
def _softmax_loss(z, target, g):
    """``loss_columns`` of softmax outputs for the lanes from column g on: every output's
    z - max(z) is <= 0 and the sum of their exponentials >= 1 (one term is exactly 1)."""
    K = z.shape[0]
    top = vload(z[0], g)
    for k in range(1, K):
        top = vmax(top, vload(z[k], g))
    total, mass = vsplat(0.0, z[0]), vsplat(0.0, z[0])
    for k in range(K):
        total = vadd(total, vexp(vsub(vload(z[k], g), top)))
        mass = vadd(mass, vload(target[k], g))
    log_total, scale = vlog(total), vdiv(mass, total)
    for k in range(K):
        d, tk = vsub(vload(z[k], g), top), vload(target[k], g)
        vstore(z[k], g, vsub(vmul(vexp(d), scale), tk))
        vstore(target[k], g, vmul(tk, vsub(log_total, d)))
