"""Loaders: the bundled digits, MATLAB data and weight files."""

import numpy as np
import pytest
import scipy.io

import fastnn
from conftest import EX4WEIGHTS, needs_ex4weights


def test_bundled_digits_shape_dtype_and_balance(digits):
    X, y = digits
    assert X.shape == (5000, 400) and X.dtype == np.float64 and X.flags.c_contiguous
    assert y.shape == (5000,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [500] * 10)
    assert X.min() == 0.0 and X.max() == 1.0


def test_bundled_digits_are_column_major_and_upright(digits):
    # A "1" is a tall stroke: in the upright image its ink spreads further down the rows than
    # across the columns. Read row-major instead, the spreads would swap.
    X, y = digits
    ones = X[y == 1].reshape(-1, 20, 20, order="F").mean(axis=0)
    idx = np.arange(20)

    def spread(mass):
        mass = mass / mass.sum()
        return np.sqrt(np.sum(mass * (idx - np.sum(mass * idx)) ** 2))

    assert spread(ones.sum(axis=1)) > 1.5 * spread(ones.sum(axis=0))


def test_load_mat_maps_label_10_to_0(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    y = np.array([[10], [1], [9], [10]], dtype=np.uint8)  # MATLAB column vector, 1-based
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, {"X": X, "y": y})
    X2, y2 = fastnn.load_mat(path)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, [0, 1, 9, 0])
    assert X2.dtype == np.float64 and y2.dtype == np.int64 and X2.flags.c_contiguous


def test_load_mat_keeps_other_labels(tmp_path):
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, {"X": np.zeros((3, 2)), "y": np.array([0, 2, 1])})
    np.testing.assert_array_equal(fastnn.load_mat(path)[1], [0, 2, 1])


def test_load_mat_names_a_missing_variable(tmp_path):
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, {"X": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"missing variable\(s\) \['y'\]"):
        fastnn.load_mat(path)


def test_load_mat_weights_reorders_course_output(tmp_path):
    t1 = np.arange(3 * 5, dtype=float).reshape(3, 5)  # 4 inputs, 3 hidden
    t2 = np.arange(10 * 4, dtype=float).reshape(10, 4)  # 10 outputs, unit 10 = digit 0
    path = tmp_path / "w.mat"
    scipy.io.savemat(path, {"Theta1": t1, "Theta2": t2})
    params, layers = fastnn.load_mat_weights(path)
    assert layers == (4, 3, 10)
    u1, u2 = fastnn.unpack(params, layers)
    np.testing.assert_array_equal(u1, t1)
    np.testing.assert_array_equal(u2[0], t2[9])  # output 0 is the course's unit 10
    np.testing.assert_array_equal(u2[1:], t2[:9])


def test_load_mat_weights_rejects_shapes_that_do_not_chain(tmp_path):
    path = tmp_path / "w.mat"
    scipy.io.savemat(path, {"Theta1": np.zeros((3, 5)), "Theta2": np.zeros((10, 5))})
    with pytest.raises(ValueError, match="inconsistent weight shapes"):
        fastnn.load_mat_weights(path)


@needs_ex4weights
def test_course_weights_recognise_the_bundled_digits(digits):
    X, y = digits
    params, layers = fastnn.load_mat_weights(EX4WEIGHTS)
    assert layers == (400, 25, 10)
    assert np.mean(fastnn.predict(params, layers, X) == y) > 0.95


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
    ({"X": np.array(["ab", "cd"]), "y": np.array([1, 2])}, "X must hold real numbers"),
    ({"X": np.ones((2, 3, 2)), "y": np.array([1, 2])}, "X must be 2-D"),
    ({"X": np.ones((2, 3)), "y": np.array([1, 2, 3])}, r"y must be a 1-D vector of 2 labels"),
    ({"X": np.ones((2, 3)), "y": np.array([0.5, 1])}, "y must hold integer labels"),
    ({"X": np.ones((2, 3)), "y": np.array([-1, 1])}, "y labels must be >= 0"),
    ({"X": np.array([[1.0, np.nan]]), "y": np.array([1])}, "X must be finite"),
])
def test_mat_data_with_wrong_contents(tmp_path, variables, message):
    path = write_mat(tmp_path / "odd.mat", **variables)
    with pytest.raises(ValueError, match="odd.mat: " + message):
        fastnn.load_mat(path)


def test_missing_mat_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.mat"):
        fastnn.load_mat(tmp_path / "nothing.mat")


def test_mat_weights_missing_a_matrix(tmp_path):
    path = write_mat(tmp_path / "w.mat", Theta1=np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"missing variable\(s\) \['Theta2'\]"):
        fastnn.load_mat_weights(path)

