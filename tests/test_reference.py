"""The numpy reference against hand-derived values and central differences."""

import numpy as np
import pytest

import fastnn
from fastnn import reference
from conftest import central_differences, problem, rel_diff

LN3 = np.log(3.0)


def test_sigmoid_gradient_matches_course_values():
    z = np.array([-1, -0.5, 0, 0.5, 1])
    expected = [0.196612, 0.235004, 0.25, 0.235004, 0.196612]
    np.testing.assert_allclose(reference.sigmoid_gradient(z), expected, atol=5e-7)


def test_cost_and_gradient_by_hand():
    # layers (1, 2): Theta = [[ln3, 0], [0, ln3]], x = 1, label 1, so z = [ln3, ln3] and
    # h = sigma(ln3) = 3/4 for both units. Y = [0, 1]:
    #   J = -(log(1 - 3/4) + log(3/4)) = log 4 - log(3/4) = log(16/3).
    # lam = 2, m = 1: the penalty is lam/2 * (0^2 + ln3^2), the bias ln3 excluded.
    # grad = (h - Y) outer [1, x] = [[3/4, 3/4], [-1/4, -1/4]] plus lam * [[0, 0], [0, ln3]].
    params = np.array([LN3, 0.0, 0.0, LN3])
    X, y = np.array([[1.0]]), np.array([1])
    J, grad = reference.cost_grad(params, (1, 2), X, y, lam=2.0)
    assert J == pytest.approx(np.log(16 / 3) + LN3**2, rel=1e-14)
    np.testing.assert_allclose(grad, [0.75, 0.75, -0.25, -0.25 + 2 * LN3], rtol=1e-14)


@pytest.mark.parametrize("layers", [(4, 3), (5, 4, 3), (6, 5, 4, 3)],
                         ids=["depth2", "depth3", "depth4"])
@pytest.mark.parametrize("lam", [0.0, 3.0])
def test_gradient_matches_central_differences(layers, lam):
    params, X, y = problem(layers, m=7, seed=len(layers))
    _, grad = reference.cost_grad(params, layers, X, y, lam)
    numerical = central_differences(lambda p: reference.cost_grad(p, layers, X, y, lam)[0], params)
    assert rel_diff(grad, numerical) < 1e-9


def test_penalty_excludes_biases():
    layers = (3, 4, 2)
    params, X, y = problem(layers, m=5)
    lam, m = 1.7, 5
    weights = sum(np.sum(t[:, 1:] ** 2) for t in fastnn.unpack(params, layers))
    J0, g0 = reference.cost_grad(params, layers, X, y, 0.0)
    J1, g1 = reference.cost_grad(params, layers, X, y, lam)
    assert J1 - J0 == pytest.approx(lam / (2 * m) * weights, rel=1e-12)
    for d, t in zip(fastnn.unpack(g1 - g0, layers), fastnn.unpack(params, layers)):
        np.testing.assert_array_equal(d[:, 0], 0.0)
        np.testing.assert_allclose(d[:, 1:], lam / m * t[:, 1:], rtol=1e-12)


@pytest.mark.parametrize("z", [800.0, -800.0])
def test_saturated_output_gives_large_finite_cost(z):
    # One output unit (one class) with bias z: the target is 1, so the loss is
    # -log sigma(z) = log(1 + exp(-z)): 800 for z = -800 (not inf), exp(-800) ~ 0 for z = 800.
    params = np.array([z, 0.0])
    J, grad = reference.cost_grad(params, (1, 1), np.array([[0.0]]), np.array([0]))
    assert J == pytest.approx(max(-z, 0.0), abs=1e-12)
    assert np.isfinite(grad).all()


def test_forward_shapes_and_predict_agree():
    layers = (5, 4, 3, 2)
    params, X, _ = problem(layers, m=6)
    acts = reference.forward(params, layers, X)
    assert [a.shape for a in acts] == [(6, 5), (6, 4), (6, 3), (6, 2)]
    np.testing.assert_array_equal(reference.predict(params, layers, X), acts[-1].argmax(axis=1))


# --- activations, outputs and sample weights (the oracle of the kernels that gain them) ----

COMBINATIONS = [(a, o) for a in reference.ACTIVATIONS for o in reference.OUTPUTS]


def targets_for(output, layers, m, seed):
    """Labels for logistic and softmax outputs, real targets (m, K) for identity outputs."""
    rng = np.random.default_rng(seed)
    if output == "identity":
        return rng.standard_normal((m, layers[-1]))
    return rng.integers(0, layers[-1], m)


@pytest.mark.parametrize("activation, output", COMBINATIONS, ids="-".join)
@pytest.mark.parametrize("layers", [(4, 3), (5, 4, 3), (6, 5, 4, 3)],
                         ids=["depth2", "depth3", "depth4"])
def test_every_combination_matches_central_differences(activation, output, layers):
    """With sample weights and a penalty. X is shifted so that no ReLU input sits at its
    kink within the step."""
    params, X, _ = problem(layers, m=7, seed=len(layers))
    y = targets_for(output, layers, 7, seed=1)
    weights = np.random.default_rng(2).uniform(0.2, 3.0, 7)

    def cost_grad(p):
        return reference.cost_grad(p, layers, X - 0.3, y, 0.9, activation=activation,
                                   output=output, sample_weight=weights)

    numerical = central_differences(lambda p: cost_grad(p)[0], params)
    assert rel_diff(cost_grad(params)[1], numerical) < 1e-8


@pytest.mark.parametrize("activation, output", COMBINATIONS, ids="-".join)
def test_integer_sample_weights_equal_repeated_rows(activation, output):
    layers = (5, 4, 3)
    params, X, _ = problem(layers, m=6, seed=3)
    y = targets_for(output, layers, 6, seed=4)
    counts = np.array([1, 3, 0, 2, 1, 4])
    weighted = reference.cost_grad(params, layers, X, y, 0.5, activation=activation,
                                   output=output, sample_weight=counts)
    repeated = reference.cost_grad(params, layers, np.repeat(X, counts, axis=0),
                                   np.repeat(y, counts, axis=0), 0.5, activation=activation,
                                   output=output)
    assert weighted[0] == pytest.approx(repeated[0], rel=1e-12)
    np.testing.assert_allclose(weighted[1], repeated[1], rtol=1e-12, atol=1e-15)


def test_softmax_and_squared_error_by_hand():
    # layers (1, 2), Theta = [[0, 0], [ln3, 0]]: z = [0, ln3] for any x, so the softmax is
    # [1/4, 3/4]. Label 0: loss = log 4. Squared error against Y = [1, 2]:
    # ((0 - 1)^2 + (ln3 - 2)^2) / 2, delta = z - Y.
    params, X = np.array([0.0, 0.0, LN3, 0.0]), np.array([[1.0]])
    J, grad = reference.cost_grad(params, (1, 2), X, np.array([0]), output="softmax")
    assert J == pytest.approx(np.log(4.0), rel=1e-14)
    np.testing.assert_allclose(grad, [-0.75, -0.75, 0.75, 0.75], rtol=1e-14)
    J, grad = reference.cost_grad(params, (1, 2), X, np.array([[1.0, 2.0]]), output="identity")
    assert J == pytest.approx((1 + (LN3 - 2) ** 2) / 2, rel=1e-14)
    np.testing.assert_allclose(grad, [-1, -1, LN3 - 2, LN3 - 2], rtol=1e-14)
    np.testing.assert_allclose(reference.predict_proba(params, (1, 2), X, output="softmax"),
                               [[0.25, 0.75]], rtol=1e-14)


@pytest.mark.parametrize("activation, expected", [
    ("logistic", [1 / (1 + np.e), 1 / (1 + np.exp(-2.0))]), ("tanh", [np.tanh(-1.0), np.tanh(2.0)]),
    ("relu", [0.0, 2.0]), ("identity", [-1.0, 2.0])])
def test_hidden_activations_by_hand(activation, expected):
    # layers (1, 2, 1), x = 1, no biases: the hidden units' z = [-1, 2]
    params = fastnn.pack([np.array([[0.0, -1.0], [0.0, 2.0]]), np.zeros((1, 3))])
    a = reference.forward(params, (1, 2, 1), np.array([[1.0]]), activation=activation)[1]
    np.testing.assert_allclose(a[0], expected, rtol=1e-15)


@pytest.mark.parametrize("output", ["softmax", "identity"])
def test_saturated_outputs_give_finite_costs(output):
    """z of +-800 in a softmax (exp would overflow) and ReLU units of 1e150 under squared
    error: finite costs and gradients."""
    layers = (1, 2, 2)
    hidden = np.array([[0.0, 1e150], [0.0, 1.0]])
    out = np.array([[800.0, 0.0, 0.0], [-800.0, 0.0, 0.0]]) if output == "softmax" else \
        np.array([[0.0, 1e-150, 0.0], [0.0, 0.0, 1.0]])
    params = fastnn.pack([hidden, out])
    y = np.array([1]) if output == "softmax" else np.array([[0.0, 0.0]])
    J, grad = reference.cost_grad(params, layers, np.array([[1.0]]), y, activation="relu",
                                  output=output)
    assert np.isfinite(J) and np.isfinite(grad).all()
    if output == "softmax":  # label 1 at z = [800, -800]: loss 1600
        assert J == pytest.approx(1600.0, rel=1e-12)
