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


# --- fork: a child of a process whose kernels ran on GNU OpenMP threads -----------------------

FORKED = """
import json, multiprocessing, os, sys, numpy as np, fastnn, numba
layers = (6, 5, 4)
X, y = np.random.default_rng(0).random((50, 6)), np.arange(50) % 4
p = fastnn.init_params(layers, 0)

def work(i):
    try:
        return fastnn.cost_grad(p, layers, X, y)[0]
    except RuntimeError as err:
        return str(err)

if sys.argv[1] == "before any kernel":  # the child starts its own threads: it works
    pid = os.fork()
    if pid == 0:
        print(json.dumps({"child": work(0)}), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    print(json.dumps({"parent": work(0)}))
else:
    J = work(0)
    if sys.argv[1] == "fork":
        pid = os.fork()
        if pid == 0:
            print(json.dumps({"child": work(0)}), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
    else:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            print(json.dumps({"child": pool.map(work, range(2))[0]}), flush=True)
    print(json.dumps({"parent": J, "layer": numba.threading_layer()}))
"""


@pytest.mark.parametrize("how", ["fork", "fork pool", "before any kernel"])
def test_forked_children_work_or_say_what_to_do(how):
    out = subprocess.run([sys.executable, "-c", FORKED, how], capture_output=True, text=True,
                         timeout=300)  # a hang fails here
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    child, parent = lines[0]["child"], lines[-1]
    J = fastnn.cost_grad(fastnn.init_params((6, 5, 4), 0), (6, 5, 4),
                         np.random.default_rng(0).random((50, 6)), np.arange(50) % 4)[0]
    assert parent["parent"] == J
    if how == "before any kernel" or parent.get("layer") != "omp":
        assert child == J  # a fork-safe layer, or threads not yet started: the child computes
    else:
        assert "forked from one whose kernels already ran on GNU OpenMP" in child
        assert "'spawn'" in child and "NUMBA_THREADING_LAYER" in child
