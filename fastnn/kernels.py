"""Numba kernels: one fused pass over the rows for forward, cost and backprop.

Layout: ``w`` is the flat row-major parameter vector in the compute dtype T (float64 or
float32), ``layers`` an int64 array of layer sizes, X ``(m, s1)`` C-contiguous of dtype T,
y int64 labels. Rows are walked in groups of ``GROUP``; each group goes forward through every
layer and back while it is in cache. A group's hidden state lives in two small buffers,
``act`` and ``delta`` of shape ``(GROUP, sum(layers[1:]))``, layer l+1 at column
``unit_offsets[l]``.

Parallel drivers split the rows into a number of chunks that depends on m alone (never on the
thread count); each chunk accumulates into its own row of a buffer, and the rows are summed in
a fixed order afterwards, so results are bitwise identical for any ``NUMBA_NUM_THREADS``.
"""

import numpy as np
from numba import prange

from ._jit import kernel

GROUP = 8  # rows per micro-kernel call: eight accumulators fill the vector registers
CHUNKS = 16  # at most this many chunks per parallel call: enough for 16 threads to share
_IDENT = np.arange(GROUP)  # row indices of a group's own buffers


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
def log_loss(z, target):
    """Loss of one output and its residual: (-(t log s + (1-t) log(1-s)), s - t), s = sigma(z).

    In float64 and stable for any z: log s = -(max(-z, 0) + log1p(exp(-|z|))), from one exp
    and one log1p; the residual is formed without the cancellation of s - 1 near saturation.
    """
    z = float(z)
    e = np.exp(-abs(z))
    small, large = e / (1.0 + e), 1.0 / (1.0 + e)  # sigma(-|z|), sigma(|z|)
    if target:
        return np.log1p(e) + max(-z, 0.0), -(small if z >= 0 else large)
    return np.log1p(e) + max(z, 0.0), (large if z >= 0 else small)


@kernel()
def n_chunks(m):
    """Chunks of rows for m rows: a function of m alone, so results do not depend on threads."""
    return max(1, min(CHUNKS, (m + GROUP - 1) // GROUP))


@kernel()
def _offsets(layers):
    """Start of each weight matrix in w, and of each layer's units in the group buffers."""
    n = layers.shape[0] - 1
    w_off = np.zeros(n + 1, np.int64)
    u_off = np.zeros(n + 1, np.int64)
    for l in range(n):
        w_off[l + 1] = w_off[l] + layers[l + 1] * (layers[l] + 1)
        u_off[l + 1] = u_off[l] + layers[l + 1]
    return w_off, u_off


@kernel()
def _group_rows(lo, hi, rows):
    """Fill rows with lo, lo+1, ..., clamped to hi-1; return how many are real rows."""
    for g in range(GROUP):
        rows[g] = min(lo + g, hi - 1)
    return min(GROUP, hi - lo)


@kernel()
def _row_views(src, rows, c0, n):
    """The GROUP rows src[rows[g], c0:c0+n] as 1-D views.

    Indexing views with a plain loop counter lets LLVM see unit-stride loads and vectorise;
    ``src[r, c0 + k]`` would carry a negative-index check per element and be gathered.
    """
    e = c0 + n
    return (src[rows[0], c0:e], src[rows[1], c0:e], src[rows[2], c0:e], src[rows[3], c0:e],
            src[rows[4], c0:e], src[rows[5], c0:e], src[rows[6], c0:e], src[rows[7], c0:e])


@kernel()
def _affine_4x2(x0, x1, x2, x3, W, dst, g0, d0):
    """dst[g0 + r, d0 + j] = W[j, 0] + W[j, 1:] . x_r for four rows x_r and all units j.

    Two units at a time: 6 loads feed 8 FMAs per step (one unit at a time needed 9 per 8,
    and ran at 2/3 of the speed). With an odd count the last unit is computed twice.
    """
    n_out = W.shape[0]
    for j in range(0, n_out, 2):
        i = min(j + 1, n_out - 1)
        u, v = W[j, 1:], W[i, 1:]
        a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = W.dtype.type(0)  # accumulate in W's dtype
        for k in range(u.shape[0]):
            a0 += u[k] * x0[k]
            a1 += u[k] * x1[k]
            a2 += u[k] * x2[k]
            a3 += u[k] * x3[k]
            b0 += v[k] * x0[k]
            b1 += v[k] * x1[k]
            b2 += v[k] * x2[k]
            b3 += v[k] * x3[k]
        p, q = W[j, 0], W[i, 0]
        dst[g0, d0 + j], dst[g0, d0 + i] = a0 + p, b0 + q
        dst[g0 + 1, d0 + j], dst[g0 + 1, d0 + i] = a1 + p, b1 + q
        dst[g0 + 2, d0 + j], dst[g0 + 2, d0 + i] = a2 + p, b2 + q
        dst[g0 + 3, d0 + j], dst[g0 + 3, d0 + i] = a3 + p, b3 + q


@kernel()
def _affine(src, rows, c0, W, dst, d0):
    """dst[g, d0 + j] = W[j, 0] + sum_k W[j, 1 + k] src[rows[g], c0 + k] for the GROUP rows."""
    x0, x1, x2, x3, x4, x5, x6, x7 = _row_views(src, rows, c0, W.shape[1] - 1)
    _affine_4x2(x0, x1, x2, x3, W, dst, 0, d0)
    _affine_4x2(x4, x5, x6, x7, W, dst, 4, d0)


@kernel()
def _accumulate_outer(delta, e0, src, rows, c0, G, bias=True):
    """G[i, 1+k] += sum_g delta[g, e0+i] src[rows[g], c0+k], and G[i, 0] += sum_g delta[g, e0+i]
    when ``bias`` (the bias input is 1)."""
    n = G.shape[1] - 1
    x0, x1, x2, x3, x4, x5, x6, x7 = _row_views(src, rows, c0, n)
    for i in range(G.shape[0]):
        e = e0 + i
        d0, d1, d2, d3 = delta[0, e], delta[1, e], delta[2, e], delta[3, e]
        d4, d5, d6, d7 = delta[4, e], delta[5, e], delta[6, e], delta[7, e]
        if bias:
            G[i, 0] += ((d0 + d1) + (d2 + d3)) + ((d4 + d5) + (d6 + d7))
        g = G[i, 1:]
        for k in range(n):
            g[k] += (d0 * x0[k] + d1 * x1[k] + d2 * x2[k] + d3 * x3[k]
                     + d4 * x4[k] + d5 * x5[k] + d6 * x6[k] + d7 * x7[k])


@kernel()
def _forward_group(X, rows, w, layers, w_off, u_off, pre, act):
    """Pre-activations z of every layer into pre, hidden activations sigma(z) into act."""
    n = layers.shape[0] - 1
    for l in range(n):
        W = w[w_off[l]:w_off[l + 1]].reshape(layers[l + 1], layers[l] + 1)
        if l == 0:
            _affine(X, rows, 0, W, pre, 0)
        else:
            _affine(act, _IDENT, u_off[l - 1], W, pre, u_off[l])
        if l < n - 1:
            for g in range(GROUP):
                z, h = pre[g, u_off[l]:u_off[l + 1]], act[g, u_off[l]:u_off[l + 1]]
                for j in range(h.shape[0]):
                    h[j] = sigmoid(z[j])


@kernel()
def _output_delta(pre, y, rows, valid, z0, delta):
    """Loss summed over the group's real rows; output deltas sigma(z) - onehot (0 on padding)."""
    loss = 0.0
    delta[valid:, z0:] = 0
    for g in range(valid):
        z, d = pre[g, z0:], delta[g, z0:]
        label = y[rows[g]]
        for k in range(z.shape[0]):
            lk, d[k] = log_loss(z[k], k == label)
            loss += lk
    return loss


@kernel()
def _propagate_delta(delta, e0, W, act, a0):
    """delta[g, a0 + j] = sigma'(z_j) sum_i delta[g, e0 + i] W[i, 1 + j]: one layer down."""
    n_out, n_in = W.shape[0], W.shape[1] - 1
    for g in range(GROUP):
        above, below, a = delta[g, e0:e0 + n_out], delta[g, a0:a0 + n_in], act[g, a0:a0 + n_in]
        below[:] = 0
        for i in range(n_out):
            d, w = above[i], W[i, 1:]
            for j in range(n_in):
                below[j] += d * w[j]
        for j in range(n_in):
            below[j] *= sigmoid_gradient_from_activation(a[j])


@kernel()
def _backward_group(X, rows, w, layers, w_off, u_off, act, delta, grad):
    """Back-propagate the group's output deltas and add its gradient into grad (flat)."""
    for l in range(layers.shape[0] - 2, -1, -1):
        shape = (layers[l + 1], layers[l] + 1)
        G = grad[w_off[l]:w_off[l + 1]].reshape(shape)
        if l == 0:
            _accumulate_outer(delta, u_off[0], X, rows, 0, G)
        else:
            _accumulate_outer(delta, u_off[l], act, _IDENT, u_off[l - 1], G)
            W = w[w_off[l]:w_off[l + 1]].reshape(shape)
            _propagate_delta(delta, u_off[l], W, act, u_off[l - 1])


@kernel()
def cost_grad_rows(X, y, w, layers, lo, hi, grad, with_grad=True):
    """Serial worker: summed loss over rows lo..hi-1; adds their summed gradient into grad
    (left alone when not ``with_grad``)."""
    w_off, u_off = _offsets(layers)
    pre = np.empty((GROUP, u_off[-1]), w.dtype)
    act, delta = np.empty_like(pre), np.empty_like(pre)
    rows = np.empty(GROUP, np.int64)
    loss = 0.0
    for r in range(lo, hi, GROUP):
        valid = _group_rows(r, hi, rows)
        _forward_group(X, rows, w, layers, w_off, u_off, pre, act)
        loss += _output_delta(pre, y, rows, valid, u_off[-2], delta)
        if with_grad:
            _backward_group(X, rows, w, layers, w_off, u_off, act, delta, grad)
    return loss


@kernel()
def _r_forward_group(X, rows, w, v, layers, w_off, u_off, act, rz, ra):
    """Directional derivatives along v (Pearlmutter's R-operator) of every z into rz, and of
    the hidden activations, R{a} = sigma'(z) R{z}, into ra."""
    n = layers.shape[0] - 1
    for l in range(n):
        shape = (layers[l + 1], layers[l] + 1)
        V = v[w_off[l]:w_off[l + 1]].reshape(shape)
        if l == 0:  # the inputs do not depend on the weights: R{z_2} = V [1, x]
            _affine(X, rows, 0, V, rz, 0)
        else:  # R{z} = V [1, a] + W[:, 1:] R{a}
            _affine(act, _IDENT, u_off[l - 1], V, rz, u_off[l])
            W = w[w_off[l]:w_off[l + 1]].reshape(shape)
            for g in range(GROUP):
                below, out = ra[g, u_off[l - 1]:u_off[l]], rz[g, u_off[l]:u_off[l + 1]]
                for i in range(out.shape[0]):
                    wi = W[i, 1:]
                    for q in range(below.shape[0]):
                        out[i] += wi[q] * below[q]
        if l < n - 1:
            for g in range(GROUP):
                for j in range(u_off[l], u_off[l + 1]):
                    ra[g, j] = sigmoid_gradient_from_activation(act[g, j]) * rz[g, j]


@kernel()
def _r_backward_group(X, rows, w, v, layers, w_off, u_off, act, delta, rz, ra, rdelta, hv):
    """Back-propagate deltas and their R{.} together; add R{gradient} of the group into hv."""
    for l in range(layers.shape[0] - 2, -1, -1):
        shape = (layers[l + 1], layers[l] + 1)
        H = hv[w_off[l]:w_off[l + 1]].reshape(shape)
        if l == 0:
            _accumulate_outer(rdelta, u_off[0], X, rows, 0, H)
            continue
        # R{delta [1, a]^T} = R{delta} [1, a]^T + delta [0, R{a}]^T
        _accumulate_outer(rdelta, u_off[l], act, _IDENT, u_off[l - 1], H)
        _accumulate_outer(delta, u_off[l], ra, _IDENT, u_off[l - 1], H, False)
        W = w[w_off[l]:w_off[l + 1]].reshape(shape)
        V = v[w_off[l]:w_off[l + 1]].reshape(shape)
        for g in range(GROUP):
            d, rd = delta[g, u_off[l]:u_off[l + 1]], rdelta[g, u_off[l]:u_off[l + 1]]
            for j in range(layers[l]):
                back, r_back = 0.0, 0.0
                for i in range(d.shape[0]):
                    back += W[i, 1 + j] * d[i]
                    r_back += V[i, 1 + j] * d[i] + W[i, 1 + j] * rd[i]
                below = u_off[l - 1] + j
                a = act[g, below]
                slope = sigmoid_gradient_from_activation(a)
                delta[g, below] = back * slope
                # R{sigma'(z)} = sigma''(z) R{z}, with sigma'' = sigma' (1 - 2 sigma)
                rdelta[g, below] = r_back * slope + back * slope * (1.0 - 2.0 * a) * rz[g, below]


@kernel()
def hessp_rows(X, y, w, v, layers, lo, hi, hv):
    """Serial worker: adds the Hessian of the summed loss over rows lo..hi-1 times v into hv."""
    w_off, u_off = _offsets(layers)
    pre = np.empty((GROUP, u_off[-1]), w.dtype)
    act, delta, rz, ra, rdelta = (np.empty_like(pre), np.empty_like(pre), np.empty_like(pre),
                                  np.empty_like(pre), np.empty_like(pre))
    rows = np.empty(GROUP, np.int64)
    z0 = u_off[-2]
    for r in range(lo, hi, GROUP):
        valid = _group_rows(r, hi, rows)
        _forward_group(X, rows, w, layers, w_off, u_off, pre, act)
        _output_delta(pre, y, rows, valid, z0, delta)
        _r_forward_group(X, rows, w, v, layers, w_off, u_off, act, rz, ra)
        rdelta[:, z0:] = 0
        for g in range(valid):  # R{sigma(z) - y} = sigma'(z) R{z}
            for k in range(z0, u_off[-1]):
                rdelta[g, k] = sigmoid_gradient_from_activation(sigmoid(pre[g, k])) * rz[g, k]
        _r_backward_group(X, rows, w, v, layers, w_off, u_off, act, delta, rz, ra, rdelta, hv)


@kernel()
def _fixed_order_sum(partial):
    """Sum the rows of partial in order, in float64: the same bits for any thread count."""
    total = np.zeros(partial.shape[1])
    for c in range(partial.shape[0]):
        for p in range(partial.shape[1]):
            total[p] += partial[c, p]
    return total


@kernel(parallel=True)
def cost_grad_sums(X, y, w, layers):
    """Loss and gradient (float64, like w) summed over all rows of X."""
    m = X.shape[0]
    nc = n_chunks(m)
    partial = np.zeros((nc, w.shape[0]), w.dtype)
    losses = np.zeros((nc, 1))
    for c in prange(nc):
        losses[c, 0] = cost_grad_rows(X, y, w, layers, c * m // nc, (c + 1) * m // nc,
                                      partial[c])
    return _fixed_order_sum(losses)[0], _fixed_order_sum(partial)


@kernel(parallel=True)
def hessp_sums(X, y, w, v, layers):
    """Hessian of the summed loss times v (float64, like w), summed over all rows of X."""
    m = X.shape[0]
    nc = n_chunks(m)
    partial = np.zeros((nc, w.shape[0]), w.dtype)
    for c in prange(nc):
        hessp_rows(X, y, w, v, layers, c * m // nc, (c + 1) * m // nc, partial[c])
    return _fixed_order_sum(partial)


@kernel()
def _forward_rows(X, w, layers, lo, hi, pre_out, act_out):
    """Rows lo..hi-1 of the last columns of z (into pre_out) and sigma(z) (into act_out)."""
    w_off, u_off = _offsets(layers)
    units, z0 = u_off[-1], u_off[-2]
    pre = np.empty((GROUP, units), w.dtype)
    act = np.empty_like(pre)
    rows = np.empty(GROUP, np.int64)
    for r in range(lo, hi, GROUP):
        valid = _group_rows(r, hi, rows)
        _forward_group(X, rows, w, layers, w_off, u_off, pre, act)
        for g in range(valid):
            for k in range(z0, units):
                act[g, k] = sigmoid(pre[g, k])
        pre_out[r:r + valid] = pre[:valid, units - pre_out.shape[1]:]
        act_out[r:r + valid] = act[:valid, units - act_out.shape[1]:]


@kernel(parallel=True)
def forward_states(X, w, layers, pre_cols, act_cols):
    """The last ``pre_cols`` columns of z and ``act_cols`` of sigma(z), for every row.

    Columns are the units of layers 2..L in order, the output layer last: ``(X, w, layers, 0,
    K)`` gives just the output activations h, ``(..., units, units)`` every layer's state.
    """
    m = X.shape[0]
    pre, act = np.empty((m, pre_cols), X.dtype), np.empty((m, act_cols), X.dtype)
    nc = n_chunks(m)
    for c in prange(nc):
        _forward_rows(X, w, layers, c * m // nc, (c + 1) * m // nc, pre, act)
    return pre, act
