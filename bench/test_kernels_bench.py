"""cost_grad and predict: fastnn against the numpy reference, PyTorch and JAX.

    python -m pytest bench/test_kernels_bench.py --benchmark-json=bench/test_kernels_bench.json
"""

import numpy as np
import pytest

import fastnn
from fastnn import reference
from backends import BACKENDS, DTYPES, PREDICTORS, synthetic

CLASSIC = (400, 25, 10)


def timed(benchmark, f, p):
    """Warm f (JIT compilation, caches), check it runs, then time it."""
    J, grad = f(p)
    assert np.isfinite(J) and grad.shape == p.shape
    benchmark(f, p)


@pytest.mark.parametrize("impl", list(BACKENDS))
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_cost_grad(benchmark, digits, impl, dtype):
    benchmark.group = f"cost_grad 400-25-10, 5000 digits, {dtype}"
    X, y = digits
    f = BACKENDS[impl](CLASSIC, X, y, 1.0, DTYPES[dtype])
    timed(benchmark, f, fastnn.init_params(CLASSIC, seed=0))


@pytest.mark.parametrize("impl", ["fastnn", "numpy"])
@pytest.mark.parametrize("m", [500, 5000, 50_000, 200_000])
def test_scaling_in_rows(benchmark, impl, m):
    benchmark.group = f"cost_grad 400-25-10 f64, m = {m}"
    X, y, p = synthetic(CLASSIC, m)
    timed(benchmark, BACKENDS[impl](CLASSIC, X, y, 1.0, np.float64), p)


@pytest.mark.parametrize("impl", ["fastnn", "numpy", "torch"])
@pytest.mark.parametrize("layers", [(400, 100, 100, 10), (784, 256, 128, 10)],
                         ids=lambda l: "-".join(map(str, l)))
def test_scaling_in_width(benchmark, impl, layers):
    benchmark.group = f"cost_grad {'-'.join(map(str, layers))} f64, m = 5000"
    X, y, p = synthetic(layers, 5000)
    timed(benchmark, BACKENDS[impl](layers, X, y, 1.0, np.float64), p)


@pytest.mark.parametrize("impl", list(PREDICTORS))
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_predict(benchmark, digits, impl, dtype):
    benchmark.group = f"predict 400-25-10, 5000 digits, {dtype}"
    X, y = digits
    p = fastnn.init_params(CLASSIC, seed=0)
    predict = PREDICTORS[impl](CLASSIC, X, DTYPES[dtype])
    assert np.mean(predict(p) == reference.predict(p, CLASSIC, X)) > 0.99
    benchmark(predict, p)
