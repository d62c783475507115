"""The Numba policy of fastnn._jit where the environment is hostile: no writable cache, Ctrl-C
inside a kernel."""

import math
import os
import signal
import subprocess
import sys
import time
import shutil
from pathlib import Path

import pytest

from conftest import subprocess_env, wait_for_line

FIRST_USE = """
import warnings, numpy as np
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import fastnn
    J = fastnn.cost_grad(np.zeros(fastnn.n_params((3, 2, 2))), (3, 2, 2), np.eye(3), [0, 1, 0])[0]
print(fastnn.__file__)
print(round(J, 6))
print(len(caught), caught[0].message if caught else "")
"""


@pytest.mark.jit
def test_no_writable_cache_compiles_into_a_temporary_one_and_says_so(tmp_path):
    """An install where nothing can be written beside the package (here: a file where each
    __pycache__ folder would go, since root may write anywhere), HOME not writable and no
    NUMBA_CACHE_DIR: Numba finds no place for its cache."""
    copy = tmp_path / "site" / "fastnn"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fastnn", copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for package in (copy, copy / "kernels"):
        (package / "__pycache__").write_text("not a folder")
    (tmp_path / "tmp").mkdir()
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(copy.parent), "HOME": "/dev/null/home",
           "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(tmp_path / "tmp")}
    out = subprocess.run([sys.executable, "-c", FIRST_USE], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    where, J, warned = out.stdout.splitlines()
    assert where.startswith(str(copy))
    assert float(J) == pytest.approx(2 * math.log(2), abs=1e-6)  # two outputs at 1/2 a row
    assert warned.startswith("1 ") and "no folder can hold Numba's cache" in warned
    assert "NUMBA_CACHE_DIR" in warned
    assert not any((tmp_path / "tmp").iterdir())  # the temporary cache went with the process


LOOP = """
import numpy as np, fastnn
X, y = fastnn.load_digits()
objective = fastnn.Objective((400, 25, 10), X, y, 1.0)
p = fastnn.init_params((400, 25, 10), 0)
objective(p)
print("looping", flush=True)
try:
    while True:
        objective(p)
except KeyboardInterrupt:
    print("KeyboardInterrupt")
"""


@pytest.mark.jit
@pytest.mark.parametrize("delay", [0.2, 0.7, 1.3])
def test_a_real_ctrl_c_during_kernels_is_a_keyboard_interrupt(delay):
    """Almost every moment of this loop is inside a parallel kernel: the SIGINT lands there
    (it used to come out as a SystemError from Numba's dispatcher)."""
    proc = subprocess.Popen([sys.executable, "-c", LOOP], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_line(proc, "looping", timeout=300)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert out.strip().endswith("KeyboardInterrupt") and proc.returncode == 0, err


SPECIALISATIONS = """
import numpy as np, fastnn
from fastnn.kernels import micro
X, y = fastnn.load_digits()
fastnn.cost_grad(fastnn.init_params((400, 25, 10), 0), (400, 25, 10), X, y, 1.0)
print(len(micro.affine_tile.signatures), len(micro.outer_tile.signatures))
"""


@pytest.mark.jit
def test_one_cost_grad_compiles_each_micro_kernel_once(tmp_path):
    """X's rows and the group buffers reach affine_tile and outer_tile with the same types (a
    literal column offset 0 for X compiled each twice: 0.8 s of the first call). A fresh cache
    and no precompiled archive: what is loaded from a cache leaves its callees' dispatchers
    empty."""
    out = subprocess.run([sys.executable, "-c", SPECIALISATIONS], capture_output=True,
                         text=True, timeout=600,
                         env=subprocess_env(NUMBA_CACHE_DIR=str(tmp_path), FASTNN_PRECOMPILED="0"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]
