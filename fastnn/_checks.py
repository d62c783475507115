"""Input validation shared by every public entry point.

Each check names the argument it rejects and what was expected, and runs before any kernel.
Each returns the value in the form the kernels want, converting once and copying only when
the input is not already in that form (inputs are never modified).
"""

import numbers
import operator

import numpy as np

DTYPES = (np.float64, np.float32)
ACTIVATIONS = ("logistic", "tanh", "relu", "identity")  # scikit-learn's names
OUTPUTS = ("logistic", "softmax", "identity")


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
    sizes = _sizes(layers, "layers must be a sequence of ints", "layers sizes")
    if len(sizes) < 2:
        raise ValueError(f"layers must have at least 2 sizes (input, output), got {sizes}")
    return sizes


def check_hidden(hidden):
    """Return hidden layer sizes as a tuple of ints >= 1; one int means one hidden layer."""
    return _sizes((hidden,) if isinstance(hidden, numbers.Integral) else hidden,
                  "hidden must be an int or a sequence of ints (hidden layer sizes)",
                  "hidden layer sizes")


def _sizes(values, expected, name):
    """values as a tuple of ints >= 1: a TypeError saying what was ``expected``, else a
    ValueError naming the ``name`` at fault."""
    try:
        sizes = tuple(operator.index(s) for s in values)
    except TypeError:
        raise TypeError(f"{expected}, got {values!r}") from None
    if sizes and min(sizes) < 1:
        raise ValueError(f"{name} must all be >= 1, got {sizes}")
    return sizes


def check_count(value, name, minimum=1):
    """Return value as an int >= minimum (any integer type; not a float)."""
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if count < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {count}")
    return count


def check_choice(value, name, choices):
    """Return value if it is one of choices, else a ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def _real_array(a, name):
    """a as a numeric array, else a TypeError that says what a is and what to pass."""
    if _is_sparse(a):
        raise TypeError(f"{name} is a scipy.sparse {type(a).__name__}: pass a dense array "
                        f"({name}.toarray())")
    arr = np.asarray(a)
    if arr.dtype == object:
        raise TypeError(f"{name} must hold real numbers, got dtype object{_what_it_holds(a)}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def _what_it_holds(a):
    """What an input that numpy holds as objects is, and what to pass instead."""
    columns = getattr(a, "dtypes", None)  # a DataFrame: name the columns at fault
    if columns is None or not hasattr(columns, "items"):
        return ""
    text = [c for c, t in columns.items() if getattr(t, "kind", "O") not in "biuf"]
    if text:
        return f": columns {text} of the DataFrame are not numeric; drop or encode them"
    return (": a DataFrame of pandas' nullable dtypes (" +
            ", ".join(sorted({str(t) for t in columns})) +
            "); pass df.to_numpy(dtype=float) (after filling any missing values)")


def _check_finite(arr, name):
    # Integers are always finite. Summing first costs no temporary (in arr's own dtype: a
    # float64 sum of float32 would convert in buffers): any nan/inf makes the sum non-finite.
    # Only when it is (or the sum overflowed) do we pay for the element-wise test.
    with np.errstate(over="ignore", invalid="ignore"):
        suspect = arr.dtype.kind == "f" and not np.isfinite(np.sum(arr))
    if suspect and not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, found nan or inf")


def check_params(params, size, name="params"):
    """Return params as a C-contiguous float64 vector of the given length."""
    arr = _real_array(params, name)
    if arr.ndim != 1 or arr.shape[0] != size:
        raise ValueError(f"{name} must be a 1-D vector of length {size}, got shape {arr.shape}")
    _check_finite(arr, name)
    return np.ascontiguousarray(arr, dtype=np.float64)


def check_X(X, n_features=None, dtype=np.float64, finite=True):
    """Return X as a C-contiguous (m, n_features) array of dtype (any width for None) or, for
    a scipy.sparse matrix or array, as ``kernels.CsrRows`` of dtype; m >= 1, all finite.
    ``finite=False`` leaves a dense X's values unchecked (nan, inf, or beyond float32's
    range), for a kernel that checks them as it reads X: on a sign of trouble, check_X with
    ``finite=True`` says what it is."""
    if _is_sparse(X):
        return _check_sparse_X(X, n_features, dtype)
    arr = _real_array(X, "X")
    check_X_shape(arr.shape, n_features)
    if not finite:
        with np.errstate(over="ignore"):  # an overflowing cast: inf, found by the kernel
            return np.ascontiguousarray(arr, dtype=dtype)
    converted = _narrowed(arr, dtype, "X", _SCALE_X, np.ascontiguousarray)
    if not _narrows(arr.dtype, converted.dtype):  # a narrowed copy was checked: one pass less
        _check_finite(converted, "X")
    return converted


def check_X_shape(shape, n_features):
    """X's shape ``(m, n)``: 2-D, m >= 1, n_features columns where given."""
    if len(shape) != 2:
        raise ValueError(f"X must be 2-D (rows, features), got {len(shape)}-D. Reshape your "
                         "data: X.reshape(1, -1) for one row, X.reshape(-1, 1) for one feature")
    if shape[0] == 0:
        raise ValueError("X must have at least one row, got an empty batch")
    if n_features is not None and shape[1] != n_features:
        raise ValueError(f"X must have {n_features} features (columns) to match layers[0], "
                         f"got {shape[1]}")


def _is_sparse(a):
    """A scipy.sparse matrix or array (told without importing scipy.sparse)."""
    return hasattr(a, "tocsr") and hasattr(a, "nnz")


def _check_sparse_X(X, n_features, dtype):
    """A scipy.sparse X as ``CsrRows`` of dtype: CSC, COO and the rest converted to CSR once,
    duplicate entries summed and indices sorted in a copy where needed (X is never changed);
    explicit zeros are kept (the kernels skip them)."""
    if X.dtype.kind not in "iuf":
        raise TypeError(f"X must hold real numbers, got a scipy.sparse {type(X).__name__} of "
                        f"dtype {X.dtype}")
    check_X_shape(X.shape, n_features)
    csr = X.tocsr()
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    _check_finite(csr.data, "X")
    return sparse_rows(csr, dtype)


def sparse_rows(csr, dtype):
    """A canonical, finite CSR matrix as ``kernels.CsrRows`` of dtype (arrays shared where
    they already have the kernels' dtypes)."""
    from .kernels import CsrRows

    data = _narrowed(csr.data, dtype, "X", _SCALE_X)
    if csr.shape[1] >= 2**31:
        raise ValueError(f"X has {csr.shape[1]} columns: at most 2**31 - 1 are supported")
    return CsrRows(data, csr.indices.astype(np.int32, copy=False),
                   csr.indptr.astype(np.int64, copy=False), np.array(csr.shape, np.int64))


def take_rows(X, index):
    """The rows ``index`` of a dense X or ``CsrRows`` (copies), in the same form."""
    if not hasattr(X, "indptr"):
        return X[index]
    import scipy.sparse

    csr = scipy.sparse.csr_matrix((X.data, X.indices, X.indptr), shape=tuple(X.shape))
    return sparse_rows(csr[index], X.data.dtype)


_SCALE_X = "pass dtype=np.float64 or scale X"


def _narrowed(original, dtype, name, remedy, convert=np.asarray):
    """``convert(original, dtype=dtype)`` (a copy only where needed), refused where a narrower
    float dtype holds a non-finite value: one the original had (nan, inf), or one where it
    overflowed. A finite sum clears it with no temporary (+inf and -inf sum to nan: no warning
    for that either)."""
    with np.errstate(over="ignore"):  # an overflowing cast is reported just below
        converted = convert(original, dtype=dtype)
    if not _narrows(original.dtype, converted.dtype):
        return converted
    with np.errstate(over="ignore", invalid="ignore"):
        overflowed = not np.isfinite(np.sum(converted))
    if overflowed and not np.isfinite(converted).all():
        _check_finite(original, name)  # nan or inf given: that is what to say
        big = np.abs(original[~np.isfinite(converted)]).max()
        raise ValueError(f"{name} holds values beyond {converted.dtype}'s range (|{name}| up to "
                         f"{big:.3g}): {remedy}")
    return converted


def _narrows(original, converted):
    """Whether a cast from dtype original to dtype converted narrows to a smaller float."""
    return converted.itemsize < original.itemsize and converted.kind == "f"


def check_in_dtype(params, dtype, name="params"):
    """float64 params in the compute dtype, refused where they overflow it (float32)."""
    return _narrowed(params, dtype, name, "pass dtype=np.float64")


def check_y(y, m, n_classes=None):
    """Return labels as an int64 vector of length m with values in 0..n_classes-1 (any
    non-negative values for None)."""
    arr = _real_array(y, "y")
    if arr.ndim != 1 or arr.shape[0] != m:
        raise ValueError(f"y must be a 1-D vector of {m} labels (one per row of X), "
                         f"got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
            raise TypeError("y must hold integer labels; got non-integral floats or nan")
        if arr.size and (arr.min() < 0 or arr.max() >= 2.0**53):  # before an int64 cast
            raise ValueError(f"y labels must be integers >= 0 (and < 2**53), got values in "
                             f"{arr.min():g}..{arr.max():g}")
    labels = arr.astype(np.int64)
    lo, hi = labels.min(), labels.max()
    if n_classes is None and lo < 0:
        raise ValueError(f"y labels must be >= 0, got values in {lo}..{hi}")
    if n_classes is not None and (lo < 0 or hi >= n_classes):
        raise ValueError(f"y labels must lie in 0..{n_classes - 1} (layers[-1] = {n_classes} "
                         f"classes), got values in {lo}..{hi}")
    return labels


def check_units(activation, output):
    """Return ``(activation, output)``, each one of ACTIVATIONS and OUTPUTS."""
    return (check_choice(activation, "activation", ACTIVATIONS),
            check_choice(output, "output", OUTPUTS))


def check_targets(y, m, n_outputs, output):
    """Return y as the targets of ``output``: int64 labels (``check_y``) for logistic and
    softmax outputs, float64 values (``check_values``) for identity outputs."""
    if output == "identity":
        return check_values(y, m, n_outputs)
    return check_y(y, m, n_outputs)


def check_values(y, m, n_outputs=None):
    """Return regression targets as a C-contiguous ``(m, n_outputs)`` float64 array (a copy):
    y ``(m,)`` for one output or ``(m, n_outputs)``, finite (any width for None)."""
    arr = _real_array(y, "y")
    if arr.ndim == 1 and n_outputs in (None, 1) and arr.shape[0] == m:
        arr = arr.reshape(m, 1)
    if arr.ndim != 2 or arr.shape[0] != m or n_outputs not in (None, arr.shape[1]):
        want = "(m,) or (m, 1)" if n_outputs == 1 else f"(m, {n_outputs or 'n_outputs'})"
        raise ValueError(f"y must hold {want} real targets, one row per row of X (m = {m}), "
                         f"got shape {arr.shape}")
    _check_finite(arr, "y")
    return np.array(arr, dtype=np.float64, order="C")


def check_sample_weight(sample_weight, m):
    """Return sample weights as a ``(m,)`` float64 vector (a copy), each finite and >= 0."""
    arr = _real_array(sample_weight, "sample_weight")
    if arr.ndim != 1 or arr.shape[0] != m:
        raise ValueError(f"sample_weight must be a 1-D vector of {m} weights (one per row of X), "
                         f"got shape {arr.shape}")
    _check_finite(arr, "sample_weight")
    if arr.size and arr.min() < 0:
        raise ValueError(f"sample_weight must be >= 0, got a minimum of {arr.min():g}")
    return np.array(arr, dtype=np.float64)


def check_seed(seed):
    """Return seed: None or an integer >= 0 (numpy's generators take no negative seeds)."""
    if seed is None:
        return None
    try:
        seed = operator.index(seed)
    except TypeError:
        raise TypeError(f"seed must be None or an integer >= 0, got {seed!r}") from None
    if seed < 0:
        raise ValueError(f"seed must be None or an integer >= 0, got {seed}")
    return seed


def check_positive(value, name, allow_none=False, allow_zero=False):
    """Return value as a float, finite and > 0 (>= 0 with allow_zero; None if allowed)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be finite and {'>=' if allow_zero else '>'} 0, "
                         f"got {value}")
    return float(value)


def check_lam(lam):
    """Return the regularisation strength as a float; finite and >= 0."""
    return check_positive(lam, "lam", allow_zero=True)
