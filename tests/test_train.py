"""Training: every method, validation splits, callbacks, faults, the lambda sweep."""

import numpy as np
import pytest

import fastnn
from fastnn import network
from fastnn.train import GRADIENT_METHODS
from conftest import DTYPES, problem


@pytest.fixture(scope="module")
def small(digits):
    """600 digits (60 per class): quick to train, real enough to learn."""
    X, y = digits
    keep = np.concatenate([np.flatnonzero(y == k)[:60] for k in range(10)])
    return X[keep], y[keep]


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
    ({"maxiter": 0}, "maxiter must be >= 1"),
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



def test_nan_in_the_cost_stops_the_optimizer(digits, monkeypatch):
    X, y = digits[0][::10], digits[1][::10]
    calls = []
    honest = network.Objective.__call__

    def failing(self, params):
        calls.append(1)
        J, grad = honest(self, params)
        return (np.nan, grad) if len(calls) == 6 else (J, grad)

    monkeypatch.setattr(network.Objective, "__call__", failing)
    result = fastnn.train(X, y, hidden=(8,), maxiter=50)
    assert result.stopped == "non-finite" and len(calls) == 6  # not fed back to the optimizer
    assert np.isfinite(result.params).all() and np.isfinite(result.cost)
    assert result.cost == pytest.approx(honest(network.Objective(result.layers, X, y, 1.0),
                                               result.params)[0], rel=1e-12)

