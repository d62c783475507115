"""Dask arrays: training and prediction on row blocks kept where they were prepared.

X is a dask array ``(m, s1)`` cut into blocks of rows, each block holding all s1 columns
(numpy or scipy.sparse chunks); y holds the targets (labels, or real values for identity
outputs) and ``sample_weight`` the rows' weights: dask arrays with X's row chunks or in-memory
arrays (a few bytes a row: they are gathered into this process once).

Importing this module teaches fastnn dask arrays (:func:`fastnn.rows.form_of`): then
:class:`fastnn.Objective`, :func:`fastnn.cost_grad`, :func:`fastnn.train`, the predictions
and ``NeuralNetClassifier`` take a dask X (``fastnn.dask.Objective`` is
:class:`fastnn.Objective`). Its rows are :class:`DaskRows`: each block is validated,
converted and its non-zero columns found once, as for an in-memory X, on a worker of the active
``distributed.Client`` (with no client: in this process, read by dask's default scheduler),
and kept there. An evaluation sends the parameters to every worker once, gets back one
(loss sum, gradient sum) per block and adds them in block order, so it gives the same bits
for any number of workers (the kernels' own sums depend on the rows alone, not on threads).
A worker that dies takes its blocks with it: the scheduler prepares them again from their
source on another worker, and the evaluation completes with the same result.

X chunked across columns is refused rather than rechunked: joining column chunks moves all
of X between workers, a cost to pay once (``X = X.rechunk({1: -1})``), not on every fit.

For X on disk: ``dask.array.from_zarr``, or :func:`from_npy` for an ``.npy`` file (each
block read from the file on the worker that computes it).

Needs ``pip install 'fastnn[dask]'``: dask.array (and distributed, for a cluster).
"""

import asyncio
import functools
import operator
import os

import numba
import numpy as np

try:
    import dask
    import dask.array
    from dask.sizeof import sizeof
except ImportError as err:
    raise ImportError("fastnn.dask needs dask: pip install 'fastnn[dask]'") from err
try:
    import distributed
except ImportError:  # dask's own schedulers, in this process
    distributed = None

from . import network
from ._checks import (check_dtype, check_layers, check_params, check_sample_weight,
                      check_targets, check_X_shape)
from .layout import n_params
from .rows import UNWEIGHTED, InMemoryRows, form_of, make_rows


def check_dask_X(X, n_features=None):
    """A dask X checked by its metadata: 2-D, real, known row chunks, all columns in each
    block, ``n_features`` columns where given. Returned as it is."""
    if X.dtype.kind not in "iuf":
        raise TypeError(f"X must hold real numbers, got a dask array of dtype {X.dtype}")
    if X.ndim == 2 and np.isnan(X.shape[0]):
        raise ValueError("X's row chunks are unknown (nan): call X.compute_chunk_sizes() first")
    check_X_shape(X.shape, n_features)
    if len(X.chunks[1]) > 1:
        raise ValueError(f"X is chunked across columns: its block (0, 1) holds columns "
                         f"{X.chunks[1][0]}..{X.chunks[1][0] + X.chunks[1][1] - 1} of "
                         f"{X.shape[1]}; each block of rows must hold all columns. Rechunk "
                         "once with X = X.rechunk({1: -1})")
    return X


def _bounds(X):
    """The blocks' first rows and m: ``(n_blocks + 1,)`` int64."""
    return np.concatenate([[0], np.cumsum(X.chunks[0], dtype=np.int64)])


def _where(bounds, b, name="X"):
    return f"{name} block {b} (rows {bounds[b]}..{bounds[b + 1] - 1})"


def _gathered(a, X, name):
    """a (a dask array with X's row chunks, or in memory) as an array in this process."""
    if isinstance(a, dask.array.Array):
        if a.ndim not in (1, 2) or a.chunks[0] != X.chunks[0]:
            raise ValueError(f"{name} must be a dask array with X's row chunks {X.chunks[0]}, "
                             f"got shape {a.shape} in chunks {a.chunks}")
        return a.compute()
    return a


def _by_block(check, a, X, name, *args):
    """``check(a, m, *args)``, an error naming the first block of a at fault."""
    bounds = _bounds(X)
    try:
        return check(a, int(bounds[-1]), *args)
    except (TypeError, ValueError):
        whole = np.asarray(a)
        if whole.ndim == 0 or whole.shape[0] != bounds[-1]:  # not a matter of one block
            raise
        for b in range(bounds.shape[0] - 1):
            try:
                check(whole[bounds[b]:bounds[b + 1]], int(bounds[b + 1] - bounds[b]), *args)
            except (TypeError, ValueError) as err:
                raise type(err)(f"{_where(bounds, b, name)}: {err}") from None
        raise


def gathered_targets(y, X, n_outputs=None, output="logistic"):
    """y for a dask X, in this process (``_checks.check_targets``: int64 labels in
    0..n_outputs-1, or ``(m, n_outputs)`` float64 values for identity outputs): a dask y must
    have X's row chunks; an error names the first block at fault."""
    return _by_block(check_targets, _gathered(y, X, "y"), X, "y", n_outputs, output)


def gathered_weights(sample_weight, X):
    """Sample weights for a dask X, in this process (:data:`fastnn.rows.UNWEIGHTED` for
    None), as ``gathered_targets`` checks y."""
    if sample_weight is None:
        return UNWEIGHTED
    return _by_block(check_sample_weight, _gathered(sample_weight, X, "sample_weight"), X,
                     "sample_weight")


def _prepare(x, y, layers, dtype, where, units, weights):
    """A block as :class:`fastnn.rows.InMemoryRows` for many calls (its own copy of the rows),
    errors naming the block."""
    try:
        return make_rows(layers, x, y, dtype, keep=True, activation=units.activation,
                         output=units.output, sample_weight=None if weights is None else weights)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{where}: {err}") from None


@sizeof.register(InMemoryRows)
def _sizeof_block(block):
    """What a prepared block holds, so that workers spill blocks to disk when memory is short."""
    return (sizeof(block.X) + sizeof(block.y) + sizeof(block.weights)
            + sizeof(tuple(block.columns[:2])))


def _run(block, method, vectors, threads=None):
    """method(block, *vectors), in a dask worker's thread on ``threads`` Numba threads (by
    default as many as the worker runs tasks at once, its ``threads_per_worker``). Off a
    worker (dask's default scheduler, in this process) the caller's setting stays."""
    if threads is None:
        try:
            threads = distributed.get_worker().state.nthreads
        except (AttributeError, ValueError):  # no distributed, or not on a worker
            return method(block, *vectors)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # this thread's own
    return method(block, *vectors)


async def _run_held(keys, method, vectors, dask_worker):
    """On a worker (``Client.run``): method on each block of ``keys`` that it holds, in its
    task threads: ``{key: result}``. Blocks in memory go first and each spilled one is read
    back only when its turn comes, so an evaluation reads from disk just the blocks that do
    not fit (the whole cycle would, in a fixed order, under the spill's LRU)."""
    data = dask_worker.data
    in_memory = getattr(data, "fast", data)  # a SpillBuffer's memory side
    held = sorted((key for key in keys if key in data), key=lambda key: key not in in_memory)
    threads = dask_worker.state.nthreads

    def each():
        return {key: _run(data[key], method, vectors, threads) for key in held}
    return await asyncio.get_running_loop().run_in_executor(dask_worker.executors["default"],
                                                            each)


def _active_client():
    """The ``distributed.Client`` in use (the default one, if still running), else None."""
    if distributed is None:
        return None
    try:
        client = distributed.default_client()
    except ValueError:
        return None
    return client if client.status == "running" else None


class DaskRows:
    """The rows of a dask X with their labels, each block prepared once where it is held:
    the :class:`fastnn.rows.Rows` protocol over blocks of :class:`fastnn.rows.InMemoryRows`.

    ``layers``, ``dtype``, ``units``; ``y`` the checked targets and ``weights`` the sample
    weights (in this process); ``bounds`` each block's first row, then m; ``plan`` "per
    block" (each block chooses its own). With a
    ``distributed.Client`` active when made, the blocks stay on its workers (held as
    futures); else in this process. X and y as checked by :class:`OnDask`.
    """

    plan = "per block"

    def __init__(self, layers, X, y, dtype, units, weights):
        self.layers, self.dtype, self.y, self.units = layers, dtype, y, units
        self.weights = weights
        self.bounds = _bounds(X)
        # the targets travel in the task graph (the scheduler keeps them, to prepare a lost
        # block again); labels as the smallest integers that hold them: 1 byte a row for <= 256
        # classes
        targets = y if y.ndim > 1 else y.astype(np.min_scalar_type(layers[-1] - 1))
        tasks = [dask.delayed(_prepare, pure=True)(
                     x, targets[lo:hi], layers, dtype, _where(self.bounds, b), units,
                     weights[lo:hi] if weights.shape[0] else None)
                 for b, (x, lo, hi) in enumerate(zip(X.to_delayed().ravel(), self.bounds[:-1],
                                                     self.bounds[1:])) if hi > lo]
        self._client = _active_client()
        if self._client is None:
            self._blocks = list(dask.compute(*tasks))
        else:
            self._blocks = self._client.compute(tasks)
            distributed.wait(self._blocks)
            for future in self._blocks:  # the first block at fault raises its own error
                if future.status == "error":
                    future.result()

    @property
    def m(self):
        """The number of rows."""
        return int(self.bounds[-1])

    @property
    def total(self):
        """The rows' summed sample weights (m, unweighted)."""
        return float(self.weights.sum()) if self.weights.shape[0] else float(self.m)

    def __repr__(self):
        return (f"DaskRows(layers={self.layers}, m={self.m}, blocks={len(self._blocks)}, "
                f"dtype={np.dtype(self.dtype).name}, on={'workers' if self._client else 'here'})")

    def _each(self, method, *vectors):
        """``method(block, *vectors)`` for every block, in block order. With a client: one
        message to every worker, each running the method on the blocks it holds (no task
        bookkeeping: a few milliseconds); blocks that no worker answered for (a worker died,
        or the block is being recomputed) then go through tasks, which the scheduler runs
        where it prepares them again."""
        if self._client is None:
            return [_run(block, method, vectors) for block in self._blocks]
        keys = [future.key for future in self._blocks]
        found = {}
        for results in self._client.run(_run_held, keys, method, vectors,
                                        on_error="ignore").values():
            found.update(results)
        missing = [future for future in self._blocks if future.key not in found]
        if missing:
            found.update(zip((future.key for future in missing), self._client.gather(
                self._client.map(_run, missing, method=method, vectors=vectors, pure=False))))
        return [found[key] for key in keys]

    def sums(self, params):
        """(loss, grad) summed over all rows: the blocks' sums in block order."""
        parts = self._each(InMemoryRows.sums, params)
        return sum(loss for loss, _ in parts), _in_order([grad for _, grad in parts])

    def hessp_sums(self, params, v):
        """The blocks' Hessian products in block order."""
        return _in_order(self._each(InMemoryRows.hessp_sums, params, v))

    def labels(self, params):
        """Predicted labels ``(m,)``, gathered into this process."""
        return np.concatenate(self._each(InMemoryRows.labels, params))

    def values(self, params):
        """The output units' values ``(m, K)``, gathered into this process."""
        return np.concatenate(self._each(InMemoryRows.values, params))


def _in_order(parts):
    """The float64 sum of the arrays ``parts``, added first to last."""
    total = np.array(parts[0], dtype=np.float64)
    for part in parts[1:]:
        total += part
    return total


Objective = network.Objective  # takes a dask X once this module is imported


class OnDask:
    """How a dask X is checked (by its metadata: its blocks are checked where they are
    prepared), split (lazily) and made into :class:`DaskRows`: :class:`fastnn.rows.InMemory`'s
    interface, registered for dask arrays with :func:`fastnn.rows.form_of`."""

    lazy = True

    @staticmethod
    def check(X, n_features, dtype, finite=True):
        """X's metadata (its blocks' values are checked where the blocks are prepared)."""
        return check_dask_X(X, n_features)

    targets = staticmethod(gathered_targets)

    @staticmethod
    def weights(sample_weight, X):
        return gathered_weights(sample_weight, X)

    @staticmethod
    def take(X, index):
        return X[index]

    @staticmethod
    def rows(layers, X, y, dtype, keep, plan, units, weights, unchecked=None):
        return DaskRows(layers, X, y, dtype, units, weights)

    @staticmethod
    def gather(y):
        return np.asarray(y.compute() if isinstance(y, dask.array.Array) else y)

    @staticmethod
    def map(function, params, layers, X, dtype):
        return map_rows(function, params, layers, X, dtype)


@form_of.register(dask.array.Array)
def _on_dask(X):
    return OnDask


def map_rows(function, params, layers, X, dtype):
    """``function(params, layers, block, dtype)`` on each row block of a dask X, lazily: a
    dask array with X's row chunks. Bad input in a block raises at compute time, naming it."""
    layers, dtype = check_layers(layers), check_dtype(dtype)
    X = check_dask_X(X, layers[0])
    params = check_params(params, n_params(layers))
    like = function(params, layers, np.zeros((1, layers[0])), dtype)  # the output's form
    per_block = functools.partial(_rows, function, params, layers, dtype, _bounds(X))
    if like.ndim == 1:
        return X.map_blocks(per_block, drop_axis=1, dtype=like.dtype,
                            meta=np.empty(0, like.dtype))
    return X.map_blocks(per_block, chunks=(X.chunks[0], like.shape[1:]), dtype=like.dtype,
                        meta=np.empty((0, like.shape[1]), like.dtype))


def _rows(function, params, layers, dtype, bounds, x, block_info=None):
    try:
        return function(params, layers, x, dtype)
    except (TypeError, ValueError) as err:
        b = block_info[0]["chunk-location"][0] if block_info else None
        raise type(err)(f"{_where(bounds, b) if b is not None else 'X block'}: {err}") from None


class _NpyRows:
    """The rows of a ``.npy`` file, read when indexed (through a memory map, copied out):
    pickles as its path, so that workers read the file themselves."""

    def __init__(self, path):
        self.path = os.fspath(path)
        array = np.load(self.path, mmap_mode="r")
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __getitem__(self, index):
        return np.array(np.load(self.path, mmap_mode="r")[index])

    def __dask_tokenize__(self):
        stat = os.stat(self.path)
        return self.path, stat.st_size, stat.st_mtime_ns


def from_npy(path, rows_per_block):
    """A 2-D ``.npy`` file as a dask array of blocks of ``rows_per_block`` rows (all columns),
    each read from the file where it is computed: for X larger than memory. The file must be
    readable at the same path on every worker."""
    rows = _NpyRows(path)
    if rows.ndim != 2:
        raise ValueError(f"{path}: from_npy reads a 2-D array (rows, features), got "
                         f"{rows.ndim}-D")
    return dask.array.from_array(rows, chunks=(operator.index(rows_per_block), -1),
                                 meta=np.empty((0, 0), rows.dtype))
