"""Data loaders. MATLAB conventions (1-based labels, 10 meaning the digit 0) are converted
here, once, so the rest of fastnn sees labels 0..K-1 and row-major weights.
"""

from importlib import resources
from pathlib import Path

import numpy as np

from ._checks import check_X, check_y
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
    try:  # what the file holds is a value: any fault of it is a ValueError naming the file
        X = check_X(data["X"])
        return X, course_labels(check_y(np.asarray(data["y"]).ravel(), X.shape[0]))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None


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


SPARSE_NPZ = {"data", "indices", "indptr", "format", "shape"}  # what scipy.sparse.save_npz writes


def load(path=None, labels=None):
    """(X, y, description): the bundled digits, a MATLAB ``.mat``, an ``.npz`` with X, y, or
    an ``.npz`` of ``scipy.sparse.save_npz`` (X only: its labels from ``labels``, a ``.npy``
    or an ``.npz`` with y, which replace any labels of path)."""
    if path is None:
        X, y = load_digits()
        source = "the bundled digits"
    else:
        X, y = _load_file(Path(path), "X")
        source = str(path)
    if labels is not None:
        y = _load_file(Path(labels), "y")[1]
        if y is None:
            raise ValueError(f"{labels}: no array named y")
    return X, y, source


def _load_file(path, wanted):
    """(X, y) of a data file (``wanted``: "X", or "y" for a labels file, which may be .npy
    and hold no X); y None where the file has none."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".mat":
        return load_mat(path)
    if path.suffix != ".npz" and not (path.suffix == ".npy" and wanted == "y"):
        raise ValueError(f"{path}: expected a .mat or .npz data file" +
                         (" (or .npy labels)" if wanted == "y" else ""))
    try:
        with open(path, "rb") as fh:
            loaded = np.load(fh, allow_pickle=False)
            if path.suffix == ".npy":
                return None, loaded
            with loaded as f:
                names = set(f.files)
                X, y = f.get("X"), f.get("y")
            if X is None and SPARSE_NPZ <= names:
                import scipy.sparse

                fh.seek(0)
                X = scipy.sparse.load_npz(fh)
    except Exception as err:  # truncated, foreign or pickled
        raise ValueError(f"{path}: not a readable {path.suffix} file ({type(err).__name__}: "
                         f"{err})") from None
    if X is None and wanted == "X":
        raise ValueError(f"{path}: no array named X (found {sorted(names)})")
    return X, y


def file_labels(y):
    """Labels of a data file as training takes them: (m,) or the MATLAB (m, 1), integers
    (in any numeric dtype) >= 0."""
    y = np.asarray(y)
    y = y.ravel() if y.ndim == 2 and 1 in y.shape else y
    return check_y(y, y.shape[0] if y.ndim else 1)
