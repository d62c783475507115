"""Training: ``scipy.optimize.minimize`` (or plain gradient descent) on an :class:`Objective`.

BLAS pools stay at one thread while training (see :mod:`fastnn._threads`). Nothing is lost on
the way out: a callback's ``StopIteration``, Ctrl-C, a cost that turns non-finite or a
gradient-descent run that blows up all end the run with a full :class:`TrainResult`.
"""

import operator
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from . import metrics
from ._checks import (check_choice, check_count, check_dtype, check_hidden, check_lam,
                      check_params, check_positive, check_seed, check_units)
from ._threads import thread_limits
from .layout import init_params, n_params
from .network import Objective
from .optimize import HESSP_METHODS
from .rows import UNWEIGHTED, Units, form_of, make_rows
from .tunables import DIVERGED_FACTOR, MAX_CLASSES

if TYPE_CHECKING:  # scipy.optimize takes 0.4 s to import: only training imports it
    from scipy.optimize import OptimizeResult

GRADIENT_METHODS = ("CG", "BFGS", "L-BFGS-B", "TNC", *HESSP_METHODS)
METHODS = GRADIENT_METHODS + ("gd",)


@dataclass
class TrainResult:
    """What :func:`train` returns. ``costs[i]`` is the cost after iteration i+1."""

    params: np.ndarray
    layers: tuple
    costs: list
    n_iter: int
    nfev: int
    seconds: float
    train_score: float  # accuracy (class outputs) or R^2 (identity outputs): see ``scoring``
    validation_score: float | None
    stopped: str  # "converged", "maxiter", "callback", "interrupted", "diverged", "non-finite"
    # or "failed" (the optimizer gave up: message says why)
    message: str
    scoring: str = "accuracy"  # or "r2", the coefficient of determination
    validation_rows: np.ndarray | None = None  # rows of X held out by a validation fraction
    scipy_result: "OptimizeResult | None" = field(default=None, repr=False)

    @property
    def cost(self):
        """The final cost (the cost of ``params``)."""
        return self.costs[-1] if self.costs else float("nan")

    @property
    def train_accuracy(self):
        """The training accuracy (None for identity outputs: see ``train_score``)."""
        return self.train_score if self.scoring == "accuracy" else None

    @property
    def validation_accuracy(self):
        """The validation accuracy (None without validation rows or for identity outputs)."""
        return self.validation_score if self.scoring == "accuracy" else None


class _Stop(Exception):
    """Raised inside the optimizer's loop to leave it; ``reason`` says why."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason, self.message = reason, message


class _Point(NamedTuple):
    cost: float
    params: np.ndarray


class _Tracker:
    """Wraps the objective: counts evaluations, keeps the best point evaluated and the last
    iterate accepted (both ``_Point``), and stops the optimizer when the cost or gradient
    stops being finite instead of feeding it back."""

    def __init__(self, objective, hint):
        self.objective, self.hint, self.nfev = objective, hint, 0
        self.best = self.evaluated = self.accepted = None

    def __call__(self, params):
        if not np.isfinite(params).all():
            raise _Stop("non-finite", f"the optimizer stepped to non-finite parameters at "
                        f"evaluation {self.nfev + 1} ({self.hint}); returning the last "
                        "accepted parameters")
        try:
            J, grad = self.objective(params)
        except ValueError as err:  # params beyond float32's range
            raise _Stop("non-finite", f"{err} at evaluation {self.nfev + 1}; returning the "
                        "last accepted parameters") from None
        self.nfev += 1
        if not (np.isfinite(J) and np.isfinite(grad).all()):
            raise _Stop("non-finite", f"the cost or gradient became non-finite at evaluation "
                        f"{self.nfev} (cost {J:.3g}; {self.hint}); returning the last "
                        "accepted parameters")
        self.evaluated = _Point(J, params.copy())
        if self.best is None or J < self.best.cost:
            self.best = self.evaluated
        return J, grad

    def accept(self, params, J=None):
        """Record an iterate; its cost is looked up (or evaluated) when not given."""
        if J is None:
            J = self.cost_of(params, checked=True)
        self.accepted = _Point(float(J), np.array(params, dtype=np.float64))
        return self.accepted.cost

    def cost_of(self, params, checked=False):
        """The cost of params: the last evaluation's if it was there, else evaluated now
        (through the checks of ``__call__`` when ``checked``; else whatever it is)."""
        if self.evaluated is not None and np.array_equal(self.evaluated.params, params):
            return self.evaluated.cost
        return (self if checked else self.objective)(params)[0]


def stratified_split(y, fraction, seed):
    """Indices (train, validation): ``fraction`` of each class (of all rows, for real
    targets y ``(m, K)``), drawn with ``seed``."""
    if not 0 < fraction < 1:
        raise ValueError("validation must be a fraction in (0, 1) or an (X, y) pair, "
                         f"got {fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for members in _strata(y):
        members = rng.permutation(members)
        held.append(members[:int(round(fraction * members.size))])
    held = np.sort(np.concatenate(held))
    if held.size in (0, y.size):
        raise ValueError(f"validation fraction {fraction} leaves no rows for one side")
    return np.setdiff1d(np.arange(y.shape[0]), held), held


def _strata(y):
    """The rows of each class of labels y; all rows for real targets."""
    if y.ndim > 1:
        return [np.arange(y.shape[0])]
    return [np.flatnonzero(y == label) for label in np.unique(y)]


def _split(form, layers, X, y, weights, dtype, units, validation, seed):
    """``(fit, held, held_rows)``: the rows to fit (for many calls), the validation rows (or
    None) and, for a validation fraction, the rows of X it holds. X, y and the weights as
    checked by ``form``, the rows made by it."""
    if validation is None or isinstance(validation, tuple):
        held = None if validation is None else make_rows(
            layers, *validation, dtype, activation=units.activation, output=units.output)
        return form.rows(layers, X, y, dtype, True, None, units, weights), held, None
    fit_rows, held_rows = stratified_split(y, validation, seed)
    return (form.rows(layers, form.take(X, fit_rows), y[fit_rows], dtype, True, None, units,
                      weights[fit_rows] if weights.shape[0] else weights),
            form.rows(layers, form.take(X, held_rows), y[held_rows], dtype, False, None, units,
                      UNWEIGHTED),
            held_rows)


def score(params, data):
    """Accuracy of the predicted labels, or R^2 of identity outputs' values."""
    if data.units.output == "identity":
        return metrics.r2(data.y, data.values(params))
    return metrics.accuracy(data.y, data.labels(params))


def _gradient_descent(fun, p0, maxiter, learning_rate, tol, callback):
    """Plain gradient descent, the notebooks' version: p <- p - learning_rate * grad."""
    from scipy.optimize import OptimizeResult

    p = p0.copy()
    J, grad = fun(p)
    start = J
    for it in range(1, maxiter + 1):
        step = p - learning_rate * grad
        J_new, grad = fun(step)
        if J_new > DIVERGED_FACTOR * start:
            raise _Stop("diverged", f"gradient descent diverged at iteration {it} (cost "
                        f"{J_new:.3g} from {start:.3g}): lower learning_rate; returning the "
                        "last parameters before it")
        p, converged = step, tol is not None and abs(J - J_new) < tol
        J = J_new
        callback(OptimizeResult(x=p, fun=J, nit=it))
        if converged:
            return "converged", f"cost changed by less than tol = {tol}"
    return "maxiter", f"reached maxiter = {maxiter}"


def train(X, y, hidden=(25,), lam=1.0, method="L-BFGS-B", maxiter=400, seed=0, tol=None,
          dtype=np.float64, validation=None, callback=None, progress=False, learning_rate=1.0,
          init=None, n_classes=None, *, activation="logistic", output="logistic",
          sample_weight=None):
    """Train a network on (X, y) and report.

    Parameters
    ----------
    X : (m, n) real array, a scipy.sparse matrix (read as CSR) or a dask array chunked by
        rows (trained on its workers: :mod:`fastnn.dask`). y : (m,) integer labels 0..K-1;
        for ``output="identity"``, (m,) or (m, K) real targets.
    hidden : hidden layer sizes; the network is ``(n, *hidden, K)``.
    n_classes : K, the output units; default max(y) + 1 (the columns of y for identity
        outputs).
    activation, output, sample_weight : the unit functions and the rows' weights, as for
        :class:`fastnn.Objective`.
    lam : L2 strength (biases not regularised).
    method : a scipy method that uses the gradient (CG, BFGS, L-BFGS-B, TNC, Newton-CG,
        trust-ncg, trust-krylov; the last three get exact Hessian-vector products) or "gd",
        plain gradient descent with ``learning_rate``.
    maxiter, tol : iteration limit and tolerance (scipy's ``tol``; for "gd" the change of the
        cost between iterations).
    seed : seeds the initial weights (:func:`fastnn.init_params`) and the validation split.
    init : the parameters to start from, ``(n_params,)``; default ``init_params(layers, seed)``.
    dtype : np.float64 or np.float32 compute precision.
    validation : None, a fraction (a split stratified by class) or an ``(X_val, y_val)`` pair.
    callback : ``callback(intermediate_result)`` after every iteration, scipy's new form
        (``.x``, ``.fun``, ``.nit``); raising StopIteration ends training early.
    progress : show a progress bar (tqdm) with the iteration and the cost.

    Returns
    -------
    TrainResult (scored by accuracy, or by R^2 for identity outputs). Ctrl-C during training
    returns the best result so far.
    """
    method, maxiter = check_choice(method, "method", METHODS), check_count(maxiter, "maxiter")
    hidden, seed = check_hidden(hidden), check_seed(seed)
    dtype, lam = check_dtype(dtype), check_lam(lam)
    tol = check_positive(tol, "tol", allow_none=True, allow_zero=True)
    if method == "gd":
        learning_rate = check_positive(learning_rate, "learning_rate")
    units = Units(*check_units(activation, output))
    form = form_of(X)  # checked once, at the door
    X = form.check(X, None, dtype)
    y = form.targets(y, X, None if n_classes is None else operator.index(n_classes),
                     units.output)
    weights = form.weights(sample_weight, X)
    layers = (int(X.shape[1]), *hidden, _n_outputs(y, n_classes))
    p0 = (init_params(layers, seed, activation=units.activation) if init is None
          else check_params(init, n_params(layers), "init"))
    fit, held, held_rows = _split(form, layers, X, y, weights, dtype, units, validation, seed)
    objective = Objective.on(fit, lam)  # X validated once, not copied again
    tracker = _Tracker(objective, f"lam = {lam:g}" + (f", learning_rate = {learning_rate:g}"
                                                       if method == "gd" else ""))
    iterations = _Iterations(tracker, maxiter, callback,
                             _progress_bar(maxiter, method) if progress else None)
    start = time.perf_counter()
    stopped, message, scipy_result = _optimize(method, tracker, p0, iterations, maxiter, tol,
                                               learning_rate)
    seconds = time.perf_counter() - start
    final_cost, params = _outcome(tracker, scipy_result, stopped, p0)
    costs = iterations.costs + ([] if iterations.costs[-1:] == [final_cost] else [final_cost])
    return TrainResult(
        params=params, layers=layers, costs=costs, n_iter=len(costs), nfev=tracker.nfev,
        seconds=seconds, train_score=score(params, fit),
        validation_score=None if held is None else score(params, held),
        stopped=stopped, message=message,
        scoring="r2" if units.output == "identity" else "accuracy", validation_rows=held_rows,
        scipy_result=scipy_result)


def _n_outputs(y, n_classes):
    """The output units: n_classes, else one per label 0..max(y) (refused beyond MAX_CLASSES:
    a mislabelled y), or y's columns (real targets)."""
    if y.ndim > 1:
        return y.shape[1]
    if y.max() >= MAX_CLASSES:
        raise ValueError(f"y holds the label {y.max()}: train makes one output unit per label "
                         f"0..max(y), at most {MAX_CLASSES}; relabel the classes as 0..K-1 "
                         "(np.unique(y, return_inverse=True)) or use NeuralNetClassifier, "
                         "which takes any labels")
    return int(y.max()) + 1 if n_classes is None else operator.index(n_classes)


class _Iterations:
    """The optimizer's per-iteration callback: records each accepted cost, moves the progress
    bar, calls the user's callback (whose StopIteration ends training) and stops at maxiter
    (TNC has no iteration limit of its own)."""

    def __init__(self, tracker, maxiter, callback, bar):
        self.tracker, self.maxiter, self.callback, self.bar = tracker, maxiter, callback, bar
        self.costs = []

    def __call__(self, intermediate_result):  # scipy knows its new form by this name
        from scipy.optimize import OptimizeResult

        state = intermediate_result
        if isinstance(state, OptimizeResult):
            x, J = state.x, self.tracker.accept(state.x, state.fun)
        else:  # TNC passes x alone
            x, J = state, self.tracker.accept(state)
        self.costs.append(J)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(cost=f"{J:.5f}")
        if self.callback is not None:
            try:
                self.callback(OptimizeResult(x=x, fun=J, nit=len(self.costs)))
            except StopIteration:
                raise _Stop("callback", "stopped by the callback") from None
        if len(self.costs) >= self.maxiter:
            raise _Stop("maxiter", f"reached maxiter = {self.maxiter}")


def _optimize(method, tracker, p0, iterations, maxiter, tol, learning_rate):
    """Run the optimizer from p0 with BLAS at one thread: ``(stopped, message, scipy's
    result or None)``. Whatever ends it (a stop, Ctrl-C) ends it here."""
    from scipy.optimize import minimize

    try:
        with thread_limits():
            if method == "gd":
                return (*_gradient_descent(tracker, p0, maxiter, learning_rate, tol, iterations),
                        None)
            hessp = tracker.objective.hessp if method in HESSP_METHODS else None
            scipy_result = minimize(tracker, p0, jac=True, method=method, tol=tol,
                                    callback=iterations, hessp=hessp,
                                    options={} if method == "TNC" else {"maxiter": maxiter})
            stopped = ("converged" if scipy_result.success else
                       "maxiter" if scipy_result.nit >= maxiter else "failed")
            return stopped, str(scipy_result.message), scipy_result
    except _Stop as stop:
        return stop.reason, stop.message, None
    except KeyboardInterrupt:
        return "interrupted", "interrupted (Ctrl-C): returning the best result so far", None
    finally:
        if iterations.bar is not None:
            iterations.bar.close()


def _outcome(tracker, scipy_result, stopped, p0):
    """``(cost, params)`` to return: scipy's x at the cost we computed (its fun may be unset);
    after Ctrl-C the best point evaluated; else the last accepted iterate, or p0."""
    if scipy_result is not None:
        return float(tracker.cost_of(scipy_result.x)), scipy_result.x
    if stopped == "interrupted" and tracker.best is not None:
        return tracker.best
    if tracker.accepted is not None:
        return tracker.accepted
    return float(tracker.cost_of(p0)), p0  # stopped at the first evaluation


def _progress_bar(total, method):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"training ({method})", unit="it", leave=False)


class SweepRow(NamedTuple):
    lam: float
    cost: float
    train_accuracy: float
    validation_accuracy: float
    seconds: float


def sweep(X, y, lams, hidden=(25,), validation=0.2, **train_kwargs):
    """Train once per lambda on the same split and start: the notebooks' lambda experiment.

    Returns a list of :class:`SweepRow` (lam, final cost, training and validation accuracy,
    seconds); ``format_sweep`` renders it as a table.
    """
    rows = []
    for lam in lams:
        result = train(X, y, hidden=hidden, lam=lam, validation=validation, **train_kwargs)
        rows.append(SweepRow(float(lam), result.cost, result.train_accuracy,
                             result.validation_accuracy, result.seconds))
    return rows


def format_sweep(rows):
    """A plain-text table of :func:`sweep` rows."""
    lines = [f"{'lambda':>8} {'cost':>9} {'train':>8} {'validation':>10} {'seconds':>8}"]
    for r in rows:
        lines.append(f"{r.lam:>8g} {r.cost:>9.4f} {r.train_accuracy:>8.2%} "
                     f"{r.validation_accuracy:>10.2%} {r.seconds:>8.2f}")
    return "\n".join(lines)
