"""Compile latency: each entry point's first call in a fresh interpreter and a fresh Numba
cache, with the kernels shipped precompiled for this CPU level (what a new user waits for) and
with them off (``FASTNN_PRECOMPILED=0``: everything compiled here), and the functions whose
compilation took the time.

    python bench/compile.py [PATH ...]

Each path runs in a process of its own with an empty ``NUMBA_CACHE_DIR``, the digits loaded
before the clock starts. Exclusive compile times come from Numba's "numba:compile" events
(each function's time less that of the functions it compiled on the way). Prints a Markdown
table with the machine and the command.
"""

import datetime
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matrix import cpu  # noqa: E402

SETUP = """
import numpy as np, scipy.sparse, fastnn
X, y = fastnn.load_digits()
layers = (400, 25, 10)
p = fastnn.init_params(layers, seed=0)
"""

PATHS = {  # name: the code a user runs (after SETUP)
    "cost_grad float64": "fastnn.cost_grad(p, layers, X, y, 1.0)",
    "cost_grad float32": "fastnn.cost_grad(p, layers, X, y, 1.0, dtype=np.float32)",
    "Objective float64": "fastnn.Objective(layers, X, y, 1.0)(p)",
    "Objective + hessp float64": "o = fastnn.Objective(layers, X, y, 1.0); o(p); o.hessp(p, p)",
    "predict float64": "fastnn.predict(p, layers, X)",
    "check_gradients float64": "fastnn.check_gradients(p, layers, X[:500], y[:500], indices=50)",
    "cost_grad float64 ReLU + softmax": "fastnn.cost_grad(p, layers, X, y, 1.0, "
                                        "activation='relu', output='softmax')",
    "Objective + hessp float64 tanh + identity": "o = fastnn.Objective(layers, X, X[:, 200:210], "
                                                 "1.0, activation='tanh', output='identity'); "
                                                 "o(p); o.hessp(p, p)",
    "cost_grad float64 CSR": "fastnn.cost_grad(p, layers, scipy.sparse.csr_matrix(X), y, 1.0)",
    "cost_grad float64 BLAS plan": "q = fastnn.init_params((400, 100, 10), 0); "
                                   "fastnn.cost_grad(q, (400, 100, 10), X, y, 1.0)",
    "train float64 (400 iterations)": "fastnn.train(X, y, maxiter=400)",
    "warmup() (every path)": "fastnn.warmup()",
}

MEASURE = """
import collections, json, sys, time
from numba.core import event
exec(compile(sys.argv[1], "setup", "exec"))
recorder = event.RecordingListener()
event.register("numba:compile", recorder)
start = time.perf_counter()
exec(compile(sys.argv[2], "path", "exec"))
seconds = time.perf_counter() - start
own, stack, compilations = collections.Counter(), [], 0
for ts, ev in recorder.buffer:
    if ev.is_start:
        stack.append([ev.data["dispatcher"].py_func.__qualname__, ts, 0.0])
        continue
    name, began, inner = stack.pop()
    own[name] += ts - began - inner
    compilations += 1
    if stack:
        stack[-1][2] += ts - began
print(json.dumps({"seconds": seconds, "functions": len(own), "compilations": compilations,
                  "top": own.most_common(3)}))
"""


def measure(name, archives):
    """The first call of path ``name`` in a fresh interpreter with an empty Numba cache, the
    shipped archives on ("1") or off ("0")."""
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, "-c", MEASURE, SETUP, PATHS[name]],
                             capture_output=True, text=True, check=True,
                             env={"PATH": "/usr/bin:/bin", "NUMBA_CACHE_DIR": cache,
                                  "FASTNN_PRECOMPILED": archives})
    return json.loads(out.stdout.splitlines()[-1])


def measure_all(names=()):
    """Every path's first call with the shipped kernels and compiled here, with the machine,
    commit and date (bench/docs.py keeps it as bench/results/compile.json)."""
    paths = {}
    for name in names or PATHS:
        paths[name] = {"shipped": measure(name, "1"), "compiled": measure(name, "0")}
        print(name, f"{paths[name]['shipped']['seconds']:.2f} s shipped, "
              f"{paths[name]['compiled']['seconds']:.1f} s compiled", file=sys.stderr, flush=True)
    return {"paths": paths, "machine_info": {"machine": cpu()}, "commit_info": commit_info(),
            "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat()}


def commit_info():
    """The checkout's commit and whether it has local changes (as pytest-benchmark records)."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=Path(__file__).parent).stdout.strip()
    return {"id": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "fastnn"))}


def table(data):
    rows = ["| first call, fresh cache | shipped kernels, s | compiled here, s | "
            "functions / compilations | most compile time |", "|---|---:|---:|---:|---|"]
    for name, path in data["paths"].items():
        shipped, r = path["shipped"], path["compiled"]
        top = ", ".join(f"{f} {s:.1f} s" for f, s in r["top"])
        rows.append(f"| {name} | {shipped['seconds']:.2f} | {r['seconds']:.1f} | "
                    f"{r['functions']} / {r['compilations']} | {top} |")
    return "\n".join(rows) + f"\n\nMachine: {data['machine_info']['machine']}."


if __name__ == "__main__":
    print(table(measure_all(sys.argv[1:])))
