"""The shape matrix: cost_grad and predict of fastnn, PyTorch, JAX and numpy on every shape.

Run one implementation per process (their thread pools disturb whatever runs next in the same
process): ``python bench/matrix.py`` does, and prints the table with each row's FLOP floor.
By hand: ``python -m pytest bench/test_matrix_bench.py -k torch --benchmark-json=torch.json``.
"""

import numpy as np
import pytest
from scipy.optimize import minimize

import fastnn
from backends import BACKENDS, DTYPES, PREDICTORS, UNITS, synthetic

CLASSIC = (400, 25, 10)
# (name, layers, m, units): the digits and dense data of the same shape, wide and deep layers,
# a tiny net, with the course's sigmoids; the digits and the standard MNIST MLPs with ReLU
# hidden units and a softmax
SHAPES = [("digits", CLASSIC, 5000, "sigmoid"), ("dense", CLASSIC, 5000, "sigmoid"),
          ("dense", (784, 128, 10), 2000, "sigmoid"),
          ("dense", (784, 256, 128, 10), 2000, "sigmoid"),
          ("dense", (400, 100, 100, 10), 2000, "sigmoid"),
          ("dense", (784, 512, 256, 10), 2000, "sigmoid"),
          ("dense", (16, 16, 4), 100_000, "sigmoid"),
          ("digits", CLASSIC, 5000, "relu-softmax"),
          ("dense", (784, 128, 10), 2000, "relu-softmax"),
          ("dense", (784, 256, 128, 10), 2000, "relu-softmax")]
IMPLS = ["fastnn", "torch", "jax", "numpy"]
MINIMIZE_ITERATIONS = 200


def shape_id(shape):
    name, layers, m, units = shape
    suffix = "" if units == "sigmoid" else f"_{units}"
    return f"{'-'.join(map(str, layers))}_{name}_m{m}{suffix}"


def problem(shape, digits):
    name, layers, m, _ = shape
    if name == "digits":
        X, y = digits
        return X, y, fastnn.init_params(layers, seed=0)
    return synthetic(layers, m)


def flops(layers, m, op):
    """Multiply-adds x 2 of a dense pass: forward, plus for cost_grad the gradient of every
    Theta and the deltas of every hidden layer."""
    products = [a * b for a, b in zip(layers[:-1], layers[1:])]
    if op == "predict":
        return 2 * m * sum(products)
    return 2 * m * (3 * sum(products) - products[0])


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("op", ["cost_grad", "predict"])
@pytest.mark.parametrize("impl", IMPLS)
def test_matrix(benchmark, digits, impl, op, dtype, shape):
    benchmark.group = f"{op} {shape_id(shape)} {dtype}"
    X, y, p = problem(shape, digits)
    units = UNITS[shape[3]]
    if op == "cost_grad":
        f = BACKENDS[impl](shape[1], X, y, 1.0, DTYPES[dtype], units)
        J, grad = f(p)
        assert np.isfinite(J) and grad.shape == p.shape
    else:
        f = PREDICTORS[impl](shape[1], X, DTYPES[dtype], units)
        assert f(p).shape == y.shape
    benchmark.extra_info["mflop"] = flops(shape[1], shape[2], op) / 1e6
    benchmark(f, p)


def minimize_as_written(X, y):
    objective = fastnn.Objective(CLASSIC, X, y, 1.0)
    return minimize(objective, fastnn.init_params(CLASSIC, seed=0), jac=True,
                    method="L-BFGS-B", options={"maxiter": MINIMIZE_ITERATIONS})


def minimize_blas_at_one(X, y):
    with fastnn.thread_limits():
        return minimize_as_written(X, y)


def fastnn_minimize(X, y):
    objective = fastnn.Objective(CLASSIC, X, y, 1.0)
    return fastnn.minimize(objective, fastnn.init_params(CLASSIC, seed=0), jac=True,
                           method="L-BFGS-B", options={"maxiter": MINIMIZE_ITERATIONS})


def fastnn_train(X, y):
    return fastnn.train(X, y, lam=1.0, maxiter=MINIMIZE_ITERATIONS, seed=0)


RUNS = {"as_written": minimize_as_written, "blas_at_one_thread": minimize_blas_at_one,
        "fastnn_minimize": fastnn_minimize, "fastnn_train": fastnn_train}


@pytest.mark.parametrize("how", list(RUNS))
def test_user_minimize(benchmark, digits, how):
    """scipy's minimize in a user's own loop as written, beside the same with BLAS held at
    one thread, fastnn.minimize and fastnn.train: 200 L-BFGS-B iterations on the digits."""
    benchmark.group = f"L-BFGS-B {MINIMIZE_ITERATIONS} iterations 400-25-10 digits f64"
    result = benchmark.pedantic(RUNS[how], args=digits, rounds=3, iterations=1)
    benchmark.extra_info["nfev"] = int(result.nfev)
    assert result.nfev >= MINIMIZE_ITERATIONS
