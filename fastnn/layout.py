"""The flat parameter layout: one vector holds every weight matrix.

A network ``layers = (s1, ..., sL)`` has L-1 weight matrices; Theta_l has shape
``(s_{l+1}, s_l + 1)`` with the bias in column 0. ``params`` is Theta_1 unrolled row-major,
then Theta_2, and so on (the numpy notebooks' order; MATLAB files are converted on loading).
"""

import functools

import numpy as np

from ._checks import ACTIVATIONS, check_choice, check_layers


def shapes(layers):
    """Shapes ``(s_{l+1}, s_l + 1)`` of the weight matrices of ``layers``."""
    layers = check_layers(layers)
    return [(n_out, n_in + 1) for n_in, n_out in zip(layers[:-1], layers[1:])]


def n_params(layers):
    """Number of weights (biases included) of the network ``layers``.

    >>> n_params((400, 25, 10))
    10285
    """
    return sum(r * c for r, c in shapes(layers))


@functools.lru_cache(maxsize=32)
def weight_mask(layers):
    """1.0 where params holds a weight, 0.0 where it holds a bias (read-only), for a tuple
    ``layers``: the L2 penalty's mask."""
    mask = np.ones(n_params(layers))
    for theta in unpack(mask, layers):
        theta[:, 0] = 0.0
    mask.flags.writeable = False
    return mask


def unpack(params, layers):
    """Views of ``params`` as the weight matrices ``[Theta_1, ..., Theta_{L-1}]``.

    The views share memory with ``params``: writing to them writes to ``params``.
    """
    params = np.asarray(params)
    size = n_params(layers)
    if params.ndim != 1 or params.shape[0] != size:
        raise ValueError(f"params must be a 1-D vector of length {size}, got shape {params.shape}")
    thetas, start = [], 0
    for rows, cols in shapes(layers):
        thetas.append(params[start:start + rows * cols].reshape(rows, cols))
        start += rows * cols
    return thetas


def pack(thetas):
    """Unroll weight matrices (each ``(s_{l+1}, s_l + 1)``, row-major) into one float64 vector."""
    mats = [np.asarray(t, dtype=np.float64) for t in thetas]
    if not mats or any(t.ndim != 2 for t in mats):
        raise ValueError("thetas must be a non-empty sequence of 2-D weight matrices")
    for l, (a, b) in enumerate(zip(mats[:-1], mats[1:]), start=1):
        if b.shape[1] != a.shape[0] + 1:
            raise ValueError(f"thetas do not chain: Theta_{l} has {a.shape[0]} rows, so "
                             f"Theta_{l + 1} needs {a.shape[0] + 1} columns, got {b.shape[1]}")
    return np.concatenate([t.ravel() for t in mats])


def layers_of(thetas):
    """The layer sizes implied by a chain of weight matrices."""
    return (thetas[0].shape[1] - 1,) + tuple(t.shape[0] for t in thetas)


def init_params(layers, seed=None, epsilon=None, activation="logistic"):
    """Random symmetry-breaking weights (biases too), float64: uniform in ``[-epsilon,
    epsilon]``; by default epsilon = 0.12 (the course's) for logistic units, else Glorot's
    range per layer, sqrt(6 / (s_l + s_(l+1))), as scikit-learn's MLPs draw them."""
    check_choice(activation, "activation", ACTIVATIONS)
    rng = np.random.default_rng(seed)
    if epsilon is not None or activation == "logistic":
        bound = 0.12 if epsilon is None else epsilon
        return rng.uniform(-bound, bound, n_params(layers))
    bounds = np.concatenate([np.full(rows * columns, np.sqrt(6 / (rows + columns - 1)))
                             for rows, columns in shapes(layers)])
    return rng.uniform(-1, 1, bounds.size) * bounds


def debug_params(layers):
    """Deterministic weights for gradient checks.

    Entry i (0-based) of each Theta, counted in column-major order, is ``sin(i + 1) / 10``.
    """
    return pack([np.sin(np.arange(1, r * c + 1)).reshape(r, c, order="F") / 10
                 for r, c in shapes(layers)])
