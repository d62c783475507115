"""Data loaders. MATLAB conventions (1-based labels, 10 meaning the digit 0) are converted
here, once, so the rest of fastnn sees labels 0..K-1 and row-major weights.
"""

from importlib import resources
from pathlib import Path

import numpy as np

from .layout import layers_of, pack


def _bundled(name):
    """A file of ``data/``: package data when installed, the repository's folder otherwise."""
    try:
        return resources.files("fastnn._data").joinpath(name)
    except ModuleNotFoundError:  # running from a source checkout
        return Path(__file__).resolve().parent.parent / "data" / name


def load_digits():
    """The bundled 5000 real handwritten digits (MNIST, 500 per class), as in the course.

    Returns
    -------
    X : (5000, 400) float64, C-contiguous, values in [0, 1] (1 = ink). Each row is a 20x20
        image unrolled column-major: ``X[i].reshape(20, 20, order="F")`` is upright.
    y : (5000,) int64 labels 0..9.
    """
    with _bundled("digits.npz").open("rb") as fh:
        with np.load(fh, allow_pickle=False) as data:
            X = np.ascontiguousarray(data["X"], dtype=np.float64) / 255.0
            y = data["y"].astype(np.int64)
    return X, y


def _loadmat(path, names):
    """The named variables of a .mat file; clear errors for unreadable files or missing names."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    import scipy.io  # 0.35 s to import: only .mat files need it

    try:
        contents = scipy.io.loadmat(path)
    except Exception as err:  # a hostile file can fail deep inside scipy in many ways
        raise ValueError(f"{path}: not a readable MATLAB .mat file "
                         f"({type(err).__name__}: {err})") from None
    missing = [n for n in names if n not in contents]
    if missing:
        found = sorted(k for k in contents if not k.startswith("__"))
        raise ValueError(f"{path}: missing variable(s) {missing}; found {found}")
    return contents


def course_labels(y):
    """Map the course's labels (1..10, where 10 is the digit 0) to 0..9; others are kept."""
    y = np.asarray(y).ravel()
    return np.where(y == 10, 0, y) if y.size and y.min() == 1 and y.max() == 10 else y


def load_mat(path):
    """X and y from a MATLAB data file such as the course's ``ex4data1.mat``.

    Labels 1..10 (10 meaning the digit 0) become 0..9; other integer labels are kept.
    Returns X ``(m, n)`` float64 C-contiguous and y ``(m,)`` int64.
    """
    data = _loadmat(path, ["X", "y"])
    X, y = np.asarray(data["X"]), np.asarray(data["y"]).ravel()
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{path}: X must be a 2-D numeric matrix, got {X.dtype} {X.shape}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{path}: y has {y.shape[0]} labels for {X.shape[0]} rows of X")
    if not np.issubdtype(y.dtype, np.number) or (y != np.round(y)).any():
        raise ValueError(f"{path}: y must hold integer labels")
    if y.size and y.min() < 0:
        raise ValueError(f"{path}: y labels must be >= 0, found {y.min()}")
    if not np.isfinite(X).all():
        raise ValueError(f"{path}: X holds nan or inf")
    return np.ascontiguousarray(X, dtype=np.float64), course_labels(y).astype(np.int64)


def load_mat_weights(path, course_output=True):
    """``(params, layers)`` from a MATLAB weights file with Theta1, Theta2, ...
    (``ex4weights.mat``).

    With ``course_output`` and 10 output units, the output rows are reordered from the course's
    "unit 10 is the digit 0" to fastnn's "output k is label k".
    """
    first = _loadmat(path, ["Theta1", "Theta2"])
    names = [f"Theta{l}" for l in range(1, 100) if f"Theta{l}" in first]
    thetas = [np.asarray(first[n], dtype=np.float64) for n in names]
    try:
        params = pack(thetas)
    except ValueError as err:
        raise ValueError(f"{path}: inconsistent weight shapes: {err}") from None
    layers = layers_of(thetas)
    if course_output and layers[-1] == 10:
        thetas[-1] = np.roll(thetas[-1], 1, axis=0)
        params = pack(thetas)
    return params, layers
