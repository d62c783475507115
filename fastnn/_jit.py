"""The one Numba policy of fastnn: every kernel is compiled through :func:`kernel`.

``fastmath`` allows re-association (so LLVM vectorises the dot products and sums) and
contraction into FMAs, but keeps nan/inf semantics ("nnan"/"ninf" are not set), so a
saturated unit gives a large finite cost rather than undefined behaviour.
``cache=True`` keeps the start-up of a warm process well under a second.
"""

import numba

FASTMATH = frozenset({"nsz", "arcp", "contract", "reassoc"})


def kernel(parallel=False):
    """Decorator: ``numba.njit`` with fastnn's policy (cached, nogil, numpy error model)."""
    return numba.njit(cache=True, nogil=True, parallel=parallel, fastmath=set(FASTMATH),
                      error_model="numpy")
