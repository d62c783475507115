"""Shared fixtures: tolerances per dtype, the problem builders, the bundled digits.

The tests compile into a Numba cache of their own, one per version of fastnn's source (set
before fastnn is imported): Numba's cache does not notice edits to a kernel's callees in
other files. CI sets ``NUMBA_CACHE_DIR`` to an empty folder itself. Kernels in the shipped
archive of this CPU's level (fastnn._precompiled) are loaded from it, the rest compile.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def _numba_cache_for_this_source():
    source = Path(__file__).resolve().parents[1] / "fastnn"
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*.py")):
        digest.update(path.read_bytes())
    return str(Path(tempfile.gettempdir()) / f"fastnn-numba-{digest.hexdigest()[:16]}")


os.environ.setdefault("NUMBA_CACHE_DIR", _numba_cache_for_this_source())

import numpy as np  # noqa: E402 (after the cache is chosen)
import pytest  # noqa: E402

import fastnn  # noqa: E402

# Relative agreement between fastnn and the numpy reference, per compute dtype.
RTOL = {np.float64: 1e-10, np.float32: 1e-4}
DTYPES = list(RTOL)
# fastnn against itself with the same sums added in another order (sparse rows one at a time,
# dask blocks): far tighter than against the reference.
REORDERED_RTOL = {np.float64: 1e-12, np.float32: 1e-5}

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EX4WEIGHTS = SHARED / "ex4weights.mat"

needs_ex4weights = pytest.mark.skipif(
    not EX4WEIGHTS.exists(), reason=f"course weights not found at {EX4WEIGHTS}")


def problem(layers, m, seed=0, scale=1.0):
    """Random params (uniform +-scale), X (m, s1) in [0, 1) and labels for ``layers``."""
    rng = np.random.default_rng(seed)
    params = rng.uniform(-scale, scale, fastnn.n_params(layers))
    X = rng.random((m, layers[0]))
    y = rng.integers(0, layers[-1], m)
    return params, X, y


def sparse_problem(layers, m, seed=0, scale=1.0):
    """Mostly-zero inputs, as digit images are: the first layer reads only the columns where
    one of a group's eight rows is non-zero, and the checker skips zero inputs. Blank rows (a
    whole group among them), blank columns and negative values included."""
    params, X, y = problem(layers, m, seed=seed, scale=scale)
    X[np.random.default_rng(seed).random(X.shape) < 0.75] = 0
    X[6:17] = 0
    X[:, ::3] = 0
    X[20] = -X[21]
    return params, X, y


def assert_close(actual, expected, rtol, atol=0.0):
    """Norm-wise agreement, fair to gradient entries near zero: ||a - e|| <= rtol ||e|| + atol
    (scalars too)."""
    difference = np.linalg.norm(np.atleast_1d(np.subtract(actual, expected)))
    assert difference <= rtol * np.linalg.norm(np.atleast_1d(expected)) + atol


def subprocess_env(**variables):
    """A bare environment for a child interpreter (PATH and this run's Numba cache) plus
    ``variables``. A child that crashes prints every thread's Python stack to its stderr
    (PYTHONFAULTHANDLER), where a test's failure shows it."""
    return {"PATH": "/usr/bin:/bin", "NUMBA_CACHE_DIR": os.environ["NUMBA_CACHE_DIR"],
            "PYTHONFAULTHANDLER": "1", **variables}


PEAK = """
import json, resource
{setup}
before, growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, []
for call in {calls!r}:
    exec(call)
    growth.append((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
print(json.dumps(growth))
"""


def peak_memory_growth(setup, calls):
    """In a fresh interpreter, after running ``setup`` (code), how much each of ``calls``
    (statements, run in turn) has raised the process's peak resident memory since: bytes,
    cumulative, one per call. Setup should compile what the calls run."""
    out = subprocess.run([sys.executable, "-c", PEAK.format(setup=setup, calls=list(calls))],
                         capture_output=True, text=True, env=subprocess_env(), timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def central_differences(f, params, eps=1e-5):
    """Numerical gradient of scalar f at params by central differences (one param at a time)."""
    grad = np.empty_like(params)
    for i in range(params.size):
        step = np.zeros_like(params)
        step[i] = eps
        grad[i] = (f(params + step) - f(params - step)) / (2 * eps)
    return grad


def rel_diff(a, b):
    """||a - b|| / ||a + b||, the notebooks' measure."""
    return np.linalg.norm(a - b) / np.linalg.norm(a + b)


@pytest.fixture(scope="session")
def digits():
    return fastnn.load_digits()

@pytest.fixture(scope="module")
def small(digits):
    """600 digits (60 per class): quick to train, real enough to learn."""
    X, y = digits
    keep = np.concatenate([np.flatnonzero(y == k)[:60] for k in range(10)])
    return X[keep], y[keep]



def interrupt_training(proc, started_within):
    """SIGINT to a training process once it prints "started" (and half a second more); the
    JSON of its last line, checked as what an interrupted training returns: the best result
    so far (``cost`` its cost, ``J`` recomputed, ``best`` the least cost seen)."""
    import json
    import signal
    import time

    wait_for_line(proc, "started", timeout=started_within)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    r = json.loads(out.splitlines()[-1])
    assert r["stopped"] == "interrupted" and r["n_iter"] > 2
    assert r["cost"] == pytest.approx(r["J"], rel=1e-12) and r["cost"] <= r["best"] + 1e-12


def wait_for_line(proc, text, timeout):
    """Read proc's stdout until a line holding text; fail after timeout seconds."""
    import select
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, end - time.monotonic()))
        line = proc.stdout.readline() if ready else ""
        if text in line:
            return
        if ready and not line:  # the process ended
            break
    proc.kill()
    raise AssertionError(f"no line with {text!r} within {timeout} s: {proc.communicate()}")
