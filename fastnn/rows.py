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
from typing import Protocol, runtime_checkable

import numpy as np

from . import kernels
from ._checks import check_dtype, check_in_dtype, check_layers, check_X, check_y, take_rows
from .tunables import (BLAS_BELOW_INPUTS, BLAS_FROM_DENSITY, BLAS_FROM_HIDDEN_UNITS,
                       COST_GRAD_TILE_ROWS, FORWARD_TILE_ROWS)


@runtime_checkable
class Rows(Protocol):
    """Rows of X with their labels (y may be None where only predictions are asked for).

    ``layers`` a tuple of ints, ``dtype`` np.float64 or np.float32, ``m`` the number of rows,
    ``y`` ``(m,)`` int64 labels in this process, ``plan`` the kernels that run. Parameters
    and vectors given to the methods are checked float64 ``(n_params,)``.
    """

    layers: tuple
    dtype: type
    y: np.ndarray | None
    plan: str

    @property
    def m(self) -> int: ...

    def sums(self, params):
        """(loss, grad): the cross-entropy and its float64 gradient summed over the rows (no
        mean, no L2 term)."""

    def hessp_sums(self, params, v):
        """The Hessian of the summed loss at params times v, float64 ``(n_params,)``."""

    def labels(self, params):
        """Predicted labels ``(m,)`` int64: the output unit with the largest z in each row."""


def choose_plan(layers, density=None):
    """The kernels for a network: ``"blas"`` (:mod:`fastnn.kernels.tiled`, a matrix product per
    layer and tile of rows) or ``"fused"`` (:mod:`fastnn.kernels.fused`, micro-kernels that
    skip X's zeros). ``density``: the fraction of X's entries the fused first layer would read,
    None where not known (rows read once), which keeps sparse-friendly "fused".

    The thresholds (:mod:`fastnn.tunables`) come from timing both plans' kernels on bench/'s
    shape matrix in one process (docs/architecture.md, "Two plans").

    >>> choose_plan((400, 25, 10)), choose_plan((400, 25, 10), density=0.9)
    ('fused', 'blas')
    >>> choose_plan((784, 256, 10)), choose_plan((16, 16, 4))
    ('blas', 'blas')
    """
    if max(layers[1:-1], default=0) >= BLAS_FROM_HIDDEN_UNITS or layers[0] < BLAS_BELOW_INPUTS:
        return "blas"
    return "blas" if density is not None and density >= BLAS_FROM_DENSITY else "fused"


@dataclass(frozen=True)
class InMemoryRows:
    """Rows in this process: X ``(m, s1)`` C-contiguous of ``dtype`` or ``kernels.CsrRows`` of
    dtype, y ``(m,)`` int64 labels or None; ``plan`` (:func:`choose_plan`; hessp always runs
    "fused"); ``columns``: X's non-zero input columns by blocks of rows, found once
    (``kernels.nonzero_columns``), or ``kernels.unsearched_columns()`` where each group of
    rows finds its own as the kernels go."""

    layers: tuple
    X: np.ndarray
    y: np.ndarray | None
    dtype: type
    plan: str
    columns: kernels.ColumnLists

    @property
    def m(self):
        return self.X.shape[0]

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
                                                                act_cols, FORWARD_TILE_ROWS))
        return kernels.forward_states(self.X, w, self.sizes, pre_cols, act_cols)

    def labels(self, params):
        """Predicted labels ``(m,)``: the output unit of each row with the largest z (the first
        of equals, as ``np.argmax``). sigma is increasing, so this is the most active unit,
        also where saturated sigmoids round to the same 1.0; the outputs' sigma is not
        computed."""
        return kernels.argmax_rows(self.forward(params, self.layers[-1], 0).pre)

    def sums(self, params):
        w = check_in_dtype(params, self.dtype)
        if self.plan == "blas":
            return kernels.tiled_cost_grad_sums(self.X, self.y, w, self.sizes,
                                                COST_GRAD_TILE_ROWS)
        return kernels.cost_grad_sums(self.X, self.y, w, self.sizes, self.columns)

    def hessp_sums(self, params, v):
        return kernels.hessp_sums(self.X, self.y, check_in_dtype(params, self.dtype),
                                  check_in_dtype(v, self.dtype, "v"), self.sizes, self.columns)


class InMemory:
    """How X held in this process (a numpy array, anything ``np.asarray`` takes, a
    scipy.sparse matrix) is checked, split and made into rows. ``lazy``: whether results on
    it are computed later (False: now)."""

    lazy = False

    check = staticmethod(check_X)  # X as the kernels take it

    @staticmethod
    def labels(y, X, n_classes):
        """y for checked X as ``(m,)`` int64 labels in 0..n_classes-1 (any >= 0 for None)."""
        return check_y(y, X.shape[0], n_classes)

    take = staticmethod(take_rows)  # the rows ``index`` of checked X, in the same form

    @staticmethod
    def rows(layers, X, y, dtype, keep, plan=None):
        """:class:`InMemoryRows` on checked X and y (kept as they are). ``keep``: the rows
        serve many calls, so X's non-zero columns are found once and the plan is chosen by
        the density they give (else each call finds them as it goes: cheaper once).
        ``plan`` forces one."""
        dense = not isinstance(X, kernels.CsrRows)
        search = keep and dense and (plan or choose_plan(layers)) == "fused"
        columns = kernels.nonzero_columns(X) if search else kernels.unsearched_columns()
        if plan is None:
            plan = choose_plan(layers, _density(X, columns) if keep else None)
        return InMemoryRows(layers, X, y, dtype, plan, columns)

    @staticmethod
    def gather(y):
        """y as a numpy array in this process."""
        return np.asarray(y)

    @staticmethod
    def map(function, params, layers, X, dtype):
        """``function(params, layers, X, dtype)``: a result for every row, now."""
        return function(params, layers, X, dtype)


def _density(X, columns):
    """The fraction of X's entries the fused first layer reads: CSR's stored entries, or the
    non-zero columns found of dense X; None where not found."""
    if isinstance(X, kernels.CsrRows):
        return X.data.shape[0] / (X.shape[0] * X.shape[1])
    if columns.cached:
        return columns.cols.shape[0] / (max(1, columns.starts.shape[0] - 1) * X.shape[1])
    return None


@singledispatch
def form_of(X):
    """How X is checked and read: :class:`InMemory`'s interface, for X's type."""
    if hasattr(X, "__dask_graph__"):  # read into memory here, it would be computed whole
        raise TypeError(f"X is a dask {type(X).__name__}: import fastnn.dask first (pip install "
                        "'fastnn[dask]'), which reads it block by block on dask's workers")
    return InMemory


def make_rows(layers, X, y=None, dtype=np.float64, keep=False, plan=None):
    """Rows of X (any form :func:`form_of` knows) and labels y, validated in the order errors
    are reported (layers, dtype, X, y), with their plan. With ``keep``, rows for many calls
    (see :meth:`InMemory.rows`) that never share memory with the caller's X."""
    layers, dtype = check_layers(layers), check_dtype(dtype)
    form = form_of(X)
    checked = form.check(X, layers[0], dtype)
    labels = None if y is None else form.labels(y, checked, layers[-1])
    if keep and not form.lazy and shares_memory(checked, X):  # y is always converted
        checked = checked.copy()
    return form.rows(layers, checked, labels, dtype, keep, plan)


def shares_memory(checked, X):
    """Whether checked X (an array or ``CsrRows``) may share memory with the caller's X."""
    if not isinstance(checked, kernels.CsrRows):
        return np.may_share_memory(checked, X)
    theirs = [getattr(X, name) for name in ("data", "indices", "indptr") if hasattr(X, name)]
    return any(np.may_share_memory(a, b) for a in checked for b in theirs)
