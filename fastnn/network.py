"""Public API of the network: inputs prepared once, cost and gradient, prediction.

Conventions: ``layers = (s1, ..., sL)``; X is ``(m, s1)`` (any real dtype and memory order);
labels y are integers in ``0..K-1`` with ``K = sL``; ``params`` is the flat row-major layout of
:mod:`fastnn.layout` (bias in column 0 of each Theta). Inputs are never modified.

Every entry point validates and converts through :func:`prepare`, once, then calls the
kernels on the :class:`Prepared` inputs, through the plan :func:`choose_plan` picks for them.
On a dask X, :func:`outputs`, :func:`predict_proba` and :func:`predict` return dask arrays
(each row block computed when asked for) and :func:`prepare_rows` gives :mod:`fastnn.dask`'s
``Blocks``.
"""

from dataclasses import dataclass, replace
from functools import cached_property, wraps

import numpy as np

from . import kernels
from ._checks import (check_dtype, check_in_dtype, check_lam, check_layers, check_params,
                      check_X, check_y, is_dask)
from .layout import n_params, weight_mask

WIDE = 64  # a hidden layer of this many units or more: the BLAS plan, whatever the data
SMALL_INPUT = 64  # fewer inputs than this: the BLAS plan (few zeros to skip, many rows)
DENSE = 0.5  # X's density (fraction of entries the fused first layer reads) from which BLAS wins


def choose_plan(layers, density=None):
    """The kernels for a network: ``"blas"`` (:mod:`fastnn.kernels.tiled`, a matrix product per
    layer and tile of rows) or ``"fused"`` (:mod:`fastnn.kernels.fused`, micro-kernels that
    skip X's zeros). ``density``: the fraction of X's entries the fused first layer would read,
    None where not known (the drop-in, prediction), which keeps sparse-friendly "fused".

    The thresholds come from timing both plans' kernels on bench/'s shape matrix in one
    process (README, Rationale, "Two plans"): BLAS was faster from 64 hidden units on and on
    16-16-4, fused on the digits in float64 (it reads 38 % of their pixels).

    >>> choose_plan((400, 25, 10)), choose_plan((400, 25, 10), density=0.9)
    ('fused', 'blas')
    >>> choose_plan((784, 256, 10)), choose_plan((16, 16, 4))
    ('blas', 'blas')
    """
    if max(layers[1:-1], default=0) >= WIDE or layers[0] < SMALL_INPUT:
        return "blas"
    return "blas" if density is not None and density >= DENSE else "fused"


@dataclass(frozen=True)
class Prepared:
    """Inputs validated and in the kernels' form: ``layers`` a tuple of ints, X ``(m, s1)``
    C-contiguous of ``dtype`` (np.float64 or np.float32) or ``kernels.CsrRows`` (sparse
    input) of dtype, y ``(m,)`` int64 labels or None;
    ``plan``: the kernels that run (:func:`choose_plan`; hessp is always "fused")."""

    layers: tuple
    X: np.ndarray
    y: np.ndarray | None
    dtype: type
    plan: str = "fused"

    @cached_property
    def sizes(self):
        """The layer sizes as the kernels take them: an int64 array."""
        return np.array(self.layers, np.int64)

    def forward(self, params, pre_cols, act_cols):
        """``States``: the last pre_cols columns of z and act_cols of sigma(z) of every row
        (``kernels.forward_states``) at float64 params."""
        w = check_in_dtype(params, self.dtype)
        if self.plan == "blas":
            return kernels.States(*kernels.tiled_forward_states(self.X, w, self.sizes, pre_cols,
                                                                act_cols, kernels.FORWARD_TILE))
        return kernels.forward_states(self.X, w, self.sizes, pre_cols, act_cols)

    def labels(self, params):
        """Predicted labels ``(m,)``: the output unit of each row with the largest z (the first
        of equals, as ``np.argmax``). sigma is increasing, so this is the most active unit,
        also where saturated sigmoids round to the same 1.0; the outputs' sigma is not
        computed."""
        return kernels.argmax_rows(self.forward(params, self.layers[-1], 0).pre)

    def sums(self, params, lists):
        """(loss, grad): the cross-entropy and its gradient (float64, shaped like params)
        summed over the rows, at float64 params. ``lists``: X's non-zero columns by blocks of
        rows (``kernels.nonzero_columns``), or ``kernels.search_each_group()``; unused by
        "blas"."""
        w = check_in_dtype(params, self.dtype)
        if self.plan == "blas":
            return kernels.tiled_cost_grad_sums(self.X, self.y, w, self.sizes,
                                                kernels.COST_GRAD_TILE)
        return kernels.cost_grad_sums(self.X, self.y, w, self.sizes, lists)

    def hessp_sums(self, params, v, lists):
        """The Hessian of the summed loss at params times v, ``lists`` as in :meth:`sums`."""
        return kernels.hessp_sums(self.X, self.y, check_in_dtype(params, self.dtype),
                                  check_in_dtype(v, self.dtype, "v"), self.sizes, lists)

    def cost_grad(self, params, lam, lists):
        """(J, grad) at float64 params, ``lists`` as in :meth:`sums`."""
        return regularised(*self.sums(params, lists), params, lam, self.layers, self.X.shape[0])

    def hessp(self, params, v, lam, lists):
        """Hessian of J at params times v, ``lists`` as in :meth:`sums`."""
        return averaged(self.hessp_sums(params, v, lists), lam, v * weight_mask(self.layers),
                        self.X.shape[0])

    def objective(self, lam):
        """An :class:`Objective` on these rows (kept as they are, no copy)."""
        return Objective.prepared(self, lam)


def regularised(loss, grad, params, lam, layers, m):
    """(J, grad) from the loss and gradient summed over m rows: their means plus the L2 term
    (biases excluded); grad is scaled in place."""
    weights = params * weight_mask(layers)
    # np.sum, not np.dot: a BLAS call here would wake BLAS threads that then spin against
    # Numba's threads (measured: 2-3x slower evaluations on 2 cores).
    with np.errstate(over="ignore"):  # a huge lam may overflow J: training stops on it
        J = loss / m + lam / (2 * m) * np.sum(weights * weights)
        return float(J), averaged(grad, lam, weights, m)


def averaged(total, lam, weights, m):
    """A sum over m rows (of gradients, of Hessian products) as a mean, plus the L2 term's
    (lam / m) * weights; in place."""
    total /= m
    total += (lam / m) * weights
    return total


def prepare(layers, X, y=None, dtype=np.float64):
    """Validate and convert in the order errors are reported: layers, dtype, X, y."""
    layers, dtype = check_layers(layers), check_dtype(dtype)
    if is_dask(X):
        raise TypeError("X is a dask array: its cost and gradient are fastnn.dask.Objective's "
                        "(train, predict, predict_proba, outputs and NeuralNetClassifier take "
                        "dask arrays too)")
    X = check_X(X, layers[0], dtype)
    return Prepared(layers, X, None if y is None else check_y(y, X.shape[0], layers[-1]), dtype,
                    choose_plan(layers))


def prepare_rows(layers, X, y, dtype=np.float64):
    """Rows with labels: :func:`prepare`'s, or for a dask X :class:`fastnn.dask.Blocks`,
    prepared on its workers."""
    if is_dask(X):
        from .dask import Blocks

        return Blocks(check_layers(layers), X, y, check_dtype(dtype))
    return prepare(layers, X, y, dtype)


def shares_memory(prepared, X):
    """Whether the prepared X (an array or ``CsrRows``) may share memory with the caller's X."""
    if not isinstance(prepared, kernels.CsrRows):
        return np.may_share_memory(prepared, X)
    theirs = [getattr(X, name) for name in ("data", "indices", "indptr") if hasattr(X, name)]
    return any(np.may_share_memory(a, b) for a in prepared for b in theirs)


class Objective:
    """Cost and gradient on fixed data, validated and converted once.

    ``Objective(layers, X, y, lam)(params) -> (J, grad)`` is the callable to hand to
    ``scipy.optimize.minimize(obj, p0, jac=True)``: J is a Python float, grad a fresh float64
    vector shaped like params. It keeps its own copy of X (later changes to the caller's array
    are not seen) and its plan (``obj.plan``, see :func:`choose_plan`): on the "fused" plan,
    where X's rows are non-zero, found once, so that every call reads only those columns.

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
        data = prepare(layers, X, y, dtype)
        if shares_memory(data.X, X):  # y is always converted, so already a copy
            data = replace(data, X=data.X.copy())
        self._start(data, check_lam(lam))

    @classmethod
    def prepared(cls, data, lam):
        """An Objective on :class:`Prepared` data that it may keep as it is (no copy)."""
        objective = cls.__new__(cls)
        objective._start(data, check_lam(lam))
        return objective

    def _start(self, data, lam):
        self._lists = kernels.search_each_group()
        if isinstance(data.X, kernels.CsrRows):  # rows are read over their own columns
            density = data.X.data.shape[0] / (data.X.shape[0] * data.X.shape[1])
            data = replace(data, plan=choose_plan(data.layers, density))
        elif data.plan == "fused":  # the density decides: find where X is non-zero
            self._lists = kernels.nonzero_columns(data.X)
            read = self._lists.cols.shape[0] / max(1, self._lists.starts.shape[0] - 1)
            data = replace(data, plan=choose_plan(data.layers, read / data.layers[0]))
        self.data, self.lam, self.plan = data, lam, data.plan
        self.layers, self.dtype, self.n_params = data.layers, data.dtype, n_params(data.layers)

    def __repr__(self):
        return (f"Objective(layers={self.layers}, m={self.data.X.shape[0]}, lam={self.lam}, "
                f"dtype={np.dtype(self.dtype).name}, plan={self.plan!r})")

    def __call__(self, params):
        return self.data.cost_grad(check_params(params, self.n_params), self.lam, self._lists)

    def hessp(self, params, v):
        """Exact Hessian of J at params times v, ``(n_params,)`` float64 (Pearlmutter's R-operator).

        For ``minimize(obj, p0, jac=True, hessp=obj.hessp, method="Newton-CG")``.
        """
        params = check_params(params, self.n_params)
        v = check_params(v, self.n_params, name="v")
        return self.data.hessp(params, v, self.lam, self._lists)

    def sums(self, params):
        """(loss, grad) summed over the rows at checked params, unscaled and without the L2
        term: one row block's share of a larger sum (:mod:`fastnn.dask`)."""
        return self.data.sums(params, self._lists)

    def hessp_sums(self, params, v):
        """The Hessian of the summed loss times v at checked params (as :meth:`sums`)."""
        return self.data.hessp_sums(params, v, self._lists)

    def labels(self, params):
        """Predicted labels of the rows at checked params (:meth:`Prepared.labels`)."""
        return self.data.labels(params)


def cost_grad(params, layers, X, y, lam=0.0, dtype=np.float64):
    """Regularised cross-entropy J and its gradient: the drop-in for ``minimize(..., jac=True)``.

    ``minimize(cost_grad, p0, args=(layers, X, y, lam), jac=True)``. Validates every call;
    in a loop, build an :class:`Objective` once instead. See :class:`Objective` for the
    arguments; returns ``(float, (n_params,) float64)``.
    """
    data = prepare(layers, X, y, dtype)
    lam = check_lam(lam)
    return data.cost_grad(check_params(params, n_params(data.layers)), lam,
                          kernels.search_each_group())


def _prepared_with_params(params, layers, X, dtype):
    data = prepare(layers, X, dtype=dtype)
    return data, check_params(params, n_params(data.layers))


def _lazy_on_dask(function):
    """function(params, layers, X, dtype) as it is, or lazily on each row block of a dask X
    (a dask array: :func:`fastnn.dask.map_rows`)."""
    @wraps(function)
    def on_any_X(params, layers, X, dtype=np.float64):
        if is_dask(X):
            from .dask import map_rows

            return map_rows(on_any_X, params, layers, X, dtype)  # importable: picklable
        return function(params, layers, X, dtype)
    return on_any_X


@_lazy_on_dask
def outputs(params, layers, X, dtype=np.float64):
    """Output activations ``(m, K)`` of dtype: K independent sigmoids per row, each in [0, 1];
    rows need not sum to 1 (:func:`predict_proba` scales them to)."""
    data, params = _prepared_with_params(params, layers, X, dtype)
    return data.forward(params, 0, data.layers[-1]).act


@_lazy_on_dask
def predict_proba(params, layers, X, dtype=np.float64):
    """Class probabilities ``(m, K)`` float64: each row's output sigmoids scaled to sum to 1,
    p_k = sigma(z_k) / sum_j sigma(z_j), computed from log sigma(z) so that rows whose
    outputs all underflow still get their proportions."""
    data, params = _prepared_with_params(params, layers, X, dtype)
    z = data.forward(params, data.layers[-1], 0).pre.astype(np.float64)
    log_h = -np.logaddexp(0.0, -z)
    p = np.exp(log_h - log_h.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


@_lazy_on_dask
def predict(params, layers, X, dtype=np.float64):
    """Predicted labels ``(m,)`` int64 in 0..K-1: the output unit of each row with the largest
    pre-activation z (the most active unit, telling apart saturated ones; the first of
    equals). Every predicted label in fastnn (Model, the estimator, the command line) is this."""
    data, params = _prepared_with_params(params, layers, X, dtype)
    return data.labels(params)
