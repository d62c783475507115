"""Interleaved A/B of this checkout's fastnn against another revision's, in one process.

    python bench/ab.py REV [CALLS]

REV's ``fastnn/`` is exported (``git archive``) as a package named ``fastnn_base`` and
imported beside this tree's ``fastnn``; each workload alternates one call of each, CALLS
times, on the same Numba thread pool, so the machine's drift (up to 2x here within minutes)
touches both alike. Prints the medians and their ratio. Both compile into a fresh Numba
cache first (not timed).
"""

import io
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


def workloads(new, base):
    import numpy as np

    X, y = new.load_digits()
    layers = (400, 25, 10)
    v = np.random.default_rng(0).standard_normal(new.n_params(layers))
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        Xc = np.ascontiguousarray(X, dtype=dtype)
        yield (f"Objective {name}", new.Objective(layers, X, y, 1.0, dtype=dtype),
               base.Objective(layers, X, y, 1.0, dtype=dtype))
        yield (f"cost_grad drop-in {name}",
               *(lambda p, m=m, dt=dtype, Xc=Xc: m.cost_grad(p, layers, Xc, y, 1.0, dt)
                 for m in (new, base)))
        yield (f"predict {name}",
               *(lambda p, m=m, dt=dtype, Xc=Xc: m.predict(p, layers, Xc, dt) for m in (new, base)))
    yield ("hessp float64",
           *(lambda p, o=m.Objective(layers, X, y, 1.0): o.hessp(p, v) for m in (new, base)))


def main(rev, calls=300):
    folder = Path(tempfile.mkdtemp(prefix="fastnn-ab-"))
    export(rev, folder)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(folder / "numba-cache"))
    sys.path[:0] = [str(ROOT), str(folder)]
    import fastnn
    import fastnn_base

    params = fastnn.init_params((400, 25, 10), seed=0)
    print(f"| workload | {rev} | this tree | this / {rev} |\n|---|---:|---:|---:|")
    for name, new, base in workloads(fastnn, fastnn_base):
        new(params), base(params)  # compile, warm
        t_new, t_base = [], []
        for _ in range(calls):
            for f, times in ((base, t_base), (new, t_new)):
                start = time.perf_counter()
                f(params)
                times.append(time.perf_counter() - start)
        print(f"| {name} | {median(t_base) * 1e3:.3f} ms | {median(t_new) * 1e3:.3f} ms | "
              f"{median(t_new) / median(t_base):.3f} |")


if __name__ == "__main__":
    main(sys.argv[1], *map(int, sys.argv[2:3]))
