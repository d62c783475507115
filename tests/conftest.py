"""Shared fixtures: tolerances per dtype, small random problems, the bundled digits."""

from pathlib import Path

import numpy as np
import pytest

import fastnn

# Relative agreement between fastnn and the numpy reference, per compute dtype.
RTOL = {np.float64: 1e-10, np.float32: 1e-4}
DTYPES = list(RTOL)

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
