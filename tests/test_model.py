"""Model files: the round trip, and hostile files that must fail with the file's name."""

import numpy as np
import pytest

import fastnn


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

