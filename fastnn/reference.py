"""The network's maths in plain vectorised numpy: the oracle for tests, the benchmark baseline.

Mirrors the public names of :mod:`fastnn` (``cost_grad``, ``outputs``, ``predict_proba``,
``predict``); ``forward`` gives every layer's activations. Clarity over speed; no validation
(pass arrays of the right shapes).
Conventions: X is ``(m, s1)``, labels y are ints in ``0..K-1`` with ``K = layers[-1]``,
params is the flat row-major layout of :mod:`fastnn.layout`.
"""

import numpy as np
from scipy.special import expit, log_expit

from .layout import unpack


def sigmoid_gradient(z):
    """sigma'(z) = sigma(z) (1 - sigma(z))."""
    s = expit(z)
    return s * (1 - s)


def _with_bias(a):
    return np.hstack([np.ones((a.shape[0], 1), dtype=a.dtype), a])


def _pre_activations(thetas, X):
    """Inputs [1, a_l] of every layer and the output pre-activation z_L."""
    inputs = [_with_bias(X)]
    for theta in thetas[:-1]:
        inputs.append(_with_bias(expit(inputs[-1] @ theta.T)))
    return inputs, inputs[-1] @ thetas[-1].T


def forward(params, layers, X, dtype=np.float64):
    """Activations ``[a_1 = X, a_2, ..., a_L]`` (no bias columns); a_l is ``(m, s_l)``."""
    thetas = [t.astype(dtype) for t in unpack(params, layers)]
    inputs, z = _pre_activations(thetas, np.asarray(X, dtype=dtype))
    return [a[:, 1:] for a in inputs] + [expit(z)]


def outputs(params, layers, X, dtype=np.float64):
    """Output activations h, ``(m, K)``: independent sigmoids, rows need not sum to 1."""
    return forward(params, layers, X, dtype)[-1]


def predict_proba(params, layers, X, dtype=np.float64):
    """h normalised per row, ``(m, K)`` float64: p_k = h_k / sum_j h_j."""
    h = outputs(params, layers, X, dtype).astype(np.float64)
    return h / h.sum(axis=1, keepdims=True)


def predict(params, layers, X, dtype=np.float64):
    """The output unit of each row with the largest pre-activation z (the most active unit,
    saturated ones told apart), ``(m,)`` int64 labels."""
    thetas = [t.astype(dtype) for t in unpack(params, layers)]
    return np.argmax(_pre_activations(thetas, np.asarray(X, dtype=dtype))[1], axis=1)


def cost_grad(params, layers, X, y, lam=0.0, dtype=np.float64):
    """Regularised cross-entropy J and its gradient (flat, like params), by backprop.

    J = -(1/m) sum(Y log h + (1-Y) log(1-h)) + lam/(2m) sum_l ||Theta_l[:, 1:]||^2,
    with the log terms as log-sigmoids of the output pre-activation z (finite when saturated).
    """
    thetas = [t.astype(dtype) for t in unpack(params, layers)]
    X = np.asarray(X, dtype=dtype)
    m = X.shape[0]
    Y = np.eye(layers[-1], dtype=dtype)[y]
    inputs, z = _pre_activations(thetas, X)

    J = -np.sum(Y * log_expit(z) + (1 - Y) * log_expit(-z), dtype=np.float64) / m
    J += lam / (2 * m) * sum(np.sum(t[:, 1:] ** 2, dtype=np.float64) for t in thetas)

    grads = []
    delta = np.where(Y == 1, -expit(-z), expit(z))  # dJ/dz_L times m: sigma(z) - Y, as
    # -sigma(-z) where Y = 1, which keeps its precision when sigma(z) is close to 1
    for l in reversed(range(len(thetas))):
        grad = (delta.T @ inputs[l]).astype(np.float64) / m
        grad[:, 1:] += lam / m * thetas[l][:, 1:]
        grads.append(grad)
        if l > 0:
            a = inputs[l][:, 1:]
            delta = (delta @ thetas[l][:, 1:]) * a * (1 - a)
    return float(J), np.concatenate([g.ravel() for g in reversed(grads)])
