"""scipy.sparse X: the digits as CSR against the same digits dense (and numpy's reference on
them dense), and a large sparse X.

    python -m pytest bench/test_sparse_bench.py --benchmark-json=bench/test_sparse_bench.json

The large X (200 000 x 784 at 2 % density: 1.2 GB dense, 37 MB as CSR) also records the
peak memory its first call adds (``extra_info["peak_mb"]``, the resident set sampled while
it runs; its kernels were compiled by the session's warm-up).
"""

import contextlib
import ctypes
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp

import fastnn
from fastnn import reference

CLASSIC = (400, 25, 10)
DTYPES = {"f64": np.float64, "f32": np.float32}
LARGE = (200_000, 784, 0.02)


def _objective(impl, X, y, dtype):
    """The cost and gradient of ``impl``: numpy's reference or fastnn on X dense or as CSR."""
    if impl == "numpy":
        X = np.ascontiguousarray(X, dtype=dtype)
        return lambda p: reference.cost_grad(p, CLASSIC, X, y, 1.0, dtype)
    return fastnn.Objective(CLASSIC, sp.csr_matrix(X) if impl == "fastnn-csr" else X, y, 1.0,
                            dtype)


def _predictor(impl, X, dtype):
    if impl == "numpy":
        X = np.ascontiguousarray(X, dtype=dtype)
        return lambda p: reference.predict(p, CLASSIC, X, dtype)
    X = sp.csr_matrix(X) if impl == "fastnn-csr" else X
    return lambda p: fastnn.predict(p, CLASSIC, X, dtype)


IMPLS = ["fastnn", "fastnn-csr", "numpy"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_objective(benchmark, digits, impl, dtype):
    benchmark.group = f"sparse: cost_grad 400-25-10, 5000 digits, {dtype}"
    X, y = digits
    objective = _objective(impl, X, y, DTYPES[dtype])
    p = fastnn.init_params(CLASSIC, seed=0)
    np.testing.assert_allclose(objective(p)[0], reference.cost_grad(p, CLASSIC, X, y, 1.0)[0],
                               rtol=1e-5)
    benchmark(objective, p)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_predict(benchmark, digits, impl, dtype):
    benchmark.group = f"sparse: predict 400-25-10, 5000 digits, {dtype}"
    X, y = digits
    p = fastnn.init_params(CLASSIC, seed=0)
    predict = _predictor(impl, X, DTYPES[dtype])
    assert np.mean(predict(p) == reference.predict(p, CLASSIC, X)) > 0.99
    benchmark(predict, p)


def _resident_mb():
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * 4096 / 2**20


def peak_growth_mb(call):
    """How far the resident set rose above its level before ``call()``, sampled every
    millisecond while it ran (the kernels release the GIL). Memory freed earlier is handed
    back to the system first (glibc's malloc_trim), else a call could reuse it unseen."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)
    base, peak, done = _resident_mb(), [0.0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _resident_mb() - base)
            time.sleep(0.001)

    watcher = threading.Thread(target=sample)
    watcher.start()
    try:
        call()
    finally:
        done.set()
        watcher.join()
    return peak[0]


@pytest.fixture(scope="module")
def large():
    m, n, density = LARGE
    X = sp.random(m, n, density=density, format="csr", random_state=0, dtype=np.float64)
    return X, np.arange(m) % 10


@pytest.mark.parametrize("call", ["Objective", "cost_grad", "predict"])
def test_large_csr(benchmark, large, call):
    m, n, density = LARGE
    benchmark.group = f"sparse: {m} x {n} CSR at {density:.0%}, 784-25-10 f64"
    X, y = large
    layers, p = (784, 25, 10), fastnn.init_params((784, 25, 10), seed=0)
    objective = fastnn.Objective(layers, X, y, 1.0) if call == "Objective" else None
    run = {"Objective": lambda: objective(p),
           "cost_grad": lambda: fastnn.cost_grad(p, layers, X, y, 1.0),
           "predict": lambda: fastnn.predict(p, layers, X)}[call]
    benchmark.extra_info["peak_mb"] = round(peak_growth_mb(run), 1)  # the first call
    benchmark.extra_info["dense_mb"] = round(m * n * 8 / 2**20, 1)
    benchmark.extra_info["csr_mb"] = round((X.data.nbytes + X.indices.nbytes +
                                            X.indptr.nbytes) / 2**20, 1)
    benchmark(run)
