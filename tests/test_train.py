"""Training: every method, validation splits, callbacks, faults, the lambda sweep."""

import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn.train import GRADIENT_METHODS
from conftest import interrupt_training


@pytest.mark.parametrize("method", GRADIENT_METHODS + ("gd",))
def test_every_method_lowers_the_cost(small, method):
    # Every 5th pixel and 8 hidden units: 738 weights, so that BFGS (whose update costs
    # O(n^3) in scipy) stays quick.
    X, y = small[0][:, ::5], small[1]
    layers = (80, 8, 10)
    start = fastnn.cost_grad(fastnn.init_params(layers, 0), layers, X, y, 0.1)[0]
    result = fastnn.train(X, y, hidden=(8,), lam=0.1, method=method, maxiter=60,
                          learning_rate=2.0)
    assert result.layers == layers
    assert result.cost < 0.8 * start
    assert result.cost == pytest.approx(
        fastnn.cost_grad(result.params, result.layers, X, y, 0.1)[0], rel=1e-12)
    assert 1 <= result.n_iter <= 61 and result.nfev >= 1
    if method != "gd":
        assert result.train_accuracy > 0.7


def test_default_training_reaches_high_accuracy(digits):
    X, y = digits
    result = fastnn.train(X, y, maxiter=150)
    assert result.train_accuracy > 0.97
    assert all(b <= a + 1e-12 for a, b in zip(result.costs, result.costs[1:]))  # L-BFGS-B descends


def test_validation_fraction_is_stratified_and_seeded(small):
    X, y = small
    train_idx, held = fastnn.stratified_split(y, 0.25, seed=3)
    np.testing.assert_array_equal(np.bincount(y[held]), [15] * 10)
    assert np.intersect1d(train_idx, held).size == 0 and train_idx.size + held.size == y.size
    np.testing.assert_array_equal(held, fastnn.stratified_split(y, 0.25, seed=3)[1])
    assert not np.array_equal(held, fastnn.stratified_split(y, 0.25, seed=4)[1])


def test_explicit_validation_pair(small):
    X, y = small
    result = fastnn.train(X[::2], y[::2], hidden=(10,), maxiter=30, validation=(X[1::2], y[1::2]))
    expected = np.mean(fastnn.predict(result.params, result.layers, X[1::2]) == y[1::2])
    assert result.validation_accuracy == expected


def test_callback_sees_every_iteration_and_can_stop(small):
    X, y = small
    seen = []

    def callback(state):
        seen.append((state.nit, state.fun))
        if state.nit == 7:
            raise StopIteration

    result = fastnn.train(X, y, hidden=(10,), maxiter=100, callback=callback)
    assert result.stopped == "callback" and result.n_iter == 7
    assert [c for _, c in seen] == result.costs
    assert result.cost == pytest.approx(
        fastnn.cost_grad(result.params, result.layers, X, y, 1.0)[0], rel=1e-12)
    assert 0 < result.train_accuracy <= 1


def test_ctrl_c_returns_the_best_result_so_far(small):
    X, y = small

    def interrupt(state):
        if state.nit == 5:
            raise KeyboardInterrupt

    result = fastnn.train(X, y, hidden=(10,), maxiter=100, callback=interrupt)
    assert result.stopped == "interrupted"
    J = fastnn.cost_grad(result.params, result.layers, X, y, 1.0)[0]
    assert J <= min(result.costs[:5]) + 1e-12


def test_an_exception_in_the_callback_propagates(small):
    X, y = small

    def broken(state):
        raise RuntimeError("user bug")

    with pytest.raises(RuntimeError, match="user bug"):
        fastnn.train(X, y, hidden=(10,), maxiter=10, callback=broken)


def test_gradient_descent_that_blows_up_stops_with_last_good_params(small):
    X, y = small
    result = fastnn.train(X, y, hidden=(10,), method="gd", learning_rate=1e4, maxiter=50)
    assert result.stopped == "diverged" and "learning_rate" in result.message
    assert np.isfinite(result.params).all() and np.isfinite(result.cost)
    assert result.cost == pytest.approx(
        fastnn.cost_grad(result.params, result.layers, X, y, 1.0)[0], rel=1e-12)


def test_progress_bar(small, capsys):
    X, y = small
    fastnn.train(X, y, hidden=(5,), maxiter=3, progress=True)
    assert "training (L-BFGS-B)" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "Nelder-Mead"}, "method must be one of"),
    ({"maxiter": 0}, "maxiter must be an integer >= 1"),
    ({"validation": 1.5}, "validation must be a fraction"),
    ({"lam": -1}, "lam must be finite"),
])
def test_bad_training_arguments(small, kwargs, message):
    X, y = small
    with pytest.raises(ValueError, match=message):
        fastnn.train(X, y, **kwargs)


def test_sweep_trains_once_per_lambda(small):
    X, y = small
    rows = fastnn.sweep(X, y, [0.0, 50.0], hidden=(10,), maxiter=40)
    assert [r.lam for r in rows] == [0.0, 50.0]
    assert rows[0].train_accuracy > rows[1].train_accuracy  # heavy penalty underfits
    assert all(0 <= r.validation_accuracy <= 1 and r.seconds > 0 for r in rows)
    table = fastnn.format_sweep(rows)
    assert table.splitlines()[0].split() == ["lambda", "cost", "train", "validation", "seconds"]


# --- real faults and bad settings -------------------------------------------------------------

INTERRUPTED = """
import json, sys, numpy as np, fastnn
X, y = fastnn.load_digits()
def started(state):
    if state.nit == 2:
        print("started", flush=True)
r = fastnn.train(X, y, method=sys.argv[1], maxiter=100000, tol=0.0, learning_rate=0.5,
                 callback=started)
J = fastnn.cost_grad(r.params, r.layers, X, y, 1.0)[0]
print(json.dumps({"stopped": r.stopped, "n_iter": r.n_iter, "cost": r.cost, "J": J,
                  "best": min(r.costs)}))
"""


@pytest.mark.jit
@pytest.mark.parametrize("method", ["gd", "L-BFGS-B", "CG"])
def test_a_real_ctrl_c_returns_the_best_result_so_far(method):
    """SIGINT to a training process lands wherever it lands (often inside a kernel)."""
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED, method], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    interrupt_training(proc, started_within=300)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"tol": -1}, ValueError, "tol must be finite and >= 0"),
    ({"tol": np.nan}, ValueError, "tol must be finite"),
    ({"method": "gd", "learning_rate": 0}, ValueError, "learning_rate must be finite and > 0"),
    ({"method": "gd", "learning_rate": -1e-3}, ValueError, "learning_rate must be"),
    ({"method": "gd", "learning_rate": np.nan}, ValueError, "learning_rate must be finite"),
    ({"method": "gd", "learning_rate": np.inf}, ValueError, "learning_rate must be finite"),
    ({"seed": -1}, ValueError, "seed must be None or an integer >= 0"),
    ({"seed": 1.5}, TypeError, "seed must be None or an integer"),
    ({"hidden": "25"}, TypeError, "hidden must be an int or a sequence of ints"),
    ({"hidden": (25, 0)}, ValueError, "hidden layer sizes must all be >= 1"),
])
def test_bad_settings_are_refused_before_training(small, kwargs, error, message):
    X, y = small
    with pytest.raises(error, match=message):
        fastnn.train(X, y, maxiter=5, **kwargs)


def test_one_int_is_one_hidden_layer(small):
    X, y = small
    assert fastnn.train(X, y, hidden=7, maxiter=3).layers == (400, 7, 10)


@pytest.mark.parametrize("label", [10**9, 1e5, 2**16])
def test_a_label_that_would_make_a_huge_network_is_refused(small, label):
    X, y = small
    y = y.astype(type(label))
    y[0] = label
    with pytest.raises(ValueError, match="relabel the classes"):
        fastnn.train(X, y)


@pytest.mark.parametrize("lam, method", [(1e300, "L-BFGS-B"), (1e308, "L-BFGS-B"), (1e300, "gd")])
def test_an_overflowing_cost_stops_with_the_cause_and_finite_params(small, lam, method):
    X, y = small
    result = fastnn.train(X, y, hidden=(5,), lam=lam, method=method, maxiter=20)
    assert result.stopped == "non-finite" and f"lam = {lam:g}" in result.message
    assert np.isfinite(result.params).all()
    assert result.cost == pytest.approx(
        fastnn.cost_grad(result.params, result.layers, X, y, lam)[0], rel=1e-12)


def test_a_failed_optimizer_is_not_reported_as_maxiter(small, monkeypatch):
    """What scipy says of a failure is kept; the cost reported is the cost of params."""
    from scipy import optimize

    X, y = small
    honest = optimize.minimize

    def failing(*args, **kwargs):
        result = honest(*args, **{**kwargs, "options": {"maxiter": 3}})
        result.success, result.nit, result.fun = False, 3, 0.0
        result.message = "ABNORMAL: line search failed"
        return result

    monkeypatch.setattr(optimize, "minimize", failing)
    result = fastnn.train(X, y, hidden=(5,), maxiter=50)
    assert result.stopped == "failed" and "ABNORMAL" in result.message
    J = fastnn.cost_grad(result.params, result.layers, X, y, 1.0)[0]
    assert J > 0 and result.cost == pytest.approx(J, rel=1e-12)


def test_float32_overflow_of_X_is_refused_not_leaked(small):
    X, y = small
    X = X.copy()
    X[3, 7] = 1e39  # finite in float64, inf in float32
    with pytest.raises(ValueError, match="beyond float32's range"):
        fastnn.train(X, y, dtype=np.float32, maxiter=5)


def test_relu_softmax_training_reaches_high_accuracy(digits):
    X, y = digits
    result = fastnn.train(X, y, hidden=(64,), lam=1.0, maxiter=150, activation="relu",
                          output="softmax", validation=0.2)
    assert result.scoring == "accuracy" and result.train_accuracy > 0.97
    assert result.validation_accuracy > 0.9


def test_identity_outputs_train_on_real_targets_and_report_r2():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (400, 3))
    y = np.column_stack([np.sin(2 * X[:, 0]), X[:, 1] * X[:, 2]])
    result = fastnn.train(X, y, hidden=(16,), lam=1e-4, activation="tanh", output="identity",
                          validation=0.25, seed=1)
    assert result.layers == (3, 16, 2) and result.scoring == "r2"
    assert result.train_accuracy is None and result.validation_accuracy is None
    fit = np.setdiff1d(np.arange(400), result.validation_rows)
    predicted = fastnn.outputs(result.params, result.layers, X, activation="tanh",
                               output="identity")
    for rows, score in [(fit, result.train_score), (result.validation_rows,
                                                    result.validation_score)]:
        residual = ((y[rows] - predicted[rows]) ** 2).sum(axis=0)
        total = ((y[rows] - y[rows].mean(axis=0)) ** 2).sum(axis=0)
        assert score == pytest.approx(np.mean(1 - residual / total), rel=1e-12)
    assert result.validation_score > 0.95


def test_sample_weights_train_as_repeated_rows(small):
    X, y = small
    counts = np.random.default_rng(3).integers(0, 3, len(y))
    weighted = fastnn.train(X, y, hidden=8, maxiter=5, sample_weight=counts)
    repeated = fastnn.train(np.repeat(X, counts, axis=0), np.repeat(y, counts), hidden=8,
                            maxiter=5, n_classes=weighted.layers[-1])
    np.testing.assert_allclose(weighted.costs, repeated.costs, rtol=1e-10)
