"""Thread policy: Numba's threads do the work, BLAS pools stay at one thread around it.

fastnn's kernels never call BLAS, but numpy and scipy around them do (the optimizer's vector
work, the user's code). On a small machine a BLAS pool and Numba's pool at full width fight
over the same cores: L-BFGS-B with the numpy reference ran 3-5x slower with default threads
than with one BLAS thread. :func:`thread_limits` sets both for a block of code.
"""

import operator
from contextlib import contextmanager

import numba
from threadpoolctl import threadpool_limits


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
    with threadpool_limits(limits=1, user_api="blas"):
        set_num_threads(numba.config.NUMBA_NUM_THREADS if n_threads is None else n_threads)
        try:
            yield
        finally:
            numba.set_num_threads(before)
