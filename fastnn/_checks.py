"""Input validation shared by every public entry point.

Each check names the argument it rejects and what was expected, and runs before any kernel.
Each returns the value in the form the kernels want, converting once and copying only when
the input is not already in that form (inputs are never modified).
"""

import numbers
import operator

import numpy as np

DTYPES = (np.float64, np.float32)


def check_dtype(dtype):
    """Return np.float64 or np.float32 for a dtype-like, else TypeError."""
    try:
        dt = np.dtype(dtype).type
    except TypeError:
        dt = None
    if dt not in DTYPES:
        raise TypeError(f"dtype must be np.float64 or np.float32, got {dtype!r}")
    return dt


def check_layers(layers):
    """Return layers as a tuple of ints; at least 2 sizes, each >= 1."""
    try:
        sizes = tuple(operator.index(s) for s in layers)
    except TypeError:
        raise TypeError(f"layers must be a sequence of ints, got {layers!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"layers must have at least 2 sizes (input, output), got {sizes}")
    if min(sizes) < 1:
        raise ValueError(f"layers sizes must all be >= 1, got {sizes}")
    return sizes


def _real_array(a, name):
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer)
                                   or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def _check_finite(arr, name):
    # Integers are always finite. Summing first costs no temporary (in arr's own dtype: a
    # float64 sum of float32 would convert in buffers): any nan/inf makes the sum non-finite.
    # Only when it is (or the sum overflowed) do we pay for the element-wise test.
    if arr.dtype.kind == "f" and not np.isfinite(np.sum(arr)) and not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, found nan or inf")


def check_params(params, size, name="params"):
    """Return params as a C-contiguous float64 vector of the given length."""
    arr = _real_array(params, name)
    if arr.ndim != 1 or arr.shape[0] != size:
        raise ValueError(f"{name} must be a 1-D vector of length {size}, got shape {arr.shape}")
    _check_finite(arr, name)
    return np.ascontiguousarray(arr, dtype=np.float64)


def check_X(X, n_features=None, dtype=np.float64):
    """Return X as a C-contiguous (m, n_features) array of dtype (any width for None); m >= 1,
    all finite."""
    arr = _real_array(X, "X")
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (rows, features), got {arr.ndim}-D. Reshape your "
                         "data: X.reshape(1, -1) for one row, X.reshape(-1, 1) for one feature")
    if arr.shape[0] == 0:
        raise ValueError("X must have at least one row, got an empty batch")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"X must have {n_features} features (columns) to match layers[0], "
                         f"got {arr.shape[1]}")
    _check_finite(arr, "X")
    return np.ascontiguousarray(arr, dtype=dtype)


def check_y(y, m, n_classes=None):
    """Return labels as an int64 vector of length m with values in 0..n_classes-1 (any
    non-negative values for None)."""
    arr = _real_array(y, "y")
    if arr.ndim != 1 or arr.shape[0] != m:
        raise ValueError(f"y must be a 1-D vector of {m} labels (one per row of X), "
                         f"got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
            raise TypeError("y must hold integer labels; got non-integral floats")
    labels = arr.astype(np.int64)
    lo, hi = labels.min(), labels.max()
    if n_classes is None and lo < 0:
        raise ValueError(f"y labels must be >= 0, got values in {lo}..{hi}")
    if n_classes is not None and (lo < 0 or hi >= n_classes):
        raise ValueError(f"y labels must lie in 0..{n_classes - 1} (layers[-1] = {n_classes} "
                         f"classes), got values in {lo}..{hi}")
    return labels


def check_lam(lam):
    """Return the regularisation strength as a float; finite and >= 0."""
    if not isinstance(lam, numbers.Real) or isinstance(lam, bool):
        raise TypeError(f"lam must be a real number, got {type(lam).__name__}")
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be finite and >= 0, got {lam}")
    return float(lam)
