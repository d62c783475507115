"""Threads: the same bits for any number of Numba threads, concurrent Python threads served
one at a time, BLAS pools left as they were."""

import json
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
wide = (400, 70, 10)  # the BLAS plan: tiles of rows in chunks, each its own partial sum
q = fastnn.init_params(wide, seed=5)
for dtype in (np.float64, np.float32):
    obj = fastnn.Objective(wide, X, y, 1.0, dtype=dtype)
    assert obj.plan == "blas"
    J, g = obj(q)
    h.update(np.float64(J).tobytes()); h.update(g.tobytes())
    h.update(fastnn.outputs(q, wide, X[:999], dtype=dtype).tobytes())
print(fastnn.get_num_threads(), h.hexdigest())
"""


def digest_with_threads(n):
    out = subprocess.run([sys.executable, "-c", BITS], capture_output=True, text=True, check=True,
                         env=subprocess_env(NUMBA_NUM_THREADS=str(n))).stdout.split()
    assert out[0] == str(n)
    return out[1]


@pytest.mark.jit
def test_one_and_two_threads_give_identical_bits():
    """cost_grad, hessp, outputs and the checker, both dtypes, both plans: bit for bit."""
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


# --- fork: children of a process whose kernels already ran (GNU OpenMP threads here) ----------

FORKED = """
import hashlib, json, multiprocessing, os, sys, numpy as np, scipy.sparse, fastnn, numba
X, y = fastnn.load_digits()
X, y = X[:400], y[:400]

def digest(_=None):
    # every entry point, both plans, dense float64 and CSR float32: one hash of all their bits
    h = hashlib.sha256()
    for layers in [(400, 25, 10), (400, 70, 10)]:
        p = fastnn.init_params(layers, 1)
        for data, dtype in [(X, np.float64), (scipy.sparse.csr_matrix(X), np.float32)]:
            o = fastnn.Objective(layers, data, y, 1.0, dtype=dtype)
            J, g = o(p)
            for a in (np.float64(J), g, o.hessp(p, g), fastnn.cost_grad(p, layers, data, y)[1],
                      fastnn.predict(p, layers, data, dtype),
                      fastnn.predict_proba(p, layers, data)):
                h.update(np.ascontiguousarray(a).tobytes())
        for method in ("incremental", "full"):
            check = fastnn.check_gradients(p, layers, X[:30], y[:30], indices=8, method=method)
            h.update(check.numerical.tobytes())
    return h.hexdigest()

def in_fork():
    reader, writer = os.pipe()
    if os.fork() == 0:
        os.write(writer, digest().encode())
        os._exit(0)
    os.wait()
    return os.read(reader, 64).decode()

if sys.argv[1] == "before any kernel":
    children = [in_fork()]
    parent = digest()
else:
    parent = digest()
    if sys.argv[1] == "fork":
        children = [in_fork()]
    else:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            children = pool.map(digest, range(2))
print(json.dumps({"parent": parent, "children": children, "layer": numba.threading_layer()}))
"""


@pytest.mark.jit
@pytest.mark.parametrize("how", ["fork", "fork pool", "before any kernel"])
def test_forked_children_compute_the_parents_bits(how):
    """After the parent ran kernels on GNU OpenMP threads (which abort a forked child), the
    child runs the parallel drivers' serial twins: every entry point gives the same bits."""
    out = subprocess.run([sys.executable, "-c", FORKED, how], capture_output=True, text=True,
                         env=subprocess_env(), timeout=900)  # a hang fails here
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["children"] and all(c == result["parent"] for c in result["children"])
