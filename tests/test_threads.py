"""Threads: the same bits for any number of Numba threads, concurrent Python threads served
one at a time, BLAS pools left as they were."""

import subprocess
import sys
import threading

import numpy as np
import pytest

import fastnn
from conftest import problem, subprocess_env

BITS = """
import hashlib, numpy as np, fastnn
X, y = fastnn.load_digits()
layers = (400, 25, 10)
p = fastnn.init_params(layers, seed=5)
v = np.random.default_rng(0).standard_normal(p.size)
h = hashlib.sha256()
for dtype in (np.float64, np.float32):
    obj = fastnn.Objective(layers, X, y, 1.0, dtype=dtype)
    J, g = obj(p)
    h.update(np.float64(J).tobytes()); h.update(g.tobytes()); h.update(obj.hessp(p, v).tobytes())
    h.update(fastnn.outputs(p, layers, X[:999], dtype=dtype).tobytes())
check = fastnn.check_gradients(p, layers, X[:700], y[:700], 1.0, indices=400, seed=1)
h.update(check.numerical.tobytes())
print(fastnn.get_num_threads(), h.hexdigest())
"""


def digest_with_threads(n):
    out = subprocess.run([sys.executable, "-c", BITS], capture_output=True, text=True, check=True,
                         env=subprocess_env(NUMBA_NUM_THREADS=str(n))).stdout.split()
    assert out[0] == str(n)
    return out[1]


@pytest.mark.jit
def test_one_and_two_threads_give_identical_bits():
    """cost_grad, hessp, outputs and the checker, both dtypes: bit for bit."""
    assert digest_with_threads(1) == digest_with_threads(2)


def test_python_threads_at_once_match_serial_calls():
    """Parallel kernels hold one lock (fastnn._jit): no call site needs to."""
    layers = (20, 8, 5)
    params, X, y = problem(layers, 500)
    serial = [fastnn.cost_grad(params + i, layers, X, y, 1.0) for i in range(4)]
    labels = fastnn.predict(params, layers, X)
    results = [None] * 4

    def work(i):
        for _ in range(5):
            results[i] = (fastnn.cost_grad(params + i, layers, X, y, 1.0),
                          fastnn.predict(params, layers, X))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, ((J, grad), pred) in enumerate(results):
        assert J == serial[i][0]
        np.testing.assert_array_equal(grad, serial[i][1])
        np.testing.assert_array_equal(pred, labels)
