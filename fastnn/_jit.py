"""The one Numba policy of fastnn: every kernel is compiled through :func:`kernel`.

``fastmath`` allows re-association (so LLVM vectorises the dot products and sums) and
contraction into FMAs, but keeps nan/inf semantics ("nnan"/"ninf" are not set), so a
saturated unit gives a large finite cost rather than undefined behaviour.
``cache=True`` keeps the start-up of a warm process well under a second.

A ``parallel=True`` kernel is safe to call from any Python thread: Numba's default
``workqueue`` threading layer aborts when two Python threads enter parallel kernels at once, so
every parallel kernel runs under one process-wide lock, whatever threading layer is in use;
concurrent calls are serialised and give the same answers as serial calls.
"""

import functools
import threading

import numba

FASTMATH = frozenset({"nsz", "arcp", "contract", "reassoc"})
_PARALLEL_LOCK = threading.Lock()


def kernel(parallel=False):
    """Decorator: ``numba.njit`` with fastnn's policy (cached, nogil, numpy error model); a
    parallel kernel comes back as a function that holds the parallel lock while it runs (call
    it from Python, never from another kernel)."""
    def decorate(function):
        compiled = numba.njit(cache=True, nogil=True, parallel=parallel,
                              fastmath=set(FASTMATH), error_model="numpy")(function)
        if not parallel:
            return compiled

        @functools.wraps(function)
        def one_at_a_time(*args):
            with _PARALLEL_LOCK:
                return compiled(*args)
        return one_at_a_time
    return decorate
