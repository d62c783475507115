"""fastnn.minimize and Objective.minimize: scipy's minimize, its result unchanged, run with
the BLAS pools at one thread, the caller's settings back however the loop ends."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.optimize
from threadpoolctl import threadpool_info, threadpool_limits

import fastnn
from conftest import subprocess_env, wait_for_line

LAYERS = (400, 12, 10)


def blas_threads():
    return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info()
                  if i["user_api"] == "blas")


@pytest.fixture
def objective(small):
    return fastnn.Objective(LAYERS, *small, lam=1.0)


@pytest.mark.parametrize("method", ["L-BFGS-B", "CG", "Newton-CG"])
def test_the_result_is_scipys_under_the_same_limits(objective, method):
    """The same x, bit for bit, as scipy's minimize inside fastnn.thread_limits."""
    p0 = fastnn.init_params(LAYERS, 0)
    options = {"maxiter": 15}
    hessp = objective.hessp if method == "Newton-CG" else None
    ours = fastnn.minimize(objective, p0, jac=True, method=method, hessp=hessp, options=options)
    with fastnn.thread_limits():
        theirs = scipy.optimize.minimize(objective, p0, jac=True, method=method, hessp=hessp,
                                         options=options)
    np.testing.assert_array_equal(ours.x, theirs.x)
    assert ours.fun == theirs.fun and ours.nfev == theirs.nfev and ours.nit == theirs.nit
    shortcut = objective.minimize(p0, method=method, options=options)
    np.testing.assert_array_equal(shortcut.x, ours.x)


def test_blas_is_at_one_thread_in_the_loop_and_as_it_was_after(objective):
    seen = []

    def watched(params):
        seen.append({n for _, n in blas_threads()})
        return objective(params)

    numba_threads = fastnn.get_num_threads()
    fastnn.set_num_threads(1)
    try:
        with threadpool_limits(limits=2, user_api="blas"):
            before = blas_threads()
            fastnn.minimize(watched, fastnn.init_params(LAYERS, 0), jac=True,
                            options={"maxiter": 3})
            assert blas_threads() == before and {n for _, n in before} == {2}
        assert fastnn.get_num_threads() == 1  # the caller's Numba threads kept
    finally:
        fastnn.set_num_threads(numba_threads)
    assert seen and all(threads == {1} for threads in seen)


def test_an_exception_in_the_loop_leaves_blas_as_it_was(objective):
    calls = []

    def failing(params):
        calls.append(1)
        if len(calls) == 3:
            raise ArithmeticError("the user's objective failed")
        return objective(params)

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with pytest.raises(ArithmeticError, match="the user's objective failed"):
            fastnn.minimize(failing, fastnn.init_params(LAYERS, 0), jac=True)
        assert blas_threads() == before


INTERRUPTED = """
import json, numpy as np, fastnn
from threadpoolctl import threadpool_info, threadpool_limits
def threads():
    return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info()
                  if i["user_api"] == "blas")
X, y = fastnn.load_digits()
objective = fastnn.Objective((400, 25, 10), X, y, lam=0.0)
iterations = []
def started(x):
    iterations.append(1)
    if len(iterations) == 2:
        print("started", flush=True)
with threadpool_limits(limits=2, user_api="blas"):
    before = threads()
    try:
        fastnn.minimize(objective, fastnn.init_params((400, 25, 10), 0), jac=True, tol=0.0,
                        method="CG", callback=started, options={"maxiter": 10**6})
    except KeyboardInterrupt:
        print(json.dumps({"interrupted": True, "restored": threads() == before,
                          "two": [n for _, n in before]}))
"""


@pytest.mark.jit
def test_ctrl_c_inside_the_loop_leaves_blas_as_it_was():
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=subprocess_env())
    wait_for_line(proc, "started", timeout=300)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(out.splitlines()[-1])
    assert result["interrupted"] and result["restored"] and set(result["two"]) == {2}
