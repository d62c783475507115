"""Exact Hessian-vector products by Pearlmutter's R-operator, on the fused pass's rooms.

R{f} is the derivative of f along v. Each group goes forward (z, a = f(z)) and along v
(R{z}, R{a}), then back with the deltas and their R{.} together, adding R{gradient} -- the
Hessian times v -- into the worker's packed buffer.
"""

from numba import prange

from .._jit import kernel
from ..tunables import GROUP_ROWS
from .columns import start_group
from .fused import (Group, affine_inputs, affine_units, back_propagate, forward_group, new_state,
                    outer_inputs, outer_layer, output_delta, workspace)
from .micro import activate_block, softmax_row, times_slope
from .packing import (Placement, Packed, aligned_zeros, chunk, placement, n_chunks, pack_weights,
                      summed_unpacked)
from .scalars import IDENTITY, LOGISTIC, curvature_ratio, slope
from .sharing import borrowed, held


@kernel()
def _forward_along(group, block, pw, pv, state, r):
    """R{z} of every layer into r.pre, and R{a} = f'(z) R{z} of the hidden ones into r.act."""
    place = group.place
    n = group.layers.shape[0] - 1
    for l in range(n):
        width, at = place.padded[l + 1], place.column[l + 1]
        # R{z} = V [1, a] (+ W[:, 1:] R{a} above the inputs)
        affine_inputs(group, block, state.act, l,
                      pv.forward[place.forward_at[l]:place.forward_at[l + 1]], width, r.pre, at)
        if l > 0:
            affine_units(r.act, group, l, pw.forward[place.forward_at[l]:place.forward_at[l + 1]],
                         width, r.pre, at, True)
        if l < n - 1:
            times_slope(state.act, r.pre, r.act, at, width, group.activation)


@kernel()
def _backward_along(group, block, pw, pv, state, r, hv):
    """Back-propagate deltas and their R{.} together; add R{gradient} of the group into hv
    (packed)."""
    place, layers = group.place, group.layers
    delta, rdelta = state.delta, r.delta
    for l in range(layers.shape[0] - 2, -1, -1):
        H = hv[place.forward_at[l]:place.forward_at[l + 1]]
        width, at = place.padded[l + 1], place.column[l + 1]
        # R{delta [1, a]^T} = R{delta} [1, a]^T + delta [0, R{a}]^T
        outer_inputs(group, block, state.act, l, rdelta, at, H, width)
        if l > 0:
            outer_layer(r.act, group, l, delta, at, H, width, False)
        if l == 0:
            continue
        WB = pw.backward[place.backward_at[l]:place.backward_at[l + 1]]
        VB = pv.backward[place.backward_at[l]:place.backward_at[l + 1]]
        below, at_below = place.padded[l], place.column[l]
        # back = W^T delta; R{back} = V^T delta + W^T R{delta}
        back_propagate(delta, group, l + 1, WB, below, delta, at_below, False)
        back_propagate(delta, group, l + 1, VB, below, rdelta, at_below, False)
        back_propagate(rdelta, group, l + 1, WB, below, rdelta, at_below, True)
        for g in range(GROUP_ROWS):
            for j in range(at_below, at_below + layers[l]):
                a, back = state.act[g, j], delta[g, j]
                fprime, ratio = slope(a, group.activation), curvature_ratio(a, group.activation)
                delta[g, j] = back * fprime
                # R{f'(z)} = f''(z) R{z}
                rdelta[g, j] = rdelta[g, j] * fprime + back * fprime * ratio * r.pre[g, j]


@kernel()
def _output_along(state, r, Y, weights, output, rows, valid, z0, width, K):
    """R{output deltas} = s d(dloss/dz)/dz R{z} into r.delta: sigma'(z) R{z} (LOGISTIC),
    R{z} (IDENTITY), sum(t) (p R{z} - p (p . R{z})) with p = softmax(z) (SOFTMAX); 0 on
    padding."""
    if output == LOGISTIC:
        activate_block(state.pre, state.act, z0, width, LOGISTIC)
        times_slope(state.act, r.pre, r.delta, z0, width, LOGISTIC)
    elif output == IDENTITY:
        r.delta[:, z0:z0 + width] = r.pre[:, z0:z0 + width]
    else:
        for g in range(valid):
            p = state.act[g, z0:z0 + K]
            softmax_row(state.pre[g, z0:z0 + K], p)
            along, mass = 0.0, 0.0
            for k in range(K):
                along += p[k] * r.pre[g, z0 + k]
                mass += Y[rows[g], k]
            for k in range(K):
                r.delta[g, z0 + k] = mass * p[k] * (r.pre[g, z0 + k] - along)
    if weights.shape[0]:
        for g in range(valid):
            r.delta[g, z0:z0 + K] *= weights[rows[g]]
    r.delta[valid:, z0:] = 0


@kernel()
def _hessp_chunk(X, Y, weights, layers, codes, place, pw, pv, columns, lo, hi, packed_hv):
    """Serial worker on packed w and v: adds the Hessian of the summed weighted loss over rows
    lo..hi-1 times v into packed_hv (packed layout). ``columns`` as in ``cost_grad_chunk``."""
    X, Y, weights, layers, codes, place, pw, pv, columns, packed_hv = borrowed(
        (X, Y, weights, layers, codes, place, pw, pv, columns, packed_hv))
    scratch = new_state(place, pw.forward), new_state(place, pw.forward), workspace(
        layers, pw.forward, columns)
    state, r, ws = borrowed(scratch)
    group = Group(X, layers, place, ws, codes[0])
    z0, width = place.column[-2], place.padded[-1]
    for row in range(lo, hi, GROUP_ROWS):
        valid, block, _ = start_group(X, ws.columns, ws.rows, ws.mass, row, hi)
        forward_group(group, block, pw, state)
        output_delta(state.pre, Y, weights, codes[1], ws.rows, valid, z0, state.delta, ws.outputs)
        _forward_along(group, block, pw, pv, state, r)
        _output_along(state, r, Y, weights, codes[1], ws.rows, valid, z0, width, layers[-1])
        _backward_along(group, block, pw, pv, state, r, packed_hv)
    held(scratch)


@kernel(parallel=True)
def hessp_sums(X, Y, weights, w, v, layers, codes, columns):
    """Hessian of the summed weighted loss times v (float64, shaped like w), summed over all
    rows. Arguments as in ``cost_grad_sums``."""
    m = X.shape[0]
    nc = n_chunks(m)
    place = Placement(*placement(layers, w))  # rebuilt by the class itself: see packing
    pw, pv = Packed(*pack_weights(w, layers, place)), Packed(*pack_weights(v, layers, place))
    partial = aligned_zeros(nc * pw.forward.shape[0], w).reshape(nc, -1)
    for c in prange(nc):
        lo, hi = chunk(m, nc, c, GROUP_ROWS)
        _hessp_chunk(X, Y, weights, layers, codes, place, pw, pv, columns, lo, hi, partial[c])
    return summed_unpacked(partial, layers, place, w.shape[0])
