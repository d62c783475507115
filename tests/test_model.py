"""Model files: the round trip, hostile files that must fail with the file's name, and saves
that nothing can half-write."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastnn
from conftest import wait_for_line


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


def test_unit_functions_round_trip_and_version_1_files_load_as_logistic(tmp_path, model_path):
    layers = (4, 3, 2)
    params = fastnn.init_params(layers, 0, activation="tanh")
    fastnn.save_model(tmp_path / "tanh.npz", params, layers, activation="tanh",
                      output="identity")
    model = fastnn.load_model(tmp_path / "tanh.npz")
    assert (model.activation, model.output) == ("tanh", "identity")
    X = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_array_equal(model.predict(X), fastnn.outputs(
        params, layers, X, activation="tanh", output="identity"))
    with np.load(model_path) as f:  # a file as fastnn wrote them before the unit functions
        contents = {k: f[k] for k in f.files if k not in ("activation", "output")}
    np.savez(model_path, **{**contents, "version": 1})
    old = fastnn.load_model(model_path)
    assert (old.activation, old.output) == ("logistic", "logistic")
    np.testing.assert_array_equal(old.predict_proba(X), fastnn.predict_proba(old.params,
                                                                             layers, X))


@pytest.mark.parametrize("changes, message", [
    ({"version": 99}, "version 99 is not supported"),
    ({"activation": "softplus"}, "inconsistent model: activation must be one of"),
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



@pytest.mark.parametrize("changes, message", [
    ({"meta": "{not json"}, "inconsistent model"),
    ({"version": "one"}, "model file version one is not supported"),
    ({"dtype": "int8"}, "inconsistent model: dtype must be np.float64 or np.float32"),
])
def test_bad_metadata_names_the_file(model_path, changes, message):
    rewrite(model_path, **changes)
    with pytest.raises(ValueError, match=f"model.npz: {message}"):
        fastnn.load_model(model_path)


KEEP_SAVING = """
import sys, numpy as np, fastnn
layers = (2000, 1000, 10)  # 2 M parameters: each save takes a while
params = np.random.default_rng(int(sys.argv[2])).standard_normal(fastnn.n_params(layers))
print("saving", flush=True)
while True:
    fastnn.save_model(sys.argv[1], params, layers)
"""


def test_a_save_killed_midway_leaves_the_old_model(tmp_path):
    path = tmp_path / "model.npz"
    fastnn.save_model(path, fastnn.init_params((4, 3, 2), 0), (4, 3, 2))
    proc = subprocess.Popen([sys.executable, "-c", KEEP_SAVING, str(path), "1"],
                            stdout=subprocess.PIPE, text=True)
    wait_for_line(proc, "saving", timeout=120)
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    model = fastnn.load_model(path)  # whole: the old one, or a whole new one
    assert model.layers in ((4, 3, 2), (2000, 1000, 10))


def test_a_write_that_fails_names_the_file_and_keeps_the_old_model(tmp_path):
    """A real failing write: the file-size limit (RLIMIT_FSIZE) stops it as a full disk would."""
    path = tmp_path / "model.npz"
    fastnn.save_model(path, fastnn.init_params((4, 3, 2), 0), (4, 3, 2))
    before = path.read_bytes()
    script = (
        "import resource, signal, sys, numpy as np, fastnn\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "layers = (400, 25, 10)\n"
        "params = np.random.default_rng(0).standard_normal(fastnn.n_params(layers))\n"
        "try:\n"
        "    fastnn.save_model(sys.argv[1], params, layers)\n"
        "except OSError as err:\n"
        "    print(err)\n")
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                         text=True, timeout=120)
    assert f"{path}: could not save the model" in out.stdout, out.stderr
    assert "unchanged" in out.stdout and path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no partial file left


def test_a_saved_model_has_the_usual_file_mode(tmp_path):
    path = tmp_path / "model.npz"
    fastnn.save_model(path, fastnn.init_params((4, 3, 2), 0), (4, 3, 2))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
