"""Thread policy: Numba's threads do the work, BLAS pools stay at one thread around it.

The BLAS plan's parallel kernels run inside :func:`blas_held_at_one` (``kernel(calls_blas=True)``
in :mod:`fastnn._jit`): each BLAS pool at one thread, so that the row tiles get one BLAS thread
per Numba worker, and the caller's own count back once the call returns.

What this cannot do: OpenBLAS's threads keep spinning for about 0.2 s after each call of the
caller's (a cost_grad right after a 300 x 300 matmul took 2-4x its time here), and lowering
the count does not stop threads that already spin. Ending them (``blas_thread_shutdown_``)
made fastnn's calls as fast as with BLAS at one thread but the caller's next BLAS calls slower
by more (they start the threads again); both measured in README's drop-in ``minimize``.
:func:`thread_limits` holds BLAS at one thread for a whole block of the caller's code, which
is the remedy (``fastnn.train`` uses it).
"""

import operator
import sys
from contextlib import contextmanager

import numba
from threadpoolctl import ThreadpoolController


def set_num_threads(n):
    """Use n Numba threads for fastnn's kernels (in this Python thread)."""
    n = operator.index(n)
    top = numba.config.NUMBA_NUM_THREADS
    if not 1 <= n <= top:
        raise ValueError(f"n must be between 1 and {top} (NUMBA_NUM_THREADS), got {n}")
    numba.set_num_threads(n)


def get_num_threads():
    """Numba threads that fastnn's kernels use (in this Python thread)."""
    return numba.get_num_threads()


@contextmanager
def thread_limits(n_threads=None):
    """Within the block: BLAS pools at one thread, fastnn's kernels on ``n_threads`` (default all).

    >>> import fastnn
    >>> with fastnn.thread_limits(1):
    ...     fastnn.get_num_threads()
    1
    """
    before = numba.get_num_threads()
    with blas_held_at_one():
        set_num_threads(numba.config.NUMBA_NUM_THREADS if n_threads is None else n_threads)
        try:
            yield
        finally:
            numba.set_num_threads(before)


class _BlasPools:
    """The BLAS libraries loaded in this process, found again when modules were imported
    since the last look (a scan costs milliseconds, a look at ``len(sys.modules)`` nothing)."""

    def __init__(self):
        self._modules, self._pools = -1, []

    def pools(self):
        if len(sys.modules) != self._modules:
            self._modules = len(sys.modules)
            self._pools = [lib for lib in ThreadpoolController().lib_controllers
                           if lib.user_api == "blas"]
        return self._pools


_BLAS = _BlasPools()


@contextmanager
def blas_held_at_one():
    """Within the block every BLAS pool runs one thread; each pool's own count after it."""
    pools = _BLAS.pools()
    before = [pool.get_num_threads() for pool in pools]
    for pool, n in zip(pools, before):
        if n != 1:
            pool.set_num_threads(1)
    try:
        yield
    finally:
        for pool, n in zip(pools, before):
            if n != 1:
                pool.set_num_threads(n)
