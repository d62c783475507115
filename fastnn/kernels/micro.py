"""The vector micro-kernels every layer runs on, four rows at a time.

``affine_4``: z = b + sum_k x_k W[:, k] over a list of input columns, the units of z in
registers; ``outer_4``: G[:, k] += sum_r x_rk d_r. Four rows x two vectors of units sit in
eight registers, and each vector of weights is loaded once for the four rows. Weights come in
the packed layout of :mod:`.packing`, a matrix of ``(1 + inputs, width)`` with width the
padded units; states are ``(GROUP_ROWS, width of all layers)`` buffers, a layer's units from a
column on.
"""

import numpy as np

from .._jit import kernel
from ..tunables import GROUP_ROWS
from .scalars import LOGISTIC, RELU, SOFTMAX, TANH
from .vectors import (lanes, vadd, vdiv, vexp, vfma, vlog, vlog_loss, vmax, vmul, vsigmoid,
                      vsplat, vstep, vstore, vsub, vtanh, vload)


# Inputs come as named parameters (x, rows, c0, cols, n), never as a tuple: a NamedTuple of
# arrays made per call costs its reference counts every time (X's, shared by both threads),
# and read inside the loops it cost cost_grad and predict 5-20 % (interleaved A/B, 2 threads).
@kernel()
def affine_4(x, rows, c0, cols, n, g0, wt, width, dst, dst_col, accumulate):
    """dst[g0 + r, dst_col + j] = wt[j] + sum_k x[rows[g0 + r], c0 + k] wt[(1 + k) width + j]
    for k in cols[:n], r < 4, j < width; with ``accumulate`` the sum is added to dst, no bias row.

    Two vectors of units at a time (one in the last step of an odd number): eight
    accumulators in registers, and each weight vector loaded once for the four rows.
    """
    L = lanes(wt)
    x0, x1, x2, x3 = x[rows[g0]], x[rows[g0 + 1]], x[rows[g0 + 2]], x[rows[g0 + 3]]
    z0, z1, z2, z3 = dst[g0], dst[g0 + 1], dst[g0 + 2], dst[g0 + 3]
    for j in range(0, width, 2 * L):
        pair = j + L < width
        if accumulate:
            a0, a1, a2, a3 = (vload(z0, dst_col + j), vload(z1, dst_col + j),
                              vload(z2, dst_col + j), vload(z3, dst_col + j))
        else:
            a0 = a1 = a2 = a3 = vload(wt, j)
        b0 = b1 = b2 = b3 = a0  # unused in a one-vector step
        if pair and accumulate:
            b0, b1, b2, b3 = (vload(z0, dst_col + j + L), vload(z1, dst_col + j + L),
                              vload(z2, dst_col + j + L), vload(z3, dst_col + j + L))
        elif pair:
            b0 = b1 = b2 = b3 = vload(wt, j + L)
        for t in range(n):
            k = cols[t]
            o = (1 + k) * width + j
            s0, s1 = vsplat(x0[c0 + k], wt), vsplat(x1[c0 + k], wt)
            s2, s3 = vsplat(x2[c0 + k], wt), vsplat(x3[c0 + k], wt)
            u = vload(wt, o)
            a0, a1, a2, a3 = vfma(s0, u, a0), vfma(s1, u, a1), vfma(s2, u, a2), vfma(s3, u, a3)
            if pair:
                v = vload(wt, o + L)
                b0, b1 = vfma(s0, v, b0), vfma(s1, v, b1)
                b2, b3 = vfma(s2, v, b2), vfma(s3, v, b3)
        vstore(z0, dst_col + j, a0)
        vstore(z1, dst_col + j, a1)
        vstore(z2, dst_col + j, a2)
        vstore(z3, dst_col + j, a3)
        if pair:
            vstore(z0, dst_col + j + L, b0)
            vstore(z1, dst_col + j + L, b1)
            vstore(z2, dst_col + j + L, b2)
            vstore(z3, dst_col + j + L, b3)


@kernel()
def outer_4(x, rows, c0, cols, n, g0, d, d_col, gt, width, bias):
    """gt[(1 + k) width + j] += sum_r x[rows[g0 + r], c0 + k] d[g0 + r, d_col + j] for k in
    cols[:n], r < 4, j < width; with ``bias`` also gt[j] += sum_r d[g0 + r, d_col + j].
    Two vectors of units at a time, as in ``affine_4``."""
    L = lanes(gt)
    x0, x1, x2, x3 = x[rows[g0]], x[rows[g0 + 1]], x[rows[g0 + 2]], x[rows[g0 + 3]]
    d0, d1, d2, d3 = d[g0], d[g0 + 1], d[g0 + 2], d[g0 + 3]
    for j in range(0, width, 2 * L):
        pair = j + L < width
        a0, a1, a2, a3 = (vload(d0, d_col + j), vload(d1, d_col + j), vload(d2, d_col + j),
                          vload(d3, d_col + j))
        b0 = b1 = b2 = b3 = a0
        if pair:
            b0, b1, b2, b3 = (vload(d0, d_col + j + L), vload(d1, d_col + j + L),
                              vload(d2, d_col + j + L), vload(d3, d_col + j + L))
        if bias:
            vstore(gt, j, vadd(vload(gt, j), vadd(vadd(a0, a1), vadd(a2, a3))))
            if pair:
                vstore(gt, j + L, vadd(vload(gt, j + L), vadd(vadd(b0, b1), vadd(b2, b3))))
        for t in range(n):
            k = cols[t]
            o = (1 + k) * width + j
            s0, s1 = vsplat(x0[c0 + k], gt), vsplat(x1[c0 + k], gt)
            s2, s3 = vsplat(x2[c0 + k], gt), vsplat(x3[c0 + k], gt)
            # two chains of two FMAs per vector, not one of four: half the latency
            vstore(gt, o, vadd(vfma(s0, a0, vfma(s1, a1, vload(gt, o))),
                               vfma(s2, a2, vmul(s3, a3))))
            if pair:
                vstore(gt, o + L, vadd(vfma(s0, b0, vfma(s1, b1, vload(gt, o + L))),
                                       vfma(s2, b2, vmul(s3, b3))))


@kernel()
def sparse_affine_4(data, indices, indptr, rows, g0, wt, width, dst, dst_col):
    """``affine_4`` of the first layer for CSR rows: dst[g0 + r, dst_col + j] = wt[j] + sum_p
    data[p] wt[(1 + indices[p]) width + j] over the entries p of row rows[g0 + r], r < 4, j < width.

    Each row over its own columns, ascending (the sums of ``affine_4`` over a dense row, its
    zeros left out: the same bits), four vectors of units at a time.
    """
    L = lanes(wt)
    for r in range(4):
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
def sparse_outer_4(data, indices, indptr, rows, g0, d, d_col, gt, width):
    """``outer_4`` of the first layer for CSR rows, bias row included: gt[j] += d[g0 + r, d_col +
    j] and gt[(1 + indices[p]) width + j] += data[p] d[g0 + r, d_col + j] over the entries p of
    row rows[g0 + r], r < 4, j < width; a row at a time, four vectors of deltas in registers."""
    L = lanes(gt)
    for r in range(4):
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
