"""Central-difference gradient checks: the checker's API.

Its kernels, parallel over parameters or (unit, rows) pairs, are in
:mod:`fastnn.kernels.differences`: ``full`` re-runs the cost twice per parameter,
``incremental`` recomputes only what a perturbation changes.
"""

from dataclasses import dataclass

import numpy as np

from . import kernels
from ._checks import check_choice, check_params, check_positive
from .layout import debug_params, n_params, weight_mask
from .network import Objective
from .rows import form_of, make_rows


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
                    dtype=np.float64, seed=0, analytical=None, *, activation="logistic",
                    output="logistic", sample_weight=None):
    """Compare a gradient with central differences (J(w+eps) - J(w-eps)) / (2 eps).

    Parameters
    ----------
    params, layers, X, y, lam, dtype, activation, output, sample_weight : as for
        :func:`fastnn.cost_grad`.
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
    if form_of(X).lazy:  # refused before its blocks are prepared on the workers
        where = type(X).__module__.split(".")[0]
        raise TypeError(f"X is a {where} {type(X).__name__}: check_gradients reads X in this "
                        "process; pass a sample of its rows as a numpy array")
    data = make_rows(layers, X, y, dtype, activation=activation, output=output,
                     sample_weight=sample_weight)
    objective = Objective.on(data, lam)
    size = n_params(data.layers)
    params = check_params(params, size)
    eps = check_positive(eps, "eps")
    check_choice(method, "method", ("auto", "incremental", "full"))
    if analytical is None:
        analytical = objective(params)[1]
    analytical = check_params(analytical, size, name="analytical")
    idx = _check_indices(indices, size, seed)

    dtype, eps = data.dtype, float(eps)
    w, sizes = params.astype(dtype), data.sizes
    task = (data.targets, data.weights, w, sizes, data.codes)
    if method == "full":
        sums = kernels.full_differences(data.X, *task, idx, dtype(eps))
    else:
        units = sum(data.layers[1:])
        pre, act, _ = data.forward(params, units, units)
        want = np.zeros(size, bool)
        want[idx] = True
        sums = kernels.incremental_differences(data.X, *task, pre, act, want, eps)[idx]
    m = objective.total
    if method == "full":  # the step actually taken: w +- eps rounds in the weights' dtype
        plus = (w[idx] + dtype(eps)).astype(np.float64)
        minus = (w[idx] - dtype(eps)).astype(np.float64)
    else:  # the incremental method moves z by eps * input in float64
        plus, minus = params[idx] + eps, params[idx] - eps
    penalty = objective.lam / (2 * m) * (plus**2 - minus**2) * weight_mask(data.layers)[idx]
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
