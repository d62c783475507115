"""The one Numba policy of fastnn: every kernel is compiled through :func:`kernel`.

``fastmath`` allows re-association (so LLVM vectorises the dot products and sums) and
contraction into FMAs, but keeps nan/inf semantics ("nnan"/"ninf" are not set), so a
saturated unit gives a large finite cost rather than undefined behaviour.
``cache=True`` keeps the start-up of a warm process well under a second.

A ``parallel=True`` kernel is safe to call from any Python thread: Numba's default
``workqueue`` threading layer aborts when two Python threads enter parallel kernels at once, so
every parallel kernel runs under one process-wide lock, whatever threading layer is in use;
concurrent calls are serialised and give the same answers as serial calls. Inside the lock, a
kernel whose workers call BLAS holds the BLAS pools at one thread
(:func:`fastnn._threads.blas_held_at_one`).

Ctrl-C during a parallel kernel comes out as a KeyboardInterrupt: raised inside Numba's
dispatcher it would be a SystemError ("returned a result with an exception set") that nobody
can catch as an interruption.

A process forked from one whose kernels already ran on GNU OpenMP threads cannot run them
(GNU's runtime aborts the child, and a ``multiprocessing`` fork pool then hangs): there each
parallel driver runs as its serial twin, compiled (or loaded from the cache) on first use in
such a child, with the same chunks in the same order: the same bits.

Kernels compiled for a vector width forced narrower than the host's (``FASTNN_VECTOR_BYTES``,
see :mod:`fastnn._isa`) are cached in a folder of their own: Numba's cache is keyed on the
source and the CPU, not on the width a kernel was built for.

Kernels missing from Numba's cache are looked up in the archive of precompiled kernels
shipped for this CPU level (:mod:`fastnn._precompiled`) before they compile.

Where no folder can hold Numba's cache (a read-only install, no writable HOME), kernels are
cached in a temporary folder for this process, and a warning says so once.
"""

import atexit
import functools
import os
import shutil
import tempfile
import threading
import types
import warnings
from contextlib import nullcontext

import numba

from ._isa import HOST_VECTOR_BYTES, VECTOR_BYTES
from ._precompiled import backed_by_archive
from ._threads import blas_held_at_one

FASTMATH = frozenset({"nsz", "arcp", "contract", "reassoc"})
# Parallel drivers parallelise their prange loop and nothing else: Numba would also turn their
# numpy calls (np.zeros of the partial sums) into loops of their own to lower and compile
# (0.4 s of the first cost_grad), for buffers a single thread fills in microseconds.
PRANGE_ONLY = {"prange": True, "numpy": False, "comprehension": False, "reduction": False,
               "inplace_binop": False, "setitem": False, "stencil": False, "fusion": False}
_PARALLEL_LOCK = threading.Lock()
_forked_from_gnu_openmp = False


def _note_fork_in_child():
    global _PARALLEL_LOCK, _forked_from_gnu_openmp
    _PARALLEL_LOCK = threading.Lock()  # a thread of the parent may have held it at the fork
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel ran before the fork: the child may start its own
        return
    if layer == "omp":
        from numba.np.ufunc import omppool
        _forked_from_gnu_openmp = omppool.openmp_vendor == "GNU"


os.register_at_fork(after_in_child=_note_fork_in_child)

if VECTOR_BYTES != HOST_VECTOR_BYTES:
    numba.config.CACHE_DIR = os.path.join(
        numba.config.CACHE_DIR or os.path.join(tempfile.gettempdir(), "fastnn-numba-cache"),
        f"vector-bytes-{VECTOR_BYTES}")


def kernel(parallel=False, inline=False, ordered=False, calls_blas=False):
    """Decorator: ``numba.njit`` with fastnn's policy (cached, nogil, numpy error model); a
    parallel kernel comes back as a function that holds the parallel lock while it runs (call
    it from Python, never from another kernel).

    ``inline``: Numba inlines the function into its callers' own code before LLVM sees it. For
    small scalar helpers of hot loops: called, LLVM may or may not inline one, and fast-math
    lets it re-associate the helper's arithmetic with its caller's where it does, differently
    in a fresh compile and in code loaded from the cache (seen: the last bits of a gradient
    changing between a first and a second process).

    ``ordered``: fast-math without re-association, for a kernel whose sums are split into
    independent chains on purpose (LLVM would join them into one, and wait on its latency).

    ``calls_blas``: a parallel kernel whose workers call BLAS (the BLAS plan's) runs with the
    BLAS pools held at one thread, one BLAS thread per worker; the others leave the pools as
    they are (holding them is a round of threadpoolctl calls every time)."""
    def decorate(function):
        options = dict(jit_options(), inline="always" if inline else "never")
        if ordered:
            options["fastmath"] = set(FASTMATH - {"reassoc"})
        compiled = _cached_njit(function, parallel=parallel and PRANGE_ONLY, **options)
        if not parallel:
            return compiled
        serial = functools.cache(lambda: _cached_njit(_serial_twin(function), **options))

        @functools.wraps(function)
        def one_at_a_time(*args):
            run = serial() if _forked_from_gnu_openmp else compiled
            with _PARALLEL_LOCK, blas_held_at_one() if calls_blas else nullcontext():
                return _interruptible(run, args)
        one_at_a_time.dispatcher = compiled
        return one_at_a_time
    return decorate


def jit_options():
    """Numba's options for every function of fastnn's kernels: fastmath as above, no GIL,
    numpy's error model (a division by zero gives inf or nan, as in numpy)."""
    return {"nogil": True, "fastmath": set(FASTMATH), "error_model": "numpy"}


def _serial_twin(function):
    """A copy of a parallel driver to compile without ``parallel`` (its prange runs as range:
    the same chunks in the same order, so the same bits), for a child forked after the parent
    ran kernels on GNU OpenMP threads, where GNU's runtime would abort the child. A name of its
    own: Numba's cache keys a function by name and types, not by its options."""
    twin = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                              function.__defaults__, function.__closure__)
    twin.__qualname__ = f"{function.__qualname__}_serial"
    return twin


def _cached_njit(function, **options):
    try:
        return backed_by_archive(numba.njit(cache=True, **options)(function))
    except RuntimeError as err:
        if "no locator available" not in str(err) or numba.config.CACHE_DIR:
            raise
    numba.config.CACHE_DIR = tempfile.mkdtemp(prefix="fastnn-numba-cache-")
    atexit.register(shutil.rmtree, numba.config.CACHE_DIR, ignore_errors=True)
    warnings.warn("fastnn: no folder can hold Numba's cache (the package folder and HOME are "
                  "not writable); kernels compile into a temporary folder for this process. "
                  "Set NUMBA_CACHE_DIR to a writable folder to keep them between runs.",
                  RuntimeWarning, stacklevel=3)
    return backed_by_archive(numba.njit(cache=True, **options)(function))


def _interruptible(compiled, args):
    """compiled(*args), with Ctrl-C during it raised as the KeyboardInterrupt it is: a
    KeyboardInterrupt raised inside Numba's dispatcher (as the kernel's result is boxed)
    comes out as a SystemError ("returned a result with an exception set") caused by it."""
    try:
        return compiled(*args)
    except SystemError as err:
        if isinstance(err.__cause__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise
