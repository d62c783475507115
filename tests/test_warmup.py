"""Ahead-of-time compilation: after ``fastnn warmup`` in a fresh Numba cache (the shipped
archives off: fastnn._precompiled), a new process compiles nothing for the paths it covered."""

import subprocess
import sys

import pytest

import fastnn
from conftest import subprocess_env

COMPILED_LATER = """
import numpy as np, scipy.sparse, fastnn
from numba.core import event
recorder = event.RecordingListener()
event.register("numba:compile", recorder)
X, y = fastnn.load_digits()
X, y = X[:300], y[:300]
for layers in [(400, 25, 10), (400, 100, 10)]:  # the fused and the BLAS plan
    p = fastnn.init_params(layers, 0)
    for data in (X, scipy.sparse.csr_matrix(X)):
        o = fastnn.Objective(layers, data, y, 1.0, dtype=np.float32)
        o(p), o.hessp(p, p), fastnn.cost_grad(p, layers, data, y, dtype=np.float32)
        fastnn.predict(p, layers, data, dtype=np.float32)
        fastnn.check_gradients(p, layers, data[:20], y[:20], indices=5, dtype=np.float32)
print(sum(1 for _, ev in recorder.buffer if ev.is_start))
"""


@pytest.mark.jit
def test_warmup_command_leaves_nothing_to_compile_for_its_paths(tmp_path):
    env = subprocess_env(NUMBA_CACHE_DIR=str(tmp_path), FASTNN_PRECOMPILED="0")  # compiles
    out = subprocess.run([sys.executable, "-m", "fastnn", "warmup", "--dtype", "float32",
                          "--processes", "2"], capture_output=True, text=True, env=env,
                         timeout=1200)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert sorted(line.split(":")[0] for line in lines[:2]) == ["CSR float32", "dense float32"]
    assert lines[-1].startswith("every kernel compiled and cached")
    later = subprocess.run([sys.executable, "-c", COMPILED_LATER], capture_output=True,
                           text=True, env=env, timeout=600)
    assert later.returncode == 0, later.stderr
    assert int(later.stdout.split()[-1]) == 0


@pytest.mark.parametrize("processes, error", [(0, ValueError), (-2, ValueError),
                                               (1.5, TypeError)])
def test_warmup_refuses_a_bad_process_count_before_compiling(processes, error):
    with pytest.raises(error, match="processes must be an integer >= 1"):
        fastnn.warmup(processes=processes)
