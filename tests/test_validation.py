"""Bad input is rejected before any computation, naming the argument (X's values for
predictions: by the forward pass's own read of X, before any result); good input in other
forms gives the same answer; inputs are never modified."""

import functools
import numpy as np
import pytest

import fastnn
from fastnn import reference
from fastnn.rows import choose_plan
from conftest import problem

LAYERS = (4, 3, 3)


@pytest.fixture
def good():
    params, X, y = problem(LAYERS, m=6)
    return dict(params=params, layers=LAYERS, X=X, y=y, lam=1.0)


def call_cost_grad(a):
    return fastnn.cost_grad(a["params"], a["layers"], a["X"], a["y"], a["lam"])


def call_objective(a):
    return fastnn.Objective(a["layers"], a["X"], a["y"], a["lam"])(a["params"])


def call_predict(a):
    return fastnn.predict(a["params"], a["layers"], a["X"])


def call_predict_proba(a):
    return fastnn.predict_proba(a["params"], a["layers"], a["X"])


ALL = [call_cost_grad, call_objective, call_predict, call_predict_proba]
WITH_LABELS = [call_cost_grad, call_objective]


def with_nan(a):
    a = a.copy()
    a.flat[0] = np.nan
    return a


def with_inf(a):
    a = a.copy()
    a.flat[-1] = -np.inf
    return a


BAD = [  # (calls, argument, bad value as a function of the good one, error, message)
    (ALL, "params", lambda p: p[:-1], ValueError, "params must be a 1-D vector of length 27"),
    (ALL, "params", lambda p: np.r_[p, 0.0], ValueError, "params must be a 1-D vector"),
    (ALL, "params", lambda p: p.reshape(1, -1), ValueError, "params must be a 1-D vector"),
    (ALL, "params", with_nan, ValueError, "params must be finite"),
    (ALL, "params", with_inf, ValueError, "params must be finite"),
    (ALL, "params", lambda p: p.astype(str), TypeError, "params must hold real numbers"),
    (ALL, "X", lambda X: X[0], ValueError, "X must be 2-D.*Reshape your data"),
    (ALL, "X", lambda X: X[:, :, None], ValueError, "X must be 2-D"),
    (ALL, "X", lambda X: X[:, 1:], ValueError, "X must have 4 features"),
    (ALL, "X", with_nan, ValueError, "X must be finite"),
    (ALL, "X", with_inf, ValueError, "X must be finite"),
    (ALL, "X", lambda X: X.astype(object), TypeError, "X must hold real numbers"),
    (ALL, "X", lambda X: X.astype(str), TypeError, "X must hold real numbers"),
    (ALL, "X", lambda X: X.astype(complex), TypeError, "X must hold real numbers"),
    (ALL, "X", lambda X: X[:0], ValueError, "X must have at least one row"),
    (ALL, "layers", lambda l: (4,), ValueError, "layers must have at least 2 sizes"),
    (ALL, "layers", lambda l: (4, 0, 3), ValueError, "layers sizes must all be >= 1"),
    (ALL, "layers", lambda l: (4, 2.5, 3), TypeError, "layers must be a sequence of ints"),
    (ALL, "layers", lambda l: 4, TypeError, "layers must be a sequence of ints"),
    (WITH_LABELS, "y", lambda y: y[:-1], ValueError, "y must be a 1-D vector of 6 labels"),
    (WITH_LABELS, "y", lambda y: y[:, None], ValueError, "y must be a 1-D vector"),
    (WITH_LABELS, "y", lambda y: y + 0.5, TypeError, "y must hold integer labels"),
    (WITH_LABELS, "y", lambda y: np.r_[y[:-1], 3], ValueError, r"y labels must lie in 0\.\.2"),
    (WITH_LABELS, "y", lambda y: np.r_[y[:-1], -1], ValueError, r"y labels must lie in 0\.\.2"),
    (WITH_LABELS, "y", lambda y: y.astype(str), TypeError, "y must hold real numbers"),
    (WITH_LABELS, "lam", lambda lam: -1.0, ValueError, "lam must be finite and >= 0"),
    (WITH_LABELS, "lam", lambda lam: np.nan, ValueError, "lam must be finite and >= 0"),
    (WITH_LABELS, "lam", lambda lam: np.inf, ValueError, "lam must be finite and >= 0"),
    (WITH_LABELS, "lam", lambda lam: "1", TypeError, "lam must be a real number"),
]


@pytest.mark.parametrize(
    "call, arg, change, error, message",
    [(c, *rest) for calls, *rest in BAD for c in calls],
    ids=lambda v: v.__name__ if callable(v) and v.__name__.startswith("call") else None)
def test_bad_input_is_rejected_with_its_name(good, call, arg, change, error, message):
    good[arg] = change(good[arg])
    with pytest.raises(error, match=message):
        call(good)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, "float128", object, "f8x"])
def test_bad_dtype_is_rejected(good, dtype):
    with pytest.raises(TypeError, match="dtype must be np.float64 or np.float32"):
        fastnn.cost_grad(good["params"], LAYERS, good["X"], good["y"], dtype=dtype)


OTHER_FORMS = [
    ("X", lambda X: np.asfortranarray(X)),
    ("X", lambda X: np.repeat(X, 2, axis=1)[:, ::2]),  # strided columns
    ("X", lambda X: X.tolist()),
    ("y", lambda y: y.astype(np.int8)),
    ("y", lambda y: y.astype(np.uint16)),
    ("y", lambda y: y.astype(np.float64)),  # integral floats
    ("y", lambda y: y.tolist()),
    ("params", lambda p: p.tolist()),
    ("lam", lambda lam: np.float32(lam)),
    ("lam", lambda lam: 1),
]


@pytest.mark.parametrize("arg, change", OTHER_FORMS)
def test_other_forms_give_the_same_answer(good, arg, change):
    J, grad = call_cost_grad(good)
    proba = call_predict_proba(good)
    good[arg] = change(good[arg])
    J2, grad2 = call_cost_grad(good)
    assert J2 == J
    np.testing.assert_array_equal(grad2, grad)
    np.testing.assert_array_equal(call_predict_proba(good), proba)


def test_float32_input_is_converted_to_the_compute_dtype(good):
    X32 = good["X"].astype(np.float32)
    J, grad = fastnn.cost_grad(good["params"], LAYERS, X32, good["y"])
    J64, grad64 = fastnn.cost_grad(good["params"], LAYERS, X32.astype(np.float64), good["y"])
    assert J == J64
    np.testing.assert_array_equal(grad, grad64)


@pytest.mark.parametrize("call", ALL)
def test_inputs_are_not_modified(good, call):
    """Writeable inputs come back as they were (a write would show), and read-only ones are
    taken (a write would raise)."""
    originals = {k: np.array(v) for k, v in good.items() if isinstance(v, np.ndarray)}
    writeable = {**good, **{k: v.copy() for k, v in originals.items()}}
    call(writeable)
    for k, v in originals.items():
        np.testing.assert_array_equal(writeable[k], v)
    frozen = {**good, **{k: v.copy() for k, v in originals.items()}}
    for v in frozen.values():
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
    call(frozen)


# --- inputs from the wild: what they are, and what to pass instead ----------------------------


def test_sparse_params_say_to_pass_a_dense_array(good):
    """X may be sparse (tests/test_sparse.py); a parameter vector may not."""
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match=r"params is a scipy.sparse csr_matrix: .*toarray\(\)"):
        call_cost_grad({**good, "params": sparse.csr_matrix(good["params"])})


def test_dataframes_say_what_to_pass(good):
    pd = pytest.importorskip("pandas")
    np.testing.assert_array_equal(call_predict({**good, "X": pd.DataFrame(good["X"])}),
                                  call_predict(good))  # numpy dtypes: as they are
    nullable = pd.DataFrame(good["X"]).astype("Float64")  # pandas' own float dtype, no NA
    with pytest.raises(TypeError, match=r"nullable dtypes \(Float64\); pass df.to_numpy"):
        call_cost_grad({**good, "X": nullable})
    with_text = pd.DataFrame(good["X"]).assign(name="a").iloc[:, 1:]
    with pytest.raises(TypeError, match=r"columns \['name'\] of the DataFrame are not numeric"):
        call_cost_grad({**good, "X": with_text})


def test_float16_X_is_checked_without_a_stray_warning(good):
    X16 = good["X"].astype(np.float16) * np.float16(1000)  # sums past float16's range
    J, grad = call_cost_grad({**good, "X": X16})  # warnings are errors in this suite
    assert np.isfinite(J)


def test_values_that_overflow_float32_are_refused(good):
    X = good["X"].copy()
    X[0, 0] = 1e39
    with pytest.raises(ValueError, match="X holds values beyond float32's range"):
        fastnn.cost_grad(good["params"], LAYERS, X, good["y"], dtype=np.float32)
    X[1, 0] = -1e39  # +inf and -inf once cast: their sum is nan, and no warning may say so
    with pytest.raises(ValueError, match=r"beyond float32's range \(\|X\| up to 1e\+39"):
        fastnn.cost_grad(good["params"], LAYERS, X, good["y"], dtype=np.float32)
    params = good["params"].copy()
    params[2] = 1e39
    with pytest.raises(ValueError, match="params holds values beyond float32's range"):
        fastnn.cost_grad(params, LAYERS, good["X"], good["y"], dtype=np.float32)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("call", ["cost_grad", "predict"])
def test_nan_or_inf_in_float64_X_narrowed_to_float32_is_named_as_such(good, bad, call):
    """X narrowed to float32 is checked once, on the copy: what the caller gave is still
    named (not an overflow), beside a value that does overflow."""
    X = good["X"].copy()
    X[2, 3], X[4, 1] = bad, 1e39
    with pytest.raises(ValueError, match="X must be finite, found nan or inf"):
        if call == "cost_grad":
            fastnn.cost_grad(good["params"], LAYERS, X, good["y"], dtype=np.float32)
        else:
            fastnn.predict(good["params"], LAYERS, X, dtype=np.float32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("plan, layers", [("fused", (80, 8, 3)), ("blas", (400, 2000, 3))])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_one_pass_calls_find_nan_or_inf_anywhere_in_X(dtype, plan, layers, bad):
    """Predictions and the drop-in cost_grad check X's values as their kernels read them:
    first, middle and last row (m = 45: a partial last group and tile), first and last
    column, each plan."""
    assert choose_plan(layers, forward=True) == choose_plan(layers) == plan
    params, X, y = problem(layers, m=45, seed=1)
    calls = [lambda X: fastnn.cost_grad(params, layers, X, y, 1.0, dtype)]
    calls += [functools.partial(f, params, layers, dtype=dtype)
              for f in (fastnn.predict, fastnn.predict_proba, fastnn.outputs)]
    for row in (0, 22, 44):
        for column in (0, layers[0] - 1):
            X_bad = X.copy()
            X_bad[row, column] = bad
            for call in calls:
                with pytest.raises(ValueError, match="X must be finite, found nan or inf"):
                    call(X_bad)


@pytest.mark.parametrize("layers", [(80, 8, 3), (400, 2000, 3)], ids=["fused", "blas"])
def test_one_pass_calls_on_finite_X_whose_sum_overflows(layers):
    """|X| summing past float64's range is finite X all the same: the labels and the cost of
    the reference."""
    params, X, y = problem(layers, m=45, seed=1, scale=1e-3)
    X *= 1e306
    np.testing.assert_array_equal(fastnn.predict(params, layers, X),
                                  reference.predict(params, layers, X))
    J, _ = fastnn.cost_grad(params, layers, X, y)
    assert J == pytest.approx(reference.cost_grad(params, layers, X, y)[0], rel=1e-12)


def test_huge_float_labels_are_reported_as_they_are(good):
    with pytest.raises(ValueError, match=r"got values in 0..1e\+20"):
        call_cost_grad({**good, "y": np.r_[1e20, good["y"][1:]].astype(float)})
