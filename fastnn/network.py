"""Public API of the network: validation, cost and gradient, prediction.

Conventions: ``layers = (s1, ..., sL)``; X is ``(m, s1)`` (any real dtype and memory order);
labels y are integers in ``0..K-1`` with ``K = sL``; ``params`` is the flat row-major layout of
:mod:`fastnn.layout` (bias in column 0 of each Theta). Inputs are never modified.
"""

import functools

import numpy as np

from . import kernels
from ._checks import check_dtype, check_lam, check_layers, check_params, check_X, check_y
from ._threads import run_parallel
from .layout import n_params, unpack


@functools.lru_cache(maxsize=32)
def _weight_mask(layers):
    """1.0 where params holds a weight, 0.0 where it holds a bias (read-only)."""
    mask = np.ones(n_params(layers))
    for theta in unpack(mask, layers):
        theta[:, 0] = 0.0
    mask.flags.writeable = False
    return mask


def _network_and_X(layers, X, dtype):
    """``(layers, X, dtype)`` checked and converted, in the order errors are reported."""
    layers, dtype = check_layers(layers), check_dtype(dtype)
    return layers, check_X(X, layers[0], dtype), dtype


def _validated(layers, X, y, lam, dtype):
    """``(layers, X, y, lam, dtype)`` checked and converted, in the order errors are reported."""
    layers, X, dtype = _network_and_X(layers, X, dtype)
    return layers, X, check_y(y, X.shape[0], layers[-1]), check_lam(lam), dtype


def _cost_grad(params, layers, X, y, lam, dtype, columns):
    """Validated inputs -> (J, grad): the kernel's sums, then the mean and the L2 penalty.
    ``columns``: X's non-zero columns by blocks of rows (``kernels.nonzero_columns``), or
    ``kernels.no_column_lists()``."""
    loss, grad = run_parallel(kernels.cost_grad_sums, X, y, params.astype(dtype),
                              np.array(layers, np.int64), columns)
    m = X.shape[0]
    weights = params * _weight_mask(layers)
    grad /= m
    grad += (lam / m) * weights
    # np.sum, not np.dot: a BLAS call here would wake BLAS threads that then spin against
    # Numba's threads (measured: 2-3x slower evaluations on 2 cores).
    return float(loss / m + lam / (2 * m) * np.sum(weights * weights)), grad


class Objective:
    """Cost and gradient on fixed data, validated and converted once.

    ``Objective(layers, X, y, lam)(params) -> (J, grad)`` is the callable to hand to
    ``scipy.optimize.minimize(obj, p0, jac=True)``: J is a Python float, grad a fresh float64
    vector shaped like params. It keeps its own copy of X (later changes to the caller's array
    are not seen) and where X's rows are non-zero, found once: every call reads only those
    columns of X.

    Parameters
    ----------
    layers : sequence of int, ``(s1, ..., sL)``, L >= 2.
    X : (m, s1) real array. y : (m,) integer labels in 0..sL-1.
    lam : float >= 0, L2 strength (biases are not regularised).
    dtype : np.float64 (default) or np.float32, the precision of X and the products;
        J and grad are float64 either way.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> X, y = np.eye(3), np.array([0, 1, 2])
    >>> obj = fastnn.Objective((3, 2, 3), X, y, lam=0.0)
    >>> J, grad = obj(np.zeros(fastnn.n_params((3, 2, 3))))
    >>> print(f"{J:.6f}", grad.shape)  # every output at sigma(0) = 1/2: J = 3 log 2
    2.079442 (17,)
    """

    def __init__(self, layers, X, y, lam=0.0, dtype=np.float64):
        self.layers, self.X, self.y, self.lam, self.dtype = _validated(layers, X, y, lam, dtype)
        if np.may_share_memory(self.X, X):  # y is always converted, so already a copy
            self.X = self.X.copy()
        self.n_params = n_params(self.layers)
        self._columns = run_parallel(kernels.nonzero_columns, self.X)

    def __call__(self, params):
        params = check_params(params, self.n_params)
        return _cost_grad(params, self.layers, self.X, self.y, self.lam, self.dtype,
                          self._columns)

    def hessp(self, params, v):
        """Exact Hessian of J at params times v, ``(n_params,)`` float64 (Pearlmutter's R-operator).

        For ``minimize(obj, p0, jac=True, hessp=obj.hessp, method="Newton-CG")``.
        """
        params = check_params(params, self.n_params)
        v = check_params(v, self.n_params, name="v")
        hv = run_parallel(kernels.hessp_sums, self.X, self.y, params.astype(self.dtype),
                          v.astype(self.dtype), np.array(self.layers, np.int64),
                          self._columns)
        m = self.X.shape[0]
        hv /= m
        hv += (self.lam / m) * v * _weight_mask(self.layers)
        return hv


def cost_grad(params, layers, X, y, lam=0.0, dtype=np.float64):
    """Regularised cross-entropy J and its gradient: the drop-in for ``minimize(..., jac=True)``.

    ``minimize(cost_grad, p0, args=(layers, X, y, lam), jac=True)``. Validates every call;
    in a loop, build an :class:`Objective` once instead. See :class:`Objective` for the
    arguments; returns ``(float, (n_params,) float64)``.
    """
    layers, X, y, lam, dtype = _validated(layers, X, y, lam, dtype)
    return _cost_grad(check_params(params, n_params(layers)), layers, X, y, lam, dtype,
                      kernels.no_column_lists())


def predict_proba(params, layers, X, dtype=np.float64):
    """Output activations ``(m, K)`` of dtype: independent sigmoids, rows need not sum to 1."""
    layers, X, dtype = _network_and_X(layers, X, dtype)
    params = check_params(params, n_params(layers))
    _, h = run_parallel(kernels.forward_states, X, params.astype(dtype),
                        np.array(layers, np.int64), 0, layers[-1])
    return h


def predict(params, layers, X, dtype=np.float64):
    """Predicted labels ``(m,)`` int64 in 0..K-1: the most active output unit of each row."""
    return np.argmax(predict_proba(params, layers, X, dtype), axis=1)


def warmup(dtypes=(np.float64, np.float32)):
    """Compile (or load from Numba's cache) every kernel for the given dtypes ahead of time."""
    layers = (2, 2, 2)
    params, X, y = np.zeros(n_params(layers)), np.zeros((1, 2)), np.zeros(1, np.int64)
    for dtype in dtypes:
        objective = Objective(layers, X, y, dtype=dtype)
        objective(params)
        objective.hessp(params, params)
        predict_proba(params, layers, X, dtype=dtype)
