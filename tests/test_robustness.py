"""Hostile files, faults during training, determinism across threads and large inputs."""

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

import fastnn
from fastnn import network

# --- hostile .mat files -------------------------------------------------------------------


def write_mat(path, **variables):
    scipy.io.savemat(path, variables)
    return path


@pytest.fixture
def good_mat(tmp_path):
    return write_mat(tmp_path / "good.mat", X=np.ones((4, 3)), y=np.array([1, 2, 10, 3]))


@pytest.mark.parametrize("load", [fastnn.load_mat, fastnn.load_mat_weights])
@pytest.mark.parametrize("content", [b"", b"hello, not matlab", "truncated"])
def test_unreadable_mat_files_name_the_file(tmp_path, good_mat, load, content):
    path = tmp_path / "bad.mat"
    path.write_bytes(good_mat.read_bytes()[:100] if content == "truncated" else content)
    with pytest.raises(ValueError, match="bad.mat"):
        load(path)


@pytest.mark.parametrize("variables, message", [
    ({"X": np.array(["ab", "cd"]), "y": np.array([1, 2])}, "X must be a 2-D numeric matrix"),
    ({"X": np.ones((2, 3)), "y": np.array([1, 2, 3])}, "y has 3 labels for 2 rows"),
    ({"X": np.ones((2, 3)), "y": np.array([0.5, 1])}, "y must hold integer labels"),
    ({"X": np.ones((2, 3)), "y": np.array([-1, 1])}, "y labels must be >= 0"),
    ({"X": np.array([[1.0, np.nan]]), "y": np.array([1])}, "X holds nan or inf"),
])
def test_mat_data_with_wrong_contents(tmp_path, variables, message):
    path = write_mat(tmp_path / "odd.mat", **variables)
    with pytest.raises(ValueError, match=message):
        fastnn.load_mat(path)


def test_missing_mat_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.mat"):
        fastnn.load_mat(tmp_path / "nothing.mat")


def test_mat_weights_missing_a_matrix(tmp_path):
    path = write_mat(tmp_path / "w.mat", Theta1=np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"missing variable\(s\) \['Theta2'\]"):
        fastnn.load_mat_weights(path)


# --- hostile model files ------------------------------------------------------------------


@pytest.fixture
def model_path(tmp_path):
    layers = (4, 3, 2)
    path = tmp_path / "model.npz"
    fastnn.save_model(path, fastnn.init_params(layers, 0), layers, note="test")
    return path


def rewrite(path, **changes):
    with np.load(path) as f:
        contents = {k: f[k] for k in f.files}
    contents.update(changes)
    np.savez(path, **contents)


def test_model_round_trip(model_path):
    model = fastnn.load_model(model_path)
    assert model.layers == (4, 3, 2) and model.meta == {"note": "test"}
    np.testing.assert_array_equal(model.params, fastnn.init_params((4, 3, 2), 0))
    assert model.labels == ["0", "1"]


@pytest.mark.parametrize("changes, message", [
    ({"version": 99}, "version 99 is not supported"),
    ({"layers": np.array([4, 5, 2])}, "inconsistent model: params must be a 1-D vector"),
    ({"format": "something else"}, "not a fastnn model file"),
    ({"labels": np.array(["a"])}, "1 labels for 2 outputs"),
])
def test_model_files_that_do_not_fit(model_path, changes, message):
    rewrite(model_path, **changes)
    with pytest.raises(ValueError, match=message):
        fastnn.load_model(model_path)


def test_truncated_foreign_and_pickled_model_files(tmp_path, model_path):
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(model_path.read_bytes()[:200])
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones(3))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, format=np.array([{"code": "run me"}], dtype=object))
    for path, message in [(truncated, "not a readable fastnn model"),
                          (foreign, "missing"), (pickled, "not a readable fastnn model")]:
        with pytest.raises(ValueError, match=message):
            fastnn.load_model(path)


# --- hostile images -----------------------------------------------------------------------


def test_non_images_and_huge_images(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    from fastnn.image import load_digit_image

    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="notes.png: not an image"):
        load_digit_image(text)
    huge = tmp_path / "huge.png"
    Image.new("L", (6000, 6000), 255).save(huge)
    with pytest.raises(ValueError, match="huge.png: image of 6000x6000 pixels is too large"):
        load_digit_image(huge)
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    with pytest.raises(ValueError, match="blank.png: the image holds no digit"):
        load_digit_image(blank)


# --- faults during training ---------------------------------------------------------------


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


# --- determinism across thread counts -----------------------------------------------------

BITS = """
import hashlib, numpy as np, fastnn
X, y = fastnn.load_digits()
layers = (400, 25, 10)
p = fastnn.init_params(layers, seed=5)
v = np.random.default_rng(0).standard_normal(p.size)
h = hashlib.sha256()
for dtype in (np.float64, np.float32):
    obj = fastnn.Objective(layers, X, y, 1.0, dtype=dtype)
    J, g = obj(p)
    h.update(np.float64(J).tobytes()); h.update(g.tobytes()); h.update(obj.hessp(p, v).tobytes())
    h.update(fastnn.predict_proba(p, layers, X[:999], dtype=dtype).tobytes())
check = fastnn.check_gradients(p, layers, X[:700], y[:700], 1.0, indices=400, seed=1)
h.update(check.numerical.tobytes())
print(fastnn.get_num_threads(), h.hexdigest())
"""


def digest_with_threads(n):
    out = subprocess.run([sys.executable, "-c", BITS], capture_output=True, text=True, check=True,
                         env={"NUMBA_NUM_THREADS": str(n), "PATH": "/usr/bin:/bin"}).stdout.split()
    assert out[0] == str(n)
    return out[1]


@pytest.mark.jit
def test_one_and_two_threads_give_identical_bits():
    """cost_grad, hessp, predict and the checker, both dtypes: bit for bit."""
    assert digest_with_threads(1) == digest_with_threads(2)


# --- large inputs -------------------------------------------------------------------------

PEAK = """
import json, resource, sys, numpy as np, fastnn
m, n = 200_000, 400
X = np.empty((m, n))
rng = np.random.default_rng(0)
for i in range(0, m, 1000):  # filled in place: no temporary as large as X
    X[i:i + 1000] = rng.random((1000, n))
y = rng.integers(0, 10, m)
layers = (n, 25, 10)
p = fastnn.init_params(layers, 0)
fastnn.cost_grad(p, layers, X[:9], y[:9]); fastnn.predict(p, layers, X[:9])  # compile
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = peak()
J, g = fastnn.cost_grad(p, layers, X, y, 1.0)
after_cost = peak()
labels = fastnn.predict(p, layers, X)
after_predict = peak()
print(json.dumps({"x": X.nbytes, "cost": after_cost - before, "predict": after_predict - before,
                  "finite": bool(np.isfinite(J) and np.isfinite(g).all()), "rows": len(labels)}))
"""


@pytest.mark.jit
def test_large_batches_use_bounded_extra_memory():
    out = subprocess.run([sys.executable, "-c", PEAK], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.splitlines()[-1])
    assert r["finite"] and r["rows"] == 200_000
    assert r["cost"] <= 0.05 * r["x"]  # the kernels keep no (m x n) temporaries
    assert r["predict"] <= 0.10 * r["x"]  # predict returns (m, 10) floats and (m,) labels
