"""Start-up (import + first call, cold and warm Numba cache) and peak memory of one call.

Each runs in a fresh interpreter; the figures that matter go to ``extra_info`` for the report.
"""

import json
import subprocess
import sys

import pytest

FIRST_CALL = """
import json, time
t0 = time.perf_counter()
import numpy as np, fastnn
t1 = time.perf_counter()
fastnn.cost_grad(np.zeros(fastnn.n_params((4, 3, 2))), (4, 3, 2), np.ones((3, 4)), [0, 1, 0])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1}))
"""

PEAK_MEMORY = """
import json, resource, sys, numpy as np, fastnn
sys.path.insert(0, "bench")
from backends import BACKENDS, synthetic
layers = (400, 25, 10)
f = BACKENDS[sys.argv[1]](layers, *synthetic(layers, 8)[:2], 1.0, np.float64)
f(synthetic(layers, 8)[2])  # compile / warm on a tiny batch
X, y, p = synthetic(layers, 200_000)
f = BACKENDS[sys.argv[1]](layers, X, y, 1.0, np.float64)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
f(p)
extra = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(json.dumps({"extra_MB": extra / 2**20, "extra_pct_of_X": 100 * extra / X.nbytes}))
"""


def run_json(script, *args, env=None):
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                         check=True, env=env).stdout
    return json.loads(out.splitlines()[-1])


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_startup(benchmark, tmp_path, cache, monkeypatch):
    benchmark.group = "start-up: import + first cost_grad, fresh interpreter"
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    if cache == "warm":
        run_json(FIRST_CALL, env=env)
    result = benchmark.pedantic(run_json, args=(FIRST_CALL,), kwargs={"env": env},
                                rounds=1 if cache == "cold" else 3, iterations=1)
    benchmark.extra_info.update(result)
    assert result["first_call_s"] > 0


@pytest.mark.parametrize("impl", ["fastnn", "numpy"])
def test_peak_memory(benchmark, impl):
    benchmark.group = "peak extra memory of one cost_grad, m = 200 000 (f64)"
    result = benchmark.pedantic(run_json, args=(PEAK_MEMORY, impl), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["extra_MB"] >= 0
