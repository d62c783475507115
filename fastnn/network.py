"""Public API of the network: the objective, its cost and gradient, prediction.

Conventions: ``layers = (s1, ..., sL)``; X is ``(m, s1)`` (any real dtype and memory order);
labels y are integers in ``0..K-1`` with ``K = sL`` (real targets ``(m, K)`` or ``(m,)`` for
identity outputs); ``params`` is the flat row-major layout of :mod:`fastnn.layout` (bias in
column 0 of each Theta). Inputs are never modified.

Unit functions, chosen by name at run time (the same compiled kernels run them all):
``activation`` of every hidden layer in "logistic" (the default), "tanh", "relu",
"identity"; ``output`` in "logistic" (the default: K independent sigmoids, cross-entropy per
unit), "softmax" (categorical cross-entropy), "identity" (squared error / 2). With
``sample_weight`` s, J = (1 / sum s) sum_i s_i loss_i + lam / (2 sum s) ||W||^2 (W the
weights without biases; scikit-learn's definition: integer weights equal repeated rows).

Every entry point makes its :mod:`fastnn.rows` once (validated, converted, with its plan) and
reads them through the ``Rows`` protocol. On a dask X (with :mod:`fastnn.dask` imported),
:func:`outputs`, :func:`predict_proba` and :func:`predict` return dask arrays (each row block
computed when asked for) and :class:`Objective` sums the blocks' shares on dask's workers.
"""

import functools

import numpy as np

from ._checks import check_lam, check_params
from .layout import n_params, weight_mask
from .optimize import HESSP_METHODS, minimize
from .rows import Units, form_of, make_rows


def regularised(loss, grad, params, lam, layers, m):
    """(J, grad) from the loss and gradient summed over rows of total weight m: their means
    plus the L2 term (biases excluded); grad is scaled in place."""
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


class Objective:
    """Cost and gradient on fixed rows, validated and converted once.

    ``Objective(layers, X, y, lam)(params) -> (J, grad)`` is the callable to hand to
    ``scipy.optimize.minimize(obj, p0, jac=True)``: J is a Python float, grad a fresh float64
    vector shaped like params. It keeps its own copy of X (later changes to the caller's array
    are not seen) and its plan (``obj.plan``, see :func:`fastnn.rows.choose_plan`): on the
    "fused" plan, where X's rows are non-zero, found once, so that every call reads only those
    columns. On a dask X (:mod:`fastnn.dask` imported), the rows stay on dask's workers, each
    block prepared there once, and every call adds the blocks' shares in block order.

    Parameters
    ----------
    layers : sequence of int, ``(s1, ..., sL)``, L >= 2.
    X : (m, s1) real array, scipy.sparse matrix or dask array. y : (m,) integer labels in
        0..sL-1; for ``output="identity"``, (m, sL) real targets ((m,) where sL = 1).
    lam : float >= 0, L2 strength (biases are not regularised).
    dtype : np.float64 (default) or np.float32, the precision of X and the products;
        J and grad are float64 either way.
    activation, output : the unit functions (see the module's docstring).
    sample_weight : None or (m,) weights >= 0, not all 0.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> X, y = np.eye(3), np.array([0, 1, 2])
    >>> obj = fastnn.Objective((3, 2, 3), X, y, lam=0.0)
    >>> J, grad = obj(np.zeros(fastnn.n_params((3, 2, 3))))
    >>> print(f"{J:.6f}", grad.shape)  # every output at sigma(0) = 1/2: J = 3 log 2
    2.079442 (17,)
    """

    def __init__(self, layers, X, y, lam=0.0, dtype=np.float64, *, activation="logistic",
                 output="logistic", sample_weight=None):
        self._start(make_rows(layers, X, y, dtype, keep=True, activation=activation,
                              output=output, sample_weight=sample_weight), check_lam(lam))

    @classmethod
    def on(cls, rows, lam):
        """An Objective on :mod:`fastnn.rows` ``Rows`` with targets, kept as they are."""
        objective = cls.__new__(cls)
        objective._start(rows, check_lam(lam))
        return objective

    def _start(self, rows, lam):
        self.rows, self.lam = rows, lam
        self.layers, self.dtype, self.plan = rows.layers, rows.dtype, rows.plan
        self.n_params = n_params(rows.layers)
        self.total = rows.total  # the rows' summed weights: m, unweighted
        if not self.total > 0:
            raise ValueError("sample_weight must not be all zero: the rows' weights sum to 0")

    def __repr__(self):
        units = "" if self.rows.units == Units() else "".join(
            f", {name}={value!r}" for name, value in self.rows.units._asdict().items())
        return (f"Objective(layers={self.layers}, m={self.rows.m}, lam={self.lam}, "
                f"dtype={np.dtype(self.dtype).name}, plan={self.plan!r}{units})")

    def __call__(self, params):
        params = check_params(params, self.n_params)
        return regularised(*self.rows.sums(params), params, self.lam, self.layers, self.total)

    def minimize(self, x0, method="L-BFGS-B", **kwargs):
        """:func:`fastnn.minimize` of this objective from x0 (its gradient, and its exact
        ``hessp`` for the methods that take one): scipy's ``OptimizeResult``."""
        hessp = self.hessp if method in HESSP_METHODS else None
        return minimize(self, x0, jac=True, method=method, hessp=hessp, **kwargs)

    def hessp(self, params, v):
        """Exact Hessian of J at params times v, ``(n_params,)`` float64 (Pearlmutter's R-operator).

        For ``minimize(obj, p0, jac=True, hessp=obj.hessp, method="Newton-CG")``.
        """
        params = check_params(params, self.n_params)
        v = check_params(v, self.n_params, name="v")
        return averaged(self.rows.hessp_sums(params, v), self.lam, v * weight_mask(self.layers),
                        self.total)


def cost_grad(params, layers, X, y, lam=0.0, dtype=np.float64, *, activation="logistic",
              output="logistic", sample_weight=None):
    """Regularised loss J and its gradient: the drop-in for ``minimize(..., jac=True)``.

    ``minimize(cost_grad, p0, args=(layers, X, y, lam), jac=True)``. Validates every call;
    in a loop, build an :class:`Objective` once instead. See :class:`Objective` for the
    arguments; returns ``(float, (n_params,) float64)``.
    """
    rows = make_rows(layers, X, y, dtype, activation=activation, output=output,
                     sample_weight=sample_weight, read_once=True)
    return Objective.on(rows, lam)(params)


def outputs(params, layers, X, dtype=np.float64, *, activation="logistic", output="logistic"):
    """The output units' values ``(m, K)`` of dtype: K independent sigmoids per row, each in
    [0, 1] (rows need not sum to 1; :func:`predict_proba` scales them to), the softmax, or z
    itself for identity outputs."""
    return _map(_outputs, params, layers, X, dtype, activation, output)


def predict_proba(params, layers, X, dtype=np.float64, *, activation="logistic",
                  output="logistic"):
    """Class probabilities ``(m, K)`` float64: the softmax for softmax outputs; for logistic
    outputs each row's sigmoids scaled to sum to 1, p_k = sigma(z_k) / sum_j sigma(z_j),
    computed from log sigma(z) so that rows whose outputs all underflow still get their
    proportions. Identity outputs have none (a ValueError)."""
    if output == "identity":
        raise ValueError("predict_proba needs class outputs (output='logistic' or 'softmax'); "
                         "identity outputs are values: use predict or outputs")
    return _map(_predict_proba, params, layers, X, dtype, activation, output)


def predict(params, layers, X, dtype=np.float64, *, activation="logistic", output="logistic"):
    """Predicted labels ``(m,)`` int64 in 0..K-1: the output unit of each row with the largest
    pre-activation z (the most active unit, telling apart saturated ones; the first of
    equals). Every predicted label in fastnn (Model, the estimator, the command line) is this.
    For identity outputs, the predicted values ``(m, K)`` of dtype (:func:`outputs`)."""
    if output == "identity":
        return outputs(params, layers, X, dtype, activation=activation, output=output)
    return _map(_labels, params, layers, X, dtype, activation, output)


def _map(function, params, layers, X, dtype, activation, output):
    """``function(rows, params)`` for every row of X: now, or lazily on a dask X."""
    per_rows = functools.partial(_on_rows, function, Units(activation, output))
    return form_of(X).map(per_rows, params, layers, X, dtype)


def _on_rows(function, units, params, layers, X, dtype):
    rows = make_rows(layers, X, dtype=dtype, activation=units.activation, output=units.output,
                     read_once=True)
    return function(rows, check_params(params, n_params(rows.layers)))


def _outputs(rows, params):
    return rows.values(params)


def _predict_proba(rows, params):
    if rows.units.output == "softmax":
        return rows.values(params).astype(np.float64)
    z = rows.forward(params, rows.layers[-1], 0).pre.astype(np.float64)
    log_h = -np.logaddexp(0.0, -z)
    p = np.exp(log_h - log_h.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def _labels(rows, params):
    return rows.labels(params)
