"""Central-difference gradient checks, parallel over parameters (``prange``).

``full`` perturbs a private copy of the weights and re-runs the serial cost worker twice per
parameter. ``incremental`` gives the same central differences without re-running what a
perturbation leaves unchanged: a weight of layer l moves one pre-activation of layer l+1 by
eps * (its input), so each row is recomputed from there up, rows whose input is 0 are skipped
(most pixels of a digit), and the per-row loss differences J(w+eps) - J(w-eps) are summed
directly rather than subtracting two full costs (less cancellation).
"""

from dataclasses import dataclass

import numpy as np
from numba import prange

from . import kernels
from ._checks import check_params
from ._jit import kernel
from ._threads import run_parallel
from .layout import debug_params
from .network import Objective, _weight_mask

PARAM_CHUNKS = 64  # parameters are split into this many chunks, each with its own weights copy


@dataclass(frozen=True)
class GradientCheck:
    """Result of :func:`check_gradients`; arrays are aligned with ``indices``."""

    numerical: np.ndarray
    analytical: np.ndarray
    indices: np.ndarray
    rel_diff: float  # ||n - a|| / ||n + a||, the notebooks' measure
    max_abs_diff: float
    worst: int  # the parameter index (into params) with the largest |n - a|

    def __str__(self):
        return (f"gradient check of {self.indices.size} parameters: relative difference "
                f"{self.rel_diff:.3g}, max |difference| {self.max_abs_diff:.3g} at parameter "
                f"{self.worst}")


@kernel()
def _layer_of(i, offsets):
    """The l with offsets[l] <= i < offsets[l + 1]."""
    l = 0
    while i >= offsets[l + 1]:
        l += 1
    return l


@kernel()
def _softplus_difference(u, v):
    """log(1 + e^u) - log(1 + e^v), accurate when u is close to v.

    Equal to log1p(sigma(v) expm1(u - v)): no cancellation, and three transcendental calls
    where two separate softplus values would need four.
    """
    d = u - v
    if abs(d) > 30.0:  # expm1 could overflow; the plain difference is exact enough here
        return (max(u, 0.0) + np.log1p(np.exp(-abs(u)))) - (max(v, 0.0) + np.log1p(np.exp(-abs(v))))
    return np.log1p(kernels.sigmoid(v) * np.expm1(d))


@kernel()
def _propagate(z, w, layers, w_off, first, a):
    """Carry pre-activations z of layer first+1 up to the output layer, in place (a: scratch)."""
    for k in range(first, layers.shape[0] - 1):
        for i in range(layers[k]):
            a[i] = kernels.sigmoid(z[i])
        W = w[w_off[k]:w_off[k + 1]].reshape(layers[k + 1], layers[k] + 1)
        for i in range(layers[k + 1]):
            s = W[i, 0]
            for q in range(layers[k]):
                s += W[i, 1 + q] * a[q]
            z[i] = s


@kernel()
def _unit_differences(X, y, w, layers, w_off, u_off, pre, act, want, eps, u, lo, hi, sums):
    """For each wanted weight p of unit u: sums[p] += sum over rows lo..hi-1 of
    loss(w + eps e_p) - loss(w - eps e_p).

    Moving weight k of unit j (layer l+1) moves that unit's z by eps * input_k: an output
    unit's loss directly; a hidden unit's activation by d, and with it the next layer's z by
    W[:, 1+j] d, from where the row is carried up to the output.
    """
    n = layers.shape[0] - 1
    l = _layer_of(u, u_off)
    j = u - u_off[l]
    first = w_off[l] + j * (layers[l] + 1)  # the unit's bias, then its input weights
    nxt = min(l + 1, n - 1)  # the layer whose z a hidden unit moves
    column = w[w_off[nxt]:w_off[nxt + 1]].reshape(layers[nxt + 1], layers[nxt] + 1)[:, 1 + j % layers[nxt]].copy()
    widest = layers.max()
    zp, zm, a = np.empty(widest), np.empty(widest), np.empty(widest)
    for r in range(lo, hi):
        inputs = X[r] if l == 0 else act[r, u_off[l - 1]:u_off[l]]
        zj, label = pre[r, u_off[l] + j] + 0.0, y[r]
        base = kernels.sigmoid(zj)
        for k in range(layers[l] + 1):
            x = 1.0 if k == 0 else inputs[k - 1] + 0.0
            if x == 0 or not want[first + k]:
                continue  # a zero input: this row's loss does not move
            dz = eps * x
            if l == n - 1:  # an output unit
                diff = _softplus_difference(zj + dz, zj - dz) - (2 * dz if label == j else 0.0)
            else:
                dp, dm = kernels.sigmoid(zj + dz) - base, kernels.sigmoid(zj - dz) - base
                for i in range(column.shape[0]):
                    zp[i] = pre[r, u_off[nxt] + i] + column[i] * dp
                    zm[i] = pre[r, u_off[nxt] + i] + column[i] * dm
                _propagate(zp, w, layers, w_off, l + 2, a)
                _propagate(zm, w, layers, w_off, l + 2, a)
                diff = zm[label] - zp[label]
                for i in range(layers[n]):
                    diff += _softplus_difference(zp[i], zm[i])
            sums[first + k] += diff


@kernel(parallel=True)
def _incremental_differences(X, y, w, layers, pre, act, want, eps):
    """sums[p] = sum over rows of loss(w + eps e_p) - loss(w - eps e_p), where want[p].

    Work items are (unit, chunk of rows) pairs, balanced whatever the units cost; each adds
    into its chunk's own row of a buffer, summed over chunks in a fixed order afterwards.
    """
    w_off, u_off = kernels._offsets(layers)
    m, units = X.shape[0], u_off[-1]
    nc = kernels.n_chunks(m)
    partial = np.zeros((nc, w.shape[0]))
    for item in prange(units * nc):
        # Row chunk major, so each thread's share of items holds every unit; the index is
        # unsigned, and divmod would give floats without the cast.
        c, u = divmod(np.int64(item), units)
        _unit_differences(X, y, w, layers, w_off, u_off, pre, act, want, eps, u,
                          c * m // nc, (c + 1) * m // nc, partial[c])
    sums = np.zeros(w.shape[0])
    for c in range(nc):
        sums += partial[c]
    return sums


@kernel(parallel=True)
def _full_differences(X, y, w, layers, idx, eps):
    """J_sum(w + eps e_p) - J_sum(w - eps e_p) by two full serial passes, for each p in idx."""
    out = np.empty(idx.shape[0])
    nc = min(PARAM_CHUNKS, idx.shape[0])
    m = X.shape[0]
    for c in prange(nc):
        mine = w.copy()  # private copy: perturbed and restored in place
        unused = np.empty(0, w.dtype)
        for q in range(c * idx.shape[0] // nc, (c + 1) * idx.shape[0] // nc):
            p = idx[q]
            mine[p] = w[p] + eps
            plus = kernels.cost_grad_rows(X, y, mine, layers, 0, m, unused, False)
            mine[p] = w[p] - eps
            minus = kernels.cost_grad_rows(X, y, mine, layers, 0, m, unused, False)
            mine[p] = w[p]
            out[q] = plus - minus
    return out


def _check_indices(indices, size, seed):
    if indices is None:
        return np.arange(size)
    if np.ndim(indices) == 0:
        k = int(indices)
        if not 1 <= k <= size:
            raise ValueError(f"indices as a count must be between 1 and {size}, got {k}")
        return np.sort(np.random.default_rng(seed).choice(size, k, replace=False))
    idx = np.asarray(indices)
    if not np.issubdtype(idx.dtype, np.integer) or idx.ndim != 1 or idx.size == 0:
        raise TypeError("indices must be None, a count, or a 1-D array of parameter indices")
    if idx.min() < 0 or idx.max() >= size:
        raise ValueError(f"indices must lie in 0..{size - 1}, got {idx.min()}..{idx.max()}")
    return idx.astype(np.int64)


def check_gradients(params, layers, X, y, lam=0.0, eps=1e-4, indices=None, method="auto",
                    dtype=np.float64, seed=0, analytical=None):
    """Compare a gradient with central differences (J(w+eps) - J(w-eps)) / (2 eps).

    Parameters
    ----------
    params, layers, X, y, lam, dtype : as for :func:`fastnn.cost_grad`.
    eps : float > 0, the perturbation.
    indices : None (all parameters), an int k (k parameters drawn with ``seed``), or an
        array of parameter indices.
    method : "incremental" (recompute only what a perturbation changes), "full" (two full
        cost evaluations per parameter) or "auto" (incremental).
    analytical : the gradient to check, ``(n_params,)``; default fastnn's backprop gradient.

    Returns
    -------
    GradientCheck with ``numerical``, ``analytical``, ``indices``, ``rel_diff``,
    ``max_abs_diff`` and ``worst``.

    Examples
    --------
    >>> import fastnn
    >>> check = fastnn.check_nn_gradients(lam=3.0)
    >>> check.rel_diff < 1e-9
    True
    """
    objective = Objective(layers, X, y, lam, dtype)  # validates and converts X, y once
    layers, dtype, lam = objective.layers, objective.dtype, objective.lam
    X, y = objective.X, objective.y
    size = objective.n_params
    params = check_params(params, size)
    if not (np.isscalar(eps) and np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    if method not in ("auto", "incremental", "full"):
        raise ValueError(f"method must be 'auto', 'incremental' or 'full', got {method!r}")
    if analytical is None:
        analytical = objective(params)[1]
    analytical = check_params(analytical, size, name="analytical")
    idx = _check_indices(indices, size, seed)

    w, larr, eps = params.astype(dtype), np.array(layers, np.int64), float(eps)
    if method == "full":
        sums = run_parallel(_full_differences, X, y, w, larr, idx, dtype(eps))
    else:
        units = sum(layers[1:])
        pre, act = run_parallel(kernels.forward_states, X, w, larr, units, units)
        want = np.zeros(size, bool)
        want[idx] = True
        sums = run_parallel(_incremental_differences, X, y, w, larr, pre, act, want, eps)[idx]
    m = X.shape[0]
    if method == "full":  # the step actually taken: w +- eps rounds in the weights' dtype
        plus = (w[idx] + dtype(eps)).astype(np.float64)
        minus = (w[idx] - dtype(eps)).astype(np.float64)
    else:  # the incremental method moves z by eps * input in float64
        plus, minus = params[idx] + eps, params[idx] - eps
    penalty = lam / (2 * m) * (plus**2 - minus**2) * _weight_mask(layers)[idx]
    numerical = (sums / m + penalty) / (plus - minus)
    return _summary(numerical, analytical[idx], idx)


def _summary(numerical, analytical, idx):
    diff = np.abs(numerical - analytical)
    denom = np.linalg.norm(numerical + analytical)
    rel = float(np.linalg.norm(numerical - analytical) / denom) if denom else float(diff.max())
    return GradientCheck(numerical, analytical, idx, rel, float(diff.max()),
                         int(idx[np.argmax(diff)]))


def check_nn_gradients(lam=0.0):
    """The notebooks' check: a 3-5-3 network, 5 rows, :func:`debug_params` weights.

    X (5, 3) follows the same sine pattern (entry i in column-major order is sin(i+1)/10);
    the labels are 1, 2, 0, 1, 2 (the notebooks' 2, 3, 1, 2, 3). Expect ``rel_diff < 1e-9``.
    """
    layers = (3, 5, 3)
    X = np.sin(np.arange(1, 16)).reshape(5, 3, order="F") / 10
    y = np.arange(1, 6) % 3
    return check_gradients(debug_params(layers), layers, X, y, lam=lam, method="full")
