"""The network's maths in plain vectorised numpy: the oracle for tests, the benchmark baseline.

Mirrors the public names of :mod:`fastnn` (``cost_grad``, ``outputs``, ``predict_proba``,
``predict``); ``forward`` gives every layer's activations. Clarity over speed; no validation
(pass arrays of the right shapes).
Conventions: X is ``(m, s1)``, labels y are ints in ``0..K-1`` with ``K = layers[-1]``,
params is the flat row-major layout of :mod:`fastnn.layout`.

Hidden units: ``activation`` in ACTIVATIONS (scikit-learn's names), the same in every hidden
layer. Outputs and their losses, with z the output pre-activations:

- "logistic": K independent sigmoids, binary cross-entropy per unit (the course's network);
- "softmax": categorical cross-entropy, ``log-sum-exp(z) - z_y``;
- "identity": squared error ``||z - Y||^2 / 2``, y real targets ``(m, K)`` (or ``(m,)``).

With sample weights s (default all 1) and W the weights without biases:
``J = (1 / sum s) sum_i s_i loss_i + lam / (2 sum s) ||W||^2`` (scikit-learn's definition:
integer weights equal repeated rows).
"""

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax

from .layout import unpack

ACTIVATIONS = ("logistic", "tanh", "relu", "identity")
OUTPUTS = ("logistic", "softmax", "identity")


def sigmoid_gradient(z):
    """sigma'(z) = sigma(z) (1 - sigma(z))."""
    s = expit(z)
    return s * (1 - s)


def activate(activation, z):
    """The hidden units' activations a = f(z)."""
    if activation == "logistic":
        return expit(z)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "relu":
        return np.maximum(z, 0)
    return z


def slope(activation, a):
    """f'(z) from a = f(z): a (1 - a), 1 - a^2, [a > 0] (0 at z = 0) or 1."""
    if activation == "logistic":
        return a * (1 - a)
    if activation == "tanh":
        return 1 - a * a
    if activation == "relu":
        return (a > 0).astype(a.dtype)
    return np.ones_like(a)


def _with_bias(a):
    return np.hstack([np.ones((a.shape[0], 1), dtype=a.dtype), a])


def _pre_activations(thetas, X, activation):
    """Inputs [1, a_l] of every layer and the output pre-activation z_L."""
    inputs = [_with_bias(X)]
    for theta in thetas[:-1]:
        inputs.append(_with_bias(activate(activation, inputs[-1] @ theta.T)))
    return inputs, inputs[-1] @ thetas[-1].T


def _output(output, z):
    """The output units' values from z: sigmoids, the softmax, or z itself."""
    if output == "logistic":
        return expit(z)
    if output == "softmax":
        return softmax(z, axis=1)
    return z


def forward(params, layers, X, dtype=np.float64, activation="logistic", output="logistic"):
    """Activations ``[a_1 = X, a_2, ..., a_L]`` (no bias columns); a_l is ``(m, s_l)``."""
    thetas = [t.astype(dtype) for t in unpack(params, layers)]
    inputs, z = _pre_activations(thetas, np.asarray(X, dtype=dtype), activation)
    return [a[:, 1:] for a in inputs] + [_output(output, z)]


def outputs(params, layers, X, dtype=np.float64, activation="logistic", output="logistic"):
    """Output units ``(m, K)``: independent sigmoids (rows need not sum to 1), the softmax, or
    z for identity outputs."""
    return forward(params, layers, X, dtype, activation, output)[-1]


def predict_proba(params, layers, X, dtype=np.float64, activation="logistic",
                  output="logistic"):
    """Class probabilities ``(m, K)`` float64: the softmax, or independent sigmoids normalised
    per row, p_k = h_k / sum_j h_j."""
    h = outputs(params, layers, X, dtype, activation, output).astype(np.float64)
    return h / h.sum(axis=1, keepdims=True)


def predict(params, layers, X, dtype=np.float64, activation="logistic"):
    """The output unit of each row with the largest pre-activation z (the most active unit,
    saturated ones told apart), ``(m,)`` int64 labels: for logistic and softmax outputs."""
    thetas = [t.astype(dtype) for t in unpack(params, layers)]
    return np.argmax(_pre_activations(thetas, np.asarray(X, dtype=dtype), activation)[1],
                     axis=1)


def targets(output, y, K, dtype):
    """Y ``(m, K)``: one-hot labels for logistic and softmax outputs, y itself for identity
    outputs ((m,) made a column)."""
    if output == "identity":
        return np.asarray(y, dtype=dtype).reshape(len(y), K)
    return np.eye(K, dtype=dtype)[y]


def losses(output, z, Y):
    """Each row's loss ``(m,)`` float64, in forms that stay finite where units saturate."""
    if output == "logistic":
        return -np.sum(Y * log_expit(z) + (1 - Y) * log_expit(-z), axis=1, dtype=np.float64)
    if output == "softmax":
        return -np.sum(Y * log_softmax(z, axis=1), axis=1, dtype=np.float64)
    return 0.5 * np.sum((z - Y) ** 2, axis=1, dtype=np.float64)


def output_delta(output, z, Y):
    """d loss_i / d z_i: sigma(z) - Y, softmax(z) - Y or z - Y."""
    if output == "logistic":  # -sigma(-z) where Y = 1 keeps its precision near sigma = 1
        return np.where(Y == 1, -expit(-z), expit(z) - Y)
    return _output(output, z) - Y


def cost_grad(params, layers, X, y, lam=0.0, dtype=np.float64, activation="logistic",
              output="logistic", sample_weight=None):
    """Regularised loss J and its gradient (flat, like params), by backprop.

    For the defaults, J = -(1/m) sum(Y log h + (1-Y) log(1-h)) + lam/(2m) sum_l
    ||Theta_l[:, 1:]||^2, with the log terms as log-sigmoids of the output pre-activation z
    (finite when saturated); the module's docstring has the other outputs and the weights.
    """
    thetas = [t.astype(dtype) for t in unpack(params, layers)]
    X = np.asarray(X, dtype=dtype)
    s = (np.ones(X.shape[0]) if sample_weight is None
         else np.asarray(sample_weight, dtype=np.float64))
    total = s.sum()
    Y = targets(output, y, layers[-1], dtype)
    inputs, z = _pre_activations(thetas, X, activation)

    J = np.dot(s, losses(output, z, Y)) / total
    J += lam / (2 * total) * sum(np.sum(t[:, 1:] ** 2, dtype=np.float64) for t in thetas)

    grads = []
    delta = output_delta(output, z, Y) * s[:, None].astype(dtype)  # dJ/dz_L times sum s
    for l in reversed(range(len(thetas))):
        grad = (delta.T @ inputs[l]).astype(np.float64) / total
        grad[:, 1:] += lam / total * thetas[l][:, 1:]
        grads.append(grad)
        if l > 0:
            delta = (delta @ thetas[l][:, 1:]) * slope(activation, inputs[l][:, 1:])
    return float(J), np.concatenate([g.ravel() for g in reversed(grads)])
