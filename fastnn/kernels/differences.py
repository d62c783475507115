"""Central differences for the gradient checker, parallel over work items (``prange``).

``full_differences`` perturbs a private copy of the weights and re-runs the serial cost worker
twice per parameter. ``incremental_differences`` gives the same central differences without
re-running what a perturbation leaves unchanged: a weight of layer l moves one pre-activation
of layer l+1 by eps * (its input), so each row is recomputed from there up, rows whose input is
0 are skipped (most pixels of a digit), and the per-row loss differences J(w+eps) - J(w-eps)
are summed directly rather than subtracting two full costs (less cancellation).
"""

from typing import NamedTuple

import numpy as np
from numba import prange

from .._jit import kernel
from ..tunables import CHECKER_PARAM_CHUNKS
from .fused import cost_grad_rows
from .inputs import entry, n_entries
from .packing import chunk, fixed_order_sum, n_chunks, offsets
from .scalars import LOGISTIC, SOFTMAX, activate, row_weight, softplus_difference


class Probe(NamedTuple):
    """The unperturbed network on the checked rows (flat: a prange body cannot take nested
    NamedTuples, numba/numba#5703)."""

    Y: np.ndarray  # (m, K) float64 targets
    weights: np.ndarray  # (m,) float64 sample weights, or (0,): unweighted
    w: np.ndarray  # flat weights, X's dtype
    layers: np.ndarray  # int64 sizes
    activation: int  # the hidden units' code
    output: int  # the output's code
    weights_at: np.ndarray  # Offsets.weights
    units_at: np.ndarray  # Offsets.units
    pre: np.ndarray  # (m, units) every non-input unit's z, by Offsets.units
    act: np.ndarray  # (m, units) the units' values f(z)
    want: np.ndarray  # (n_params,) bool: the parameters to check
    eps: float


@kernel()
def _layer_of(i, starts):
    """The l with starts[l] <= i < starts[l + 1]."""
    l = 0
    while i >= starts[l + 1]:
        l += 1
    return l


@kernel()
def _propagate(z, w, layers, weights_at, activation, first, a):
    """Carry pre-activations z of layer first+1 up to the output layer, in place (a: scratch)."""
    for k in range(first, layers.shape[0] - 1):
        for i in range(layers[k]):
            a[i] = activate(z[i], activation)
        W = w[weights_at[k]:weights_at[k + 1]].reshape(layers[k + 1], layers[k] + 1)
        for i in range(layers[k + 1]):
            s = W[i, 0]
            for q in range(layers[k]):
                s += W[i, 1 + q] * a[q]
            z[i] = s


@kernel()
def _input(X, act, units_at, l, r, t):
    """Input t of row r to layer l + 1: ``(k, x)``, k the weight's place after the unit's
    bias. t = 0: the bias (k = 0, x = 1); then the entries of X's row (l = 0: every column of
    a dense row, the stored entries of a sparse one) or the units of layer l."""
    if t == 0:
        return 0, 1.0
    if l == 0:
        column, value = entry(X, r, t - 1)
        return column + 1, value + 0.0
    return t, act[r, units_at[l - 1] + t - 1] + 0.0


@kernel()
def loss_difference(zp, zm, t, output):
    """loss(zp) - loss(zm) for output pre-activations zp, zm ``(K,)`` (float64) and targets t,
    in forms that keep the difference of nearby values: a sum of softplus differences
    (LOGISTIC), of (zp - zm)(zp + zm - 2t) / 2 (IDENTITY), of log-sum-exps (SOFTMAX)."""
    diff = 0.0
    if output == SOFTMAX:
        top = max(zp.max(), zm.max())
        plus, minus, mass = 0.0, 0.0, 0.0
        for k in range(zp.shape[0]):
            plus += np.exp(zp[k] - top)
            minus += np.exp(zm[k] - top)
            mass += t[k]
            diff -= t[k] * (zp[k] - zm[k])
        return diff + mass * np.log(plus / minus)
    for k in range(zp.shape[0]):
        if output == LOGISTIC:
            diff += t[k] * (zm[k] - zp[k]) + softplus_difference(zp[k], zm[k])
        else:
            diff += 0.5 * (zp[k] - zm[k]) * (zp[k] + zm[k] - 2.0 * t[k])
    return diff


@kernel()
def _unit_differences(X, probe, u, lo, hi, sums):
    """For each wanted weight p of unit u: sums[p] += sum over rows lo..hi-1 of
    s_i (loss(w + eps e_p) - loss(w - eps e_p)).

    Moving weight k of unit j (layer l+1) moves that unit's z by eps * input_k: an output
    unit's z directly; a hidden unit's activation by d, and with it the next layer's z by
    W[:, 1+j] d, from where the row is carried up to the output.
    """
    layers, w, pre, act = probe.layers, probe.w, probe.pre, probe.act
    weights_at, units_at = probe.weights_at, probe.units_at
    n = layers.shape[0] - 1
    l = _layer_of(u, units_at)
    j = u - units_at[l]
    first = weights_at[l] + j * (layers[l] + 1)  # the unit's bias, then its input weights
    nxt = min(l + 1, n - 1)  # the layer whose z a hidden unit moves
    above = w[weights_at[nxt]:weights_at[nxt + 1]].reshape(layers[nxt + 1], layers[nxt] + 1)
    column = above[:, 1 + j % layers[nxt]].copy()
    widest = layers.max()
    zp, zm, a = np.empty(widest), np.empty(widest), np.empty(widest)
    K, out = layers[n], units_at[n - 1]
    for r in range(lo, hi):
        zj, s = pre[r, units_at[l] + j] + 0.0, row_weight(probe.weights, r)
        base = activate(zj, probe.activation)
        for t in range(1 + (n_entries(X, r) if l == 0 else layers[l])):
            k, x = _input(X, act, units_at, l, r, t)
            if x == 0 or not probe.want[first + k]:
                continue  # a zero input: this row's loss does not move
            dz = probe.eps * x
            if l == n - 1:  # an output unit
                for i in range(K):
                    zp[i] = pre[r, out + i]
                    zm[i] = pre[r, out + i]
                zp[j], zm[j] = zj + dz, zj - dz
            else:
                dp = activate(zj + dz, probe.activation) - base
                dm = activate(zj - dz, probe.activation) - base
                for i in range(column.shape[0]):
                    zp[i] = pre[r, units_at[nxt] + i] + column[i] * dp
                    zm[i] = pre[r, units_at[nxt] + i] + column[i] * dm
                _propagate(zp, w, layers, weights_at, probe.activation, l + 2, a)
                _propagate(zm, w, layers, weights_at, probe.activation, l + 2, a)
            sums[first + k] += s * loss_difference(zp[:K], zm[:K], probe.Y[r], probe.output)


@kernel(parallel=True)
def incremental_differences(X, Y, weights, w, layers, codes, pre, act, want, eps):
    """sums[p] = sum over rows of s_i (loss(w + eps e_p) - loss(w - eps e_p)), where want[p];
    pre and act from ``forward_states(X, w, layers, codes, units, units)`` (other arguments as
    in ``fused.cost_grad_sums``).

    Work items are (unit, chunk of rows) pairs, balanced whatever the units cost; each adds
    into its chunk's own row of a buffer, summed over chunks in a fixed order afterwards.
    """
    at = offsets(layers)
    probe = Probe(Y, weights, w, layers, codes[0], codes[1], at.weights, at.units, pre, act,
                  want, eps)
    m, units = X.shape[0], at.units[-1]
    nc = n_chunks(m)
    partial = np.zeros((nc, w.shape[0]))
    for item in prange(units * nc):
        # Row chunk major, so each thread's share of items holds every unit; the index is
        # unsigned, and divmod would give floats without the cast.
        c, u = divmod(np.int64(item), units)
        lo, hi = chunk(m, nc, c, 1)
        _unit_differences(X, probe, u, lo, hi, partial[c])
    return fixed_order_sum(partial)


@kernel(parallel=True)
def full_differences(X, Y, weights, w, layers, codes, idx, eps):
    """J_sum(w + eps e_p) - J_sum(w - eps e_p) by two full serial passes, for each p in idx
    (J_sum the weighted loss summed over rows)."""
    out = np.empty(idx.shape[0])
    nc = min(CHECKER_PARAM_CHUNKS, idx.shape[0])
    m = X.shape[0]
    for c in prange(nc):
        mine = w.copy()  # private copy: perturbed and restored in place
        unused = np.empty(0, w.dtype)
        lo, hi = chunk(idx.shape[0], nc, c, 1)
        for q in range(lo, hi):
            p = idx[q]
            mine[p] = w[p] + eps
            plus = cost_grad_rows(X, Y, weights, mine, layers, codes, 0, m, unused, False)
            mine[p] = w[p] - eps
            minus = cost_grad_rows(X, Y, weights, mine, layers, codes, 0, m, unused, False)
            mine[p] = w[p]
            out[q] = plus - minus
    return out
