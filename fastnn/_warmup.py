"""Compile every kernel ahead of time: ``fastnn.warmup()`` and ``fastnn warmup``.

Numba compiles a kernel on its first call and caches it (``NUMBA_CACHE_DIR``, else beside the
package); a call on another dtype or input form compiles again. :func:`warmup` compiles them
all, one path (input form x dtype) per process, side by side.
"""

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
import numpy as np
import scipy.sparse

from ._checks import check_count
from .gradcheck import check_gradients
from .layout import n_params
from .network import Objective
from .rows import make_rows


def warmup(dtypes=(np.float64, np.float32), sparse=True, processes=None, progress=None):
    """Compile (or load from Numba's cache, or from the archive shipped for this CPU level:
    :mod:`fastnn._precompiled`) every kernel of both plans, the Hessian and the gradient
    checker for the given dtypes, for dense X and, with ``sparse``, scipy.sparse X.

    Each (input form, dtype) is a path of its own, compiled in a process of its own, up to
    ``processes`` (default: the CPU count) side by side; ``progress(line)`` (e.g. ``print``)
    hears of each path as it is done. This process then loads every kernel from the cache
    (and compiles what a path's process could not store). Returns ``{path: seconds}``.
    """
    paths = [(form, np.dtype(dtype).name) for form in ("dense", "CSR")[:1 + bool(sparse)]
             for dtype in dtypes]
    processes = os.cpu_count() if processes is None else check_count(processes, "processes")
    times = {}
    if processes > 1 and len(paths) > 1:
        spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked state
        with ProcessPoolExecutor(min(processes, len(paths)), mp_context=spawn) as pool:
            running = {pool.submit(_warm_path, *path): " ".join(path) for path in paths}
            for done in as_completed(running):
                times[running[done]] = done.result()
                if progress:
                    progress(f"{running[done]}: compiled in {times[running[done]]:.1f} s")
    for path in paths:
        seconds = _warm_path(*path)
        times.setdefault(" ".join(path), seconds)
        if progress and processes <= 1:
            progress(f"{' '.join(path)}: compiled in {seconds:.1f} s")
    return times


def _warm_path(form, dtype):
    """Run every kernel once for X of this form ("dense" or "CSR") and dtype name; seconds."""
    start = time.perf_counter()
    layers = (2, 2, 2)
    params, y = np.zeros(n_params(layers)), np.zeros(1, np.int64)
    X = np.zeros((1, 2)) if form == "dense" else scipy.sparse.csr_matrix((1, 2))
    for plan in ("fused", "blas"):
        rows = make_rows(layers, X, y, dtype, keep=True, plan=plan)
        objective = Objective.on(rows, 0.0)
        objective(params)
        objective.hessp(params, params)
        rows.forward(params, 0, layers[-1])
        rows.labels(params)
    for method in ("incremental", "full"):
        check_gradients(params, layers, X, y, method=method, dtype=dtype)
    return time.perf_counter() - start
