"""Numba kernels: one fused pass over the rows for forward, cost and backprop.

Layout: ``w`` is the flat row-major parameter vector in the compute dtype T (float64 or
float32), ``layers`` an int64 array of layer sizes, X ``(m, s1)`` C-contiguous of dtype T,
y int64 labels. Rows are walked in groups of ``GROUP``; each group goes forward through every
layer and back while it is in cache.

Every layer runs on one pair of vector micro-kernels (:mod:`fastnn._simd`): ``_affine_4``
(z = b + sum_k x_k W[:, k] over a list of input columns, for four rows, the units of z in
registers) and ``_outer_4`` (G[:, k] += sum_r x_rk d_r). For them the weights are laid out
again once per call (``_packed``): each matrix transposed, one row of units per input, bias
row first, units zero-padded to whole vectors; and for back-propagation W[:, 1:]
itself, padded, under a zero bias row. The first layer reads only the columns where one of
the four rows is non-zero (three quarters of a digit image are blank): lists found per group,
or once for all calls by ``nonzero_columns`` (``Objective`` does). A group's state lives in
``(GROUP, width)`` buffers, layer i's padded units from column ``col[i]`` on (``_layout``).

Parallel drivers split the rows into a number of chunks that depends on m alone (never on the
thread count), each a whole number of groups (``_chunk_rows``); each chunk accumulates into its
own row of a buffer, and the rows are summed in a fixed order afterwards, so results are
bitwise identical for any ``NUMBA_NUM_THREADS``.
"""

import numpy as np
from numba import prange

from ._jit import kernel
from ._simd import lanes, vadd, vfma, vload, vlog_loss, vmul, vsigmoid, vsplat, vstore

GROUP = 8  # rows per group: two calls of the four-row micro-kernels
CHUNKS = 16  # at most this many chunks per parallel call: enough for 16 threads to share


@kernel()
def sigmoid(z):
    """Logistic function of a scalar; exp never overflows, saturation gives exact 0 or 1."""
    if z >= 0:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z)
    return e / (1.0 + e)


@kernel()
def sigmoid_gradient_from_activation(a):
    """sigma'(z) written with a = sigma(z)."""
    return a * (1.0 - a)


@kernel()
def n_chunks(m):
    """Chunks of rows for m rows: a function of m alone, so results do not depend on threads."""
    return max(1, min(CHUNKS, (m + GROUP - 1) // GROUP))


@kernel()
def _chunk_rows(m, nc, c):
    """Rows ``(lo, hi)`` of chunk c of nc: whole groups, so that a group's blocks of four rows
    start at multiples of four, as in ``nonzero_columns``."""
    groups = (m + GROUP - 1) // GROUP
    return c * groups // nc * GROUP, min(m, (c + 1) * groups // nc * GROUP)


@kernel()
def _offsets(layers):
    """Start of each weight matrix in w, and of each layer's units in a row of all units."""
    n = layers.shape[0] - 1
    w_off = np.zeros(n + 1, np.int64)
    u_off = np.zeros(n + 1, np.int64)
    for l in range(n):
        w_off[l + 1] = w_off[l] + layers[l + 1] * (layers[l] + 1)
        u_off[l + 1] = u_off[l] + layers[l + 1]
    return w_off, u_off


@kernel()
def _layout(layers, like):
    """``(hp, col, t_off, b_off)`` for the micro-kernels in like's dtype.

    hp[i]: the units of layer i padded to whole vectors (i >= 1); col[i]: where layer
    i starts in a group buffer row, col[-1] the row's width; t_off[l]: where layer l's forward
    matrix ``(layers[l] + 1, hp[l + 1])`` starts in the packed weights; b_off[l]: where its
    backward matrix ``(layers[l + 1] + 1, hp[l])`` starts (layers l >= 1 only).
    """
    n = layers.shape[0] - 1
    step = lanes(like)
    hp, col = np.zeros(n + 1, np.int64), np.zeros(n + 2, np.int64)
    t_off, b_off = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
    for i in range(1, n + 1):
        hp[i] = (layers[i] + step - 1) // step * step
        col[i + 1] = col[i] + hp[i]
    for l in range(n):
        t_off[l + 1] = t_off[l] + (layers[l] + 1) * hp[l + 1]
        b_off[l + 1] = b_off[l] + (0 if l == 0 else (layers[l + 1] + 1) * hp[l])
    return hp, col, t_off, b_off


@kernel()
def _packed(w, layers, lay):
    """w in the micro-kernels' layout: ``(forward, backward)`` flat arrays (``_layout``)."""
    hp, _, t_off, b_off = lay
    w_off, _ = _offsets(layers)
    forward, backward = np.zeros(t_off[-1], w.dtype), np.zeros(b_off[-1], w.dtype)
    for l in range(layers.shape[0] - 1):
        W = w[w_off[l]:w_off[l + 1]].reshape(layers[l + 1], layers[l] + 1)
        for j in range(layers[l + 1]):
            for i in range(layers[l] + 1):
                forward[t_off[l] + i * hp[l + 1] + j] = W[j, i]
                if l > 0 and i > 0:
                    backward[b_off[l] + (1 + j) * hp[l] + i - 1] = W[j, i]
    return forward, backward


@kernel()
def _add_unpacked(packed_grad, layers, lay, grad):
    """grad += packed_grad, a gradient accumulated in the packed forward layout."""
    hp, _, t_off, _ = lay
    w_off, _ = _offsets(layers)
    for l in range(layers.shape[0] - 1):
        G = grad[w_off[l]:w_off[l + 1]].reshape(layers[l + 1], layers[l] + 1)
        for j in range(layers[l + 1]):
            for i in range(layers[l] + 1):
                G[j, i] += packed_grad[t_off[l] + i * hp[l + 1] + j]


@kernel()
def no_column_lists():
    """``columns`` with no lists: workers find each group's non-zero input columns themselves."""
    return np.zeros(0, np.int64), np.zeros(0, np.int32)


@kernel()
def _scratch(layers, lay, like, columns):
    """Per-worker buffers: ``(pre, act, delta)`` group state (zeroed: padding stays 0), and
    ``(rows, ident, units, starts, cols, mass, block)``: the group's rows, 0..GROUP-1, 0..max
    width, non-zero input columns of blocks of four rows (block b's are cols[starts[b]:starts[b
    + 1]]), a row of X's width, and the group's first block. ``columns`` are ``(starts, cols)``
    from ``nonzero_columns``, or ``no_column_lists()``: then each group's two blocks are found in
    the worker's own lists.
    """
    state = np.zeros((GROUP, lay[1][-1]), like.dtype)
    s1 = layers[0]
    starts, cols = columns
    if starts.shape[0] == 0:
        starts, cols = np.zeros(3, np.int64), np.empty(2 * s1, np.int32)
    units = np.arange(layers.max()).astype(np.int32)  # the same index type as cols
    return ((state, state.copy(), state.copy()),
            (np.empty(GROUP, np.int64), np.arange(GROUP), units, starts, cols,
             np.empty(s1, like.dtype), np.zeros(1, np.int64)))


@kernel()
def _group_rows(lo, hi, rows):
    """Fill rows with lo, lo+1, ..., clamped to hi-1; return how many are real rows."""
    for g in range(GROUP):
        rows[g] = min(lo + g, hi - 1)
    return min(GROUP, hi - lo)


@kernel()
def _nonzero_columns(X, rows, g0, cols, mass):
    """Columns where one of the rows X[rows[g0:g0 + 4]] is non-zero, into cols; their count.

    Two passes: the columns' absolute sums (a vectorised loop; X is finite), then a
    branch-free compaction of the positive ones.
    """
    x0, x1, x2, x3 = X[rows[g0]], X[rows[g0 + 1]], X[rows[g0 + 2]], X[rows[g0 + 3]]
    for k in range(X.shape[1]):
        mass[k] = (abs(x0[k]) + abs(x1[k])) + (abs(x2[k]) + abs(x3[k]))
    n = 0
    for k in range(X.shape[1]):
        cols[n] = k
        n += mass[k] > 0
    return n


@kernel()
def _find_columns(X, rows, starts, cols, mass):
    """The non-zero columns of the two blocks of four rows in ``rows`` (a group), into cols:
    block h's are ``cols[starts[h]:starts[h + 1]]``, starts[0] = 0."""
    for half in range(2):
        starts[half + 1] = starts[half] + _nonzero_columns(X, rows, 4 * half,
                                                           cols[starts[half]:], mass)


@kernel()
def _start_group(X, groups, r, hi, columns):
    """Set groups up for the group of rows from r on (rows up to hi): its rows, and its
    blocks' non-zero columns -- blocks r // 4 and r // 4 + 1 of ``columns`` from
    ``nonzero_columns``, or its own lists, found now. Returns how many rows are real."""
    rows, _, _, starts, cols, mass, block = groups
    valid = _group_rows(r, hi, rows)
    if columns[0].shape[0] > 0:
        block[0] = r // 4
    else:
        _find_columns(X, rows, starts, cols, mass)
    return valid


@kernel(parallel=True)
def nonzero_columns(X):
    """``(starts, cols)``: the non-zero columns of block b, rows 4b..4b+3 of X, are
    ``cols[starts[b]:starts[b + 1]]`` (int32); two blocks per group of rows, found as the
    workers find them (``_find_columns``). Two passes: the lists' lengths, then the lists."""
    m = X.shape[0]
    nc = n_chunks(m)
    starts, cols = np.zeros((m + GROUP - 1) // GROUP * 2 + 1, np.int64), np.empty(0, np.int32)
    for fill in range(2):
        if fill:
            for b in range(starts.shape[0] - 1):  # lengths -> starts
                starts[b + 1] += starts[b]
            cols = np.empty(starts[-1], np.int32)
        for c in prange(nc):
            rows, mass = np.empty(GROUP, np.int64), np.empty(X.shape[1], X.dtype)
            found_at, found = np.zeros(3, np.int64), np.empty(2 * X.shape[1], np.int32)
            lo, hi = _chunk_rows(m, nc, c)
            for r in range(lo, hi, GROUP):
                _group_rows(r, hi, rows)
                _find_columns(X, rows, found_at, found, mass)
                b = r // 4
                if fill:  # both blocks' lists at once: they are contiguous in cols too
                    for t in range(found_at[2]):
                        cols[starts[b] + t] = found[t]
                else:
                    starts[b + 1], starts[b + 2] = found_at[1], found_at[2] - found_at[1]
    return starts, cols


@kernel()
def _affine_4(src, rows, c0, g0, cols, n, wt, hp, dst, d0, accumulate):
    """dst[g0 + r, d0 + j] = wt[j] + sum_k src[rows[g0 + r], c0 + k] wt[(1 + k) hp + j] for
    k in cols[:n], r < 4, j < hp; with ``accumulate`` the sum is added to dst, no bias row.

    Two vectors of units at a time (one in the last step of an odd number): eight
    accumulators in registers, and each weight vector loaded once for the four rows.
    """
    L = lanes(wt)
    x0, x1, x2, x3 = src[rows[g0]], src[rows[g0 + 1]], src[rows[g0 + 2]], src[rows[g0 + 3]]
    z0, z1, z2, z3 = dst[g0], dst[g0 + 1], dst[g0 + 2], dst[g0 + 3]
    for j in range(0, hp, 2 * L):
        pair = j + L < hp
        if accumulate:
            a0, a1, a2, a3 = (vload(z0, d0 + j), vload(z1, d0 + j), vload(z2, d0 + j),
                              vload(z3, d0 + j))
        else:
            a0 = a1 = a2 = a3 = vload(wt, j)
        b0 = b1 = b2 = b3 = a0  # unused in a one-vector step
        if pair and accumulate:
            b0, b1, b2, b3 = (vload(z0, d0 + j + L), vload(z1, d0 + j + L),
                              vload(z2, d0 + j + L), vload(z3, d0 + j + L))
        elif pair:
            b0 = b1 = b2 = b3 = vload(wt, j + L)
        for t in range(n):
            k = cols[t]
            o = (1 + k) * hp + j
            s0, s1 = vsplat(x0[c0 + k], wt), vsplat(x1[c0 + k], wt)
            s2, s3 = vsplat(x2[c0 + k], wt), vsplat(x3[c0 + k], wt)
            u = vload(wt, o)
            a0, a1, a2, a3 = vfma(s0, u, a0), vfma(s1, u, a1), vfma(s2, u, a2), vfma(s3, u, a3)
            if pair:
                v = vload(wt, o + L)
                b0, b1 = vfma(s0, v, b0), vfma(s1, v, b1)
                b2, b3 = vfma(s2, v, b2), vfma(s3, v, b3)
        vstore(z0, d0 + j, a0)
        vstore(z1, d0 + j, a1)
        vstore(z2, d0 + j, a2)
        vstore(z3, d0 + j, a3)
        if pair:
            vstore(z0, d0 + j + L, b0)
            vstore(z1, d0 + j + L, b1)
            vstore(z2, d0 + j + L, b2)
            vstore(z3, d0 + j + L, b3)


@kernel()
def _outer_4(src, rows, c0, g0, cols, n, d, e0, gt, hp, bias):
    """gt[(1 + k) hp + j] += sum_r src[rows[g0 + r], c0 + k] d[g0 + r, e0 + j] for k in
    cols[:n], r < 4, j < hp; with ``bias`` also gt[j] += sum_r d[g0 + r, e0 + j].
    Two vectors of units at a time, as in ``_affine_4``."""
    L = lanes(gt)
    x0, x1, x2, x3 = src[rows[g0]], src[rows[g0 + 1]], src[rows[g0 + 2]], src[rows[g0 + 3]]
    d0, d1, d2, d3 = d[g0], d[g0 + 1], d[g0 + 2], d[g0 + 3]
    for j in range(0, hp, 2 * L):
        pair = j + L < hp
        a0, a1, a2, a3 = (vload(d0, e0 + j), vload(d1, e0 + j), vload(d2, e0 + j),
                          vload(d3, e0 + j))
        b0 = b1 = b2 = b3 = a0
        if pair:
            b0, b1, b2, b3 = (vload(d0, e0 + j + L), vload(d1, e0 + j + L),
                              vload(d2, e0 + j + L), vload(d3, e0 + j + L))
        if bias:
            vstore(gt, j, vadd(vload(gt, j), vadd(vadd(a0, a1), vadd(a2, a3))))
            if pair:
                vstore(gt, j + L, vadd(vload(gt, j + L), vadd(vadd(b0, b1), vadd(b2, b3))))
        for t in range(n):
            k = cols[t]
            o = (1 + k) * hp + j
            s0, s1 = vsplat(x0[c0 + k], gt), vsplat(x1[c0 + k], gt)
            s2, s3 = vsplat(x2[c0 + k], gt), vsplat(x3[c0 + k], gt)
            # two chains of two FMAs per vector, not one of four: half the latency
            vstore(gt, o, vadd(vfma(s0, a0, vfma(s1, a1, vload(gt, o))),
                               vfma(s2, a2, vmul(s3, a3))))
            if pair:
                vstore(gt, o + L, vadd(vfma(s0, b0, vfma(s1, b1, vload(gt, o + L))),
                                       vfma(s2, b2, vmul(s3, b3))))


@kernel()
def _sigmoid_block(pre, act, c, hp):
    """act[:, c:c + hp] = sigma(pre[:, c:c + hp]), a vector at a time."""
    L = lanes(pre)
    for g in range(GROUP):
        for j in range(c, c + hp, L):
            vstore(act[g], j, vsigmoid(vload(pre[g], j)))


@kernel()
def _times_slope(act, src, dst, c, hp):
    """dst[:, c:c + hp] = sigma'(z) src[:, c:c + hp], sigma'(z) = a (1 - a) from act."""
    L = lanes(act)
    minus = vsplat(-1.0, act)
    for g in range(GROUP):
        for j in range(c, c + hp, L):
            a = vload(act[g], j)
            vstore(dst[g], j, vmul(vfma(vmul(minus, a), a, a), vload(src[g], j)))


@kernel()
def _inputs(X, act, layers, l, lay, groups, half):
    """Source of layer l's inputs for the micro-kernels: ``(src, rows, c0, cols, n)`` -- X's
    non-zero columns for l = 0, all units of the previous layer's block otherwise."""
    rows, ident, units, starts, cols, _, block = groups
    if l == 0:
        b = block[0] + half
        return X, rows, 0, cols[starts[b]:], starts[b + 1] - starts[b]
    return act, ident, lay[1][l], units, layers[l]


@kernel()
def _forward_group(X, packed, layers, lay, state, groups):
    """Pre-activations z of every layer into pre, hidden activations sigma(z) into act."""
    pre, act, _ = state
    hp, col, t_off, _ = lay
    n = layers.shape[0] - 1
    for l in range(n):
        for half in range(2):
            src, srows, c0, scols, k = _inputs(X, act, layers, l, lay, groups, half)
            _affine_4(src, srows, c0, 4 * half, scols, k,
                      packed[0][t_off[l]:t_off[l + 1]], hp[l + 1], pre, col[l + 1], False)
        if l < n - 1:
            _sigmoid_block(pre, act, col[l + 1], hp[l + 1])


@kernel()
def _back_propagate(B, hp, n, state_in, state_out, c_in, c_out, ident, units, accumulate):
    """state_out[:, c_out:] (+)= W[:, 1:]^T state_in[:, c_in:] for the group, B the backward
    matrix of W (``_packed``), n the units of the layer above."""
    for half in range(2):
        _affine_4(state_in, ident, c_in, 4 * half, units, n, B, hp, state_out, c_out,
                  accumulate)


@kernel()
def _output_delta(pre, y, rows, valid, z0, delta, scratch):
    """Loss summed over the group's real rows; output deltas sigma(z) - onehot (0 on padding).

    In float64, a vector of rows at a time: each output's z of the group and its targets go to
    ``scratch`` ``(2, K, GROUP)`` float64, transposed, and come back as residual and loss.
    """
    z, target = scratch[0], scratch[1]
    for g in range(GROUP):
        label = y[rows[g]]
        for k in range(z.shape[0]):
            z[k, g] = pre[g, z0 + k]
            target[k, g] = k == label
    L = lanes(z)
    for k in range(z.shape[0]):
        for g in range(0, GROUP, L):
            loss, residual = vlog_loss(vload(z[k], g), vload(target[k], g))
            vstore(z[k], g, residual)
            vstore(target[k], g, loss)
    total = 0.0
    for g in range(GROUP):
        for k in range(z.shape[0]):
            if g < valid:
                total += target[k, g]
            delta[g, z0 + k] = z[k, g] if g < valid else 0
    return total


@kernel()
def _backward_group(X, packed, layers, lay, state, groups, grad):
    """Back-propagate the group's output deltas; add its gradient into grad (packed)."""
    _, act, delta = state
    hp, col, t_off, b_off = lay
    ident, units = groups[1], groups[2]
    for l in range(layers.shape[0] - 2, -1, -1):
        for half in range(2):
            src, srows, c0, scols, k = _inputs(X, act, layers, l, lay, groups, half)
            _outer_4(src, srows, c0, 4 * half, scols, k, delta, col[l + 1],
                     grad[t_off[l]:t_off[l + 1]], hp[l + 1], True)
        if l > 0:
            _back_propagate(packed[1][b_off[l]:b_off[l + 1]], hp[l], layers[l + 1], delta,
                            delta, col[l + 1], col[l], ident, units, False)
            _times_slope(act, delta, delta, col[l], hp[l])


@kernel()
def _cost_grad_chunk(X, y, layers, lay, packed, columns, lo, hi, packed_grad, with_grad):
    """Serial worker on packed weights: summed loss over rows lo..hi-1; adds their summed
    gradient into packed_grad (packed layout) when ``with_grad``. ``columns``: see
    ``_scratch``; cached lists need lo to be a multiple of four."""
    state, groups = _scratch(layers, lay, packed[0], columns)
    scratch = np.empty((2, layers[-1], GROUP))
    rows, col = groups[0], lay[1]
    loss = 0.0
    for r in range(lo, hi, GROUP):
        valid = _start_group(X, groups, r, hi, columns)
        _forward_group(X, packed, layers, lay, state, groups)
        loss += _output_delta(state[0], y, rows, valid, col[-2], state[2], scratch)
        if with_grad:
            _backward_group(X, packed, layers, lay, state, groups, packed_grad)
    return loss


@kernel()
def cost_grad_rows(X, y, w, layers, lo, hi, grad, with_grad=True):
    """Serial worker: summed loss over rows lo..hi-1; adds their summed gradient into grad
    (left alone when not ``with_grad``)."""
    lay = _layout(layers, w)
    packed = _packed(w, layers, lay)
    packed_grad = np.zeros(packed[0].shape[0] if with_grad else 0, w.dtype)
    loss = _cost_grad_chunk(X, y, layers, lay, packed, no_column_lists(), lo, hi, packed_grad,
                            with_grad)
    if with_grad:
        _add_unpacked(packed_grad, layers, lay, grad)
    return loss


@kernel()
def _r_forward_group(X, pw, pv, layers, lay, state, r_state, groups):
    """Directional derivatives along v (Pearlmutter's R-operator) of every z into rz, and of
    the hidden activations, R{a} = sigma'(z) R{z}, into ra."""
    _, act, _ = state
    rz, ra, _ = r_state
    hp, col, t_off, _ = lay
    ident, units = groups[1], groups[2]
    n = layers.shape[0] - 1
    for l in range(n):
        for half in range(2):  # R{z} = V [1, a] (+ W[:, 1:] R{a} above the inputs)
            src, srows, c0, scols, k = _inputs(X, act, layers, l, lay, groups, half)
            _affine_4(src, srows, c0, 4 * half, scols, k,
                      pv[0][t_off[l]:t_off[l + 1]], hp[l + 1], rz, col[l + 1], False)
            if l > 0:
                _affine_4(ra, ident, col[l], 4 * half, units, layers[l],
                          pw[0][t_off[l]:t_off[l + 1]], hp[l + 1], rz, col[l + 1], True)
        if l < n - 1:
            _times_slope(act, rz, ra, col[l + 1], hp[l + 1])


@kernel()
def _r_backward_group(X, pw, pv, layers, lay, state, r_state, groups, hv):
    """Back-propagate deltas and their R{.} together; add R{gradient} of the group into hv
    (packed)."""
    _, act, delta = state
    rz, ra, rdelta = r_state
    hp, col, t_off, b_off = lay
    ident, units = groups[1], groups[2]
    for l in range(layers.shape[0] - 2, -1, -1):
        H = hv[t_off[l]:t_off[l + 1]]
        for half in range(2):  # R{delta [1, a]^T} = R{delta} [1, a]^T + delta [0, R{a}]^T
            src, srows, c0, scols, k = _inputs(X, act, layers, l, lay, groups, half)
            _outer_4(src, srows, c0, 4 * half, scols, k, rdelta, col[l + 1],
                     H, hp[l + 1], True)
            if l > 0:
                _outer_4(ra, ident, col[l], 4 * half, units, layers[l], delta, col[l + 1], H,
                         hp[l + 1], False)
        if l == 0:
            continue
        WB, VB = pw[1][b_off[l]:b_off[l + 1]], pv[1][b_off[l]:b_off[l + 1]]
        # back = W^T delta; R{back} = V^T delta + W^T R{delta}
        _back_propagate(WB, hp[l], layers[l + 1], delta, delta, col[l + 1], col[l], ident,
                        units, False)
        _back_propagate(VB, hp[l], layers[l + 1], delta, rdelta, col[l + 1], col[l], ident,
                        units, False)
        _back_propagate(WB, hp[l], layers[l + 1], rdelta, rdelta, col[l + 1], col[l], ident,
                        units, True)
        for g in range(GROUP):
            for j in range(col[l], col[l] + layers[l]):
                a, back = act[g, j], delta[g, j]
                slope = sigmoid_gradient_from_activation(a)
                delta[g, j] = back * slope
                # R{sigma'(z)} = sigma''(z) R{z}, with sigma'' = sigma' (1 - 2 sigma)
                rdelta[g, j] = rdelta[g, j] * slope + back * slope * (1.0 - 2.0 * a) * rz[g, j]


@kernel()
def _hessp_chunk(X, y, layers, lay, pw, pv, columns, lo, hi, packed_hv):
    """Serial worker on packed w and v: adds the Hessian of the summed loss over rows
    lo..hi-1 times v into packed_hv (packed layout). ``columns`` as in ``_cost_grad_chunk``."""
    state, groups = _scratch(layers, lay, pw[0], columns)
    scratch = np.empty((2, layers[-1], GROUP))
    r_state = (np.zeros_like(state[0]), np.zeros_like(state[0]), np.zeros_like(state[0]))
    rows, col, hp = groups[0], lay[1], lay[0]
    pre, act, delta = state
    rz, _, rdelta = r_state
    z0 = col[-2]
    for r in range(lo, hi, GROUP):
        valid = _start_group(X, groups, r, hi, columns)
        _forward_group(X, pw, layers, lay, state, groups)
        _output_delta(pre, y, rows, valid, z0, delta, scratch)
        _r_forward_group(X, pw, pv, layers, lay, state, r_state, groups)
        _sigmoid_block(pre, act, z0, hp[-1])  # R{sigma(z) - y} = sigma'(z) R{z}
        _times_slope(act, rz, rdelta, z0, hp[-1])
        rdelta[valid:, z0:] = 0
        _r_backward_group(X, pw, pv, layers, lay, state, r_state, groups, packed_hv)


@kernel()
def _fixed_order_sum(partial):
    """Sum the rows of partial in order, in float64: the same bits for any thread count."""
    total = np.zeros(partial.shape[1])
    for c in range(partial.shape[0]):
        for p in range(partial.shape[1]):
            total[p] += partial[c, p]
    return total


@kernel()
def _summed_unpacked(partial, layers, lay, size):
    """The rows of partial (packed layout) summed in a fixed order, unpacked: ``(size,)``."""
    total = np.zeros(size)
    _add_unpacked(_fixed_order_sum(partial), layers, lay, total)
    return total


@kernel(parallel=True)
def cost_grad_sums(X, y, w, layers, columns):
    """Loss and gradient (float64, shaped like w) summed over all rows of X. ``columns``:
    ``nonzero_columns(X)``, or empty arrays ``(int64, int32)`` to find them on the way."""
    m = X.shape[0]
    nc = n_chunks(m)
    lay = _layout(layers, w)
    packed = _packed(w, layers, lay)
    partial = np.zeros((nc, packed[0].shape[0]), w.dtype)
    losses = np.zeros((nc, 1))
    for c in prange(nc):
        lo, hi = _chunk_rows(m, nc, c)
        losses[c, 0] = _cost_grad_chunk(X, y, layers, lay, packed, columns, lo, hi, partial[c],
                                        True)
    return _fixed_order_sum(losses)[0], _summed_unpacked(partial, layers, lay, w.shape[0])


@kernel(parallel=True)
def hessp_sums(X, y, w, v, layers, columns):
    """Hessian of the summed loss times v (float64, shaped like w), summed over all rows.
    ``columns`` as in ``cost_grad_sums``."""
    m = X.shape[0]
    nc = n_chunks(m)
    lay = _layout(layers, w)
    pw, pv = _packed(w, layers, lay), _packed(v, layers, lay)
    partial = np.zeros((nc, pw[0].shape[0]), w.dtype)
    for c in prange(nc):
        lo, hi = _chunk_rows(m, nc, c)
        _hessp_chunk(X, y, layers, lay, pw, pv, columns, lo, hi, partial[c])
    return _summed_unpacked(partial, layers, lay, w.shape[0])


@kernel()
def _forward_rows(X, layers, lay, packed, lo, hi, pre_out, act_out):
    """Rows lo..hi-1 of the last columns of z (into pre_out) and sigma(z) (into act_out)."""
    columns = no_column_lists()
    state, groups = _scratch(layers, lay, packed[0], columns)
    _, u_off = _offsets(layers)
    pre, act, _ = state
    col = lay[1]
    n, units = layers.shape[0] - 1, u_off[-1]
    first_pre, first_act = units - pre_out.shape[1], units - act_out.shape[1]
    for r in range(lo, hi, GROUP):
        valid = _start_group(X, groups, r, hi, columns)
        _forward_group(X, packed, layers, lay, state, groups)
        _sigmoid_block(pre, act, col[n], lay[0][n])
        for g in range(valid):
            for i in range(1, n + 1):
                for j in range(layers[i]):
                    u = u_off[i - 1] + j
                    if u >= first_pre:
                        pre_out[r + g, u - first_pre] = pre[g, col[i] + j]
                    if u >= first_act:
                        act_out[r + g, u - first_act] = act[g, col[i] + j]


@kernel(parallel=True)
def forward_states(X, w, layers, pre_cols, act_cols):
    """The last ``pre_cols`` columns of z and ``act_cols`` of sigma(z), for every row.

    Columns are the units of layers 2..L in order, the output layer last: ``(X, w, layers, 0,
    K)`` gives just the output activations h, ``(..., units, units)`` every layer's state.
    """
    m = X.shape[0]
    pre, act = np.empty((m, pre_cols), X.dtype), np.empty((m, act_cols), X.dtype)
    nc = n_chunks(m)
    lay = _layout(layers, w)
    packed = _packed(w, layers, lay)
    for c in prange(nc):
        _forward_rows(X, layers, lay, packed, c * m // nc, (c + 1) * m // nc, pre, act)
    return pre, act
