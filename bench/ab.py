"""Interleaved A/B of this checkout's fastnn against another revision's.

    python bench/ab.py REV [CALLS]

REV's ``fastnn/`` is exported (``git archive``) as a package named ``fastnn_base`` and
imported beside this tree's ``fastnn``; each workload alternates one call of each, CALLS
times, on the same Numba thread pool, so the machine's drift (up to 2x here within minutes)
touches both alike. Twice, each in a process of its own: the same code ran 4-7 % faster in
the slot whose kernels were loaded first (an A/A test), so one process loads REV's first and
the other this tree's, and each side's median is the geometric mean of its two. Prints the
medians and their ratio. Both compile from source into a fresh Numba cache first (not timed).
"""

import io
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]


def export(rev, folder):
    """REV's fastnn/ as folder/fastnn_base (its imports are all relative)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "fastnn"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "fastnn").rename(folder / "fastnn_base")


WIDE = (784, 256, 128, 10)  # the BLAS plan's layers, on 2000 rows of dense X
NARROW = (5, 50, 1)  # a regressor's (kernels.fused.by_dots), on 1500 rows: bench/test_units_bench


def workloads(new, base):
    """(name, layers, this tree's function of params, REV's)."""
    import numpy as np

    X, y = new.load_digits()
    layers = (400, 25, 10)
    v = np.random.default_rng(0).standard_normal(new.n_params(layers))
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        Xc = np.ascontiguousarray(X, dtype=dtype)
        yield (f"Objective {name}", layers, new.Objective(layers, X, y, 1.0, dtype=dtype),
               base.Objective(layers, X, y, 1.0, dtype=dtype))
        yield (f"cost_grad drop-in {name}", layers,
               *(lambda p, m=m, dt=dtype, Xc=Xc: m.cost_grad(p, layers, Xc, y, 1.0, dt)
                 for m in (new, base)))
        yield (f"predict {name}", layers,
               *(lambda p, m=m, dt=dtype, Xc=Xc: m.predict(p, layers, Xc, dt) for m in (new, base)))
    yield ("predict float32 of float64 X", layers,  # as a user calls it: X converted in the call
           *(lambda p, m=m: m.predict(p, layers, X, np.float32) for m in (new, base)))
    yield ("hessp float64", layers,
           *(hessp_along(m.Objective(layers, X, y, 1.0), v) for m in (new, base)))
    rng = np.random.default_rng(0)
    Xw, yw = rng.random((2000, WIDE[0])), rng.integers(0, WIDE[-1], 2000)
    for dtype in (np.float64, np.float32):
        name, Xc = np.dtype(dtype).name, np.ascontiguousarray(Xw, dtype=dtype)
        shape = "-".join(map(str, WIDE))
        yield (f"Objective {shape} {name}", WIDE,
               *(m.Objective(WIDE, Xw, yw, 1.0, dtype=dtype) for m in (new, base)))
        yield (f"predict {shape} {name}", WIDE,
               *(lambda p, m=m, dt=dtype, Xc=Xc: m.predict(p, WIDE, Xc, dt) for m in (new, base)))
    Xn, yn = rng.uniform(-1, 1, (1500, NARROW[0])), rng.normal(size=1500)
    units = dict(activation="relu", output="identity")
    for dtype in (np.float64, np.float32):
        name, Xc = np.dtype(dtype).name, np.ascontiguousarray(Xn, dtype=dtype)
        shape = "-".join(map(str, NARROW))
        yield (f"Objective {shape} relu {name}", NARROW,
               *(m.Objective(NARROW, Xn, yn, 1e-4, dtype=dtype, **units) for m in (new, base)))
        yield (f"outputs {shape} relu {name}", NARROW,
               *(lambda p, m=m, dt=dtype, Xc=Xc: m.outputs(p, NARROW, Xc, dt, **units)
                 for m in (new, base)))


def hessp_along(objective, v):
    """p -> the objective's Hessian at p times v."""
    return lambda p: objective.hessp(p, v)


def measure(folder, calls, base_first):
    """``{workload: (base median, new median)}`` in seconds, this process; the side whose
    kernels ran first goes first."""
    sys.path[:0] = [str(ROOT), str(folder)]
    import fastnn
    import fastnn_base

    medians = {}
    for name, layers, new, base in workloads(fastnn, fastnn_base):
        params = fastnn.init_params(layers, seed=0)
        t_new, t_base = [], []
        pair = ((base, t_base), (new, t_new)) if base_first else ((new, t_new), (base, t_base))
        for f, _ in pair:
            f(params)  # compile, warm
        for _ in range(calls):
            for f, times in pair:
                start = time.perf_counter()
                f(params)
                times.append(time.perf_counter() - start)
        medians[name] = (median(t_base), median(t_new))
    return medians


def main(rev, calls=300):
    folder = Path(tempfile.mkdtemp(prefix="fastnn-ab-"))
    export(rev, folder)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(folder / "numba-cache"))
    # compiled from source, both: an archive's entries name fastnn's own classes (a States
    # tuple of this tree's fields would box REV's results)
    os.environ["FASTNN_PRECOMPILED"] = "0"
    runs = [json.loads(subprocess.run(
        [sys.executable, __file__, "--measure", str(folder), str(calls), str(int(base_first))],
        capture_output=True, text=True, check=True).stdout) for base_first in (True, False)]
    print(f"| workload | {rev} | this tree | this / {rev} |\n|---|---:|---:|---:|")
    for name in runs[0]:
        base, new = (math.sqrt(a * b) * 1e3 for a, b in zip(runs[0][name], runs[1][name]))
        print(f"| {name} | {base:.3f} ms | {new:.3f} ms | {new / base:.3f} |")


if __name__ == "__main__":
    if sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1")))
    else:
        main(sys.argv[1], *map(int, sys.argv[2:3]))
