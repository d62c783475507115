"""Rows: the data an objective or a prediction reads, validated once, with its plan.

Everything above this layer sees rows through the :class:`Rows` protocol, whatever holds them:
:class:`InMemoryRows` in this process (a dense array or ``kernels.CsrRows``), or
:class:`fastnn.dask.DaskRows` on dask workers. Which one X makes is decided in one place,
:func:`form_of`, a dispatch on X's type: X in memory by default; :mod:`fastnn.dask` registers
dask arrays when imported. :func:`make_rows` is the one constructor: it validates, converts
and chooses the plan once.
"""

from dataclasses import dataclass
from functools import cached_property, singledispatch
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from . import kernels
from ._checks import (check_dtype, check_in_dtype, check_layers, check_sample_weight, check_targets,
                      check_units, check_X, take_rows)
from ._isa import L2_BYTES, TILE_ROWS
from .tunables import (BLAS_FORWARD_FROM_L2_SHARE, BLAS_FORWARD_FROM_WEIGHTS, BLAS_FROM_WEIGHTS,
                       COST_GRAD_TILE_ROWS, FORWARD_TILE_ROWS)


class Units(NamedTuple):
    """A network's unit functions: its hidden layers' ``activation`` and its ``output``
    (names from ``fastnn._checks.ACTIVATIONS`` and ``OUTPUTS``; the defaults are the course's
    network)."""

    activation: str = "logistic"
    output: str = "logistic"

    @property
    def codes(self):
        """``(activation, output)`` as the kernels take them: int64 codes of ``kernels.UNITS``."""
        return np.array([kernels.UNITS.index(name) for name in self], np.int64)


UNWEIGHTED = np.zeros(0)  # the kernels' sample weights for "every row weighs 1"


@runtime_checkable
class Rows(Protocol):
    """Rows of X with their targets (y may be None where only predictions are asked for).

    ``layers`` a tuple of ints, ``dtype`` np.float64 or np.float32, ``units`` the
    :class:`Units`, ``m`` the number of rows, ``total`` their summed sample weights (m
    unweighted), ``y`` the targets in this process (``(m,)`` int64 labels, or ``(m, K)``
    float64 values for identity outputs), ``plan`` the kernels that run. Parameters and
    vectors given to the methods are checked float64 ``(n_params,)``.
    """

    layers: tuple
    dtype: type
    units: Units
    y: np.ndarray | None
    plan: str

    @property
    def m(self) -> int: ...

    @property
    def total(self) -> float: ...

    def sums(self, params):
        """(loss, grad): the weighted loss and its float64 gradient summed over the rows (no
        mean, no L2 term)."""

    def hessp_sums(self, params, v):
        """The Hessian of the summed weighted loss at params times v, float64 ``(n_params,)``."""

    def labels(self, params):
        """Predicted labels ``(m,)`` int64: the output unit with the largest z in each row."""

    def values(self, params):
        """The output units' values ``(m, K)`` of dtype (sigmoids, softmax, or z)."""


def choose_plan(layers, forward=False, dtype=np.float64):
    """The kernels for a network: ``"blas"`` (:mod:`fastnn.kernels.tiled`, a matrix product per
    layer and tile of rows) where a layer has as many weights as :func:`_plan_limit` says or
    more, else ``"fused"`` (:mod:`fastnn.kernels.fused`: micro-kernels that keep a group of
    rows in registers and skip X's zeros). Timed on both plans' kernels in one process
    (docs/architecture.md, "Two plans"): the fused kernels win, on dense X too, until a
    layer's weights outgrow the caches.

    >>> choose_plan((400, 25, 10)), choose_plan((784, 64, 10)), choose_plan((16, 16, 4))
    ('fused', 'blas', 'fused')
    >>> choose_plan((784, 64, 10), forward=True), choose_plan((784, 512, 10), forward=True)
    ('fused', 'blas')
    """
    largest = max((n_in + 1) * n_out for n_in, n_out in zip(layers[:-1], layers[1:]))
    return "blas" if largest >= _plan_limit(forward, dtype) else "fused"


def _plan_limit(forward, dtype):
    """Weights in a layer from which :func:`choose_plan` picks the BLAS plan:
    ``tunables.BLAS_FROM_WEIGHTS`` for cost and gradient; for rows read by ``forward`` passes
    alone, ``BLAS_FORWARD_FROM_WEIGHTS``, or, where the micro-kernels' tiles hold 8 rows
    (``fastnn._isa.TILE_ROWS``) and the host's L2 size is known (``_isa.L2_BYTES``), as many
    weights of ``dtype`` as fill ``BLAS_FORWARD_FROM_L2_SHARE`` of it."""
    if not forward:
        return BLAS_FROM_WEIGHTS
    if TILE_ROWS == 8 and L2_BYTES:
        return int(BLAS_FORWARD_FROM_L2_SHARE * L2_BYTES) // np.dtype(dtype).itemsize
    return BLAS_FORWARD_FROM_WEIGHTS


@dataclass(frozen=True)
class InMemoryRows:
    """Rows in this process: X ``(m, s1)`` C-contiguous of ``dtype`` or ``kernels.CsrRows`` of
    dtype, y the checked targets or None; ``plan`` (:func:`choose_plan`; hessp always runs
    "fused"); ``columns``: X's non-zero input columns by blocks of rows, found once
    (``kernels.nonzero_columns``), or ``kernels.unsearched_columns()`` where each group of
    rows finds its own as the kernels go; ``weights`` ``(m,)`` float64 sample weights, or
    :data:`UNWEIGHTED`; ``unchecked``: the caller's X where its values were left for the
    kernels to check as they read them (``make_rows(read_once=True)``), else None."""

    layers: tuple
    X: np.ndarray
    y: np.ndarray | None
    dtype: type
    plan: str
    columns: kernels.ColumnLists
    units: Units
    weights: np.ndarray
    unchecked: object = None

    @property
    def m(self):
        return self.X.shape[0]

    @property
    def total(self):
        return float(self.weights.sum()) if self.weights.shape[0] else float(self.m)

    @cached_property
    def sizes(self):
        """The layer sizes as the kernels take them: an int64 array."""
        return np.array(self.layers, np.int64)

    @cached_property
    def codes(self):
        return self.units.codes

    @cached_property
    def targets(self):
        """Y ``(m, K)`` float64 as the kernels take it: one-hot labels, or identity outputs'
        values."""
        if self.units.output == "identity":
            return self.y
        Y = np.zeros((self.m, self.layers[-1]))
        Y[np.arange(self.m), self.y] = 1.0
        return Y

    def forward(self, params, pre_cols, act_cols):
        """``States``: the last pre_cols columns of z and act_cols of the units' values (the
        outputs' last) of every row (``kernels.forward_states``) at float64 params."""
        w = check_in_dtype(params, self.dtype)
        if self.plan == "blas":
            states = kernels.States(*kernels.tiled_forward_states(
                self.X, w, self.sizes, self.codes, pre_cols, act_cols, FORWARD_TILE_ROWS))
        else:
            states = kernels.forward_states(self.X, w, self.sizes, self.codes, pre_cols,
                                            act_cols)
        self.check_read(states.read)
        return states

    def check_X_values(self):
        """Raise check_X's ValueError where X's values were left unchecked (``unchecked``)
        and are not finite."""
        if self.unchecked is not None:
            check_X(self.unchecked, dtype=self.dtype)

    def check_read(self, read):
        """``check_X_values`` where a kernel's sum of |x| as it read X (``States.read``) is
        not finite: X holds nan or inf, or only the sum overflowed."""
        if not np.isfinite(read):
            self.check_X_values()

    def labels(self, params):
        """Predicted labels ``(m,)``: the output unit of each row with the largest z (the first
        of equals, as ``np.argmax``). sigma and softmax are increasing in z, so this is the
        most active unit, also where saturated sigmoids round to the same 1.0; the outputs'
        values are not computed."""
        return kernels.argmax_rows(self.forward(params, self.layers[-1], 0).pre)

    def values(self, params):
        return self.forward(params, 0, self.layers[-1]).act

    def sums(self, params):
        w = check_in_dtype(params, self.dtype)
        if self.plan == "blas":
            loss, grad, read = kernels.tiled_cost_grad_sums(
                self.X, self.targets, self.weights, w, self.sizes, self.codes, COST_GRAD_TILE_ROWS,
                self.unchecked is not None)
        else:
            loss, grad, read = kernels.cost_grad_sums(self.X, self.targets, self.weights, w,
                                                      self.sizes, self.codes, self.columns)
        self.check_read(read)
        return loss, grad

    def hessp_sums(self, params, v):
        self.check_X_values()
        return kernels.hessp_sums(self.X, self.targets, self.weights,
                                  check_in_dtype(params, self.dtype),
                                  check_in_dtype(v, self.dtype, "v"), self.sizes, self.codes,
                                  self.columns)


class InMemory:
    """How X held in this process (a numpy array, anything ``np.asarray`` takes, a
    scipy.sparse matrix) is checked, split and made into rows. ``lazy``: whether results on
    it are computed later (False: now)."""

    lazy = False

    check = staticmethod(check_X)  # X as the kernels take it (finite=False: values unchecked)

    @staticmethod
    def targets(y, X, n_outputs, output):
        """y for checked X (``_checks.check_targets``): ``(m,)`` int64 labels in
        0..n_outputs-1 (any >= 0 for None), or ``(m, n_outputs)`` float64 values for identity
        outputs."""
        return check_targets(y, X.shape[0], n_outputs, output)

    @staticmethod
    def weights(sample_weight, X):
        """Sample weights for checked X: ``(m,)`` float64 >= 0, or :data:`UNWEIGHTED` for
        None."""
        return UNWEIGHTED if sample_weight is None else check_sample_weight(sample_weight,
                                                                            X.shape[0])

    take = staticmethod(take_rows)  # the rows ``index`` of checked X, in the same form

    @staticmethod
    def rows(layers, X, y, dtype, keep, plan, units, weights, unchecked=None):
        """:class:`InMemoryRows` on checked X, y and weights (kept as they are). ``keep``: the rows
        serve many calls, so X's non-zero columns are found once (else each call finds them
        as it goes: cheaper once). ``plan`` forces one (None: :func:`choose_plan`); ``units``
        the :class:`Units`, ``weights`` checked sample weights or :data:`UNWEIGHTED`;
        ``unchecked``: the caller's X, for rows read once, whose kernels check its values as
        they read it (``make_rows(read_once=True)``; kept for a dense X only, whose columns
        are then found as the kernels go). The plan is the forward passes' where there is no
        y."""
        dense = not isinstance(X, kernels.CsrRows)
        plan = plan or choose_plan(layers, forward=y is None, dtype=dtype)
        search = keep and dense and plan == "fused" and unchecked is None
        columns = kernels.nonzero_columns(X) if search else kernels.unsearched_columns()
        return InMemoryRows(layers, X, y, dtype, plan, columns, units, weights,
                            unchecked if dense else None)

    @staticmethod
    def gather(y):
        """y as a numpy array in this process."""
        return np.asarray(y)

    @staticmethod
    def map(function, params, layers, X, dtype):
        """``function(params, layers, X, dtype)``: a result for every row, now."""
        return function(params, layers, X, dtype)


@singledispatch
def form_of(X):
    """How X is checked and read: :class:`InMemory`'s interface, for X's type."""
    if hasattr(X, "__dask_graph__"):  # read into memory here, it would be computed whole
        raise TypeError(f"X is a dask {type(X).__name__}: import fastnn.dask first (pip install "
                        "'fastnn[dask]'), which reads it block by block on dask's workers")
    return InMemory


def make_rows(layers, X, y=None, dtype=np.float64, keep=False, plan=None, *,
              activation="logistic", output="logistic", sample_weight=None, read_once=False):
    """Rows of X (any form :func:`form_of` knows), targets y and sample weights, validated in
    the order errors are reported (layers, dtype, units, X, y, sample_weight), with their
    plan. With ``keep``, rows for many calls (see :meth:`InMemory.rows`) that never share
    memory with the caller's X (y and the weights are always converted). With
    ``read_once``, rows for one pass over X (predictions, the drop-in cost_grad), whose
    kernels check a dense X's values as they first read them (one read of X, not two; the
    same ValueError for nan or inf, raised after the pass)."""
    layers, dtype = check_layers(layers), check_dtype(dtype)
    units = Units(*check_units(activation, output))
    form = form_of(X)
    checked = form.check(X, layers[0], dtype, finite=not read_once)
    targets = None if y is None else form.targets(y, checked, layers[-1], units.output)
    weights = form.weights(sample_weight, checked)
    if keep and not form.lazy and shares_memory(checked, X):
        checked = checked.copy()
    return form.rows(layers, checked, targets, dtype, keep, plan, units, weights,
                     X if read_once else None)


def shares_memory(checked, X):
    """Whether checked X (an array or ``CsrRows``) may share memory with the caller's X."""
    if not isinstance(checked, kernels.CsrRows):
        return np.may_share_memory(checked, X)
    theirs = [getattr(X, name) for name in ("data", "indices", "indptr") if hasattr(X, name)]
    return any(np.may_share_memory(a, b) for a in checked for b in theirs)
