"""The full gradient check of 400-25-10 on the 5000 bundled digits.

The numpy reference's naive check (two full cost evaluations per parameter, as the notebooks
do) is timed on a fixed sample of 200 parameters and extrapolated; fastnn checks all 10 285.
``compare_s`` (the full check's time) is what the report's ratio compares.
"""

import numpy as np
import pytest

import fastnn
from fastnn import reference

LAYERS = (400, 25, 10)
SAMPLE = 200


def naive_numpy_check(params, X, y, idx, eps=1e-4):
    numerical = np.empty(idx.size)
    for q, p in enumerate(idx):
        step = np.zeros_like(params)
        step[p] = eps
        plus = reference.cost_grad(params + step, LAYERS, X, y, 1.0)[0]
        minus = reference.cost_grad(params - step, LAYERS, X, y, 1.0)[0]
        numerical[q] = (plus - minus) / (2 * eps)
    return numerical


@pytest.mark.parametrize("impl", ["numpy", "fastnn full", "fastnn incremental"])
def test_gradcheck(benchmark, digits, impl):
    benchmark.group = "gradient check, all 10 285 parameters of 400-25-10, 5000 digits"
    X, y = digits
    params = fastnn.init_params(LAYERS, seed=0)
    size = fastnn.n_params(LAYERS)
    if impl == "numpy":
        idx = np.random.default_rng(0).choice(size, SAMPLE, replace=False)
        numerical = benchmark.pedantic(naive_numpy_check, args=(params, X, y, idx), rounds=1)
        analytical = reference.cost_grad(params, LAYERS, X, y, 1.0)[1][idx]
        rel = np.linalg.norm(numerical - analytical) / np.linalg.norm(numerical + analytical)
        if not benchmark.disabled:  # no timings in a smoke run
            per_param = benchmark.stats.stats.median / SAMPLE
            benchmark.extra_info.update(per_param_ms=per_param * 1e3, compare_s=per_param * size)
        benchmark.extra_info["rel_diff"] = rel
    else:
        method = impl.split()[1]
        # As a smoke test (--benchmark-disable) the slow full method checks a sample only.
        indices = SAMPLE if benchmark.disabled and method == "full" else None
        check = benchmark.pedantic(fastnn.check_gradients, args=(params, LAYERS, X, y, 1.0),
                                   kwargs={"method": method, "indices": indices},
                                   rounds=1 if method == "full" else 3)
        rel = check.rel_diff
        if not benchmark.disabled:
            benchmark.extra_info["compare_s"] = benchmark.stats.stats.median
        benchmark.extra_info["rel_diff"] = rel
    assert rel < 1e-9
