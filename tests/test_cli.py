"""The command line, run as a user would: ``python -m fastnn ...`` in a subprocess."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastnn
from conftest import EX4WEIGHTS, needs_ex4weights

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fastnn", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def small_npz(digits, tmp_path_factory):
    X, y = digits
    keep = np.concatenate([np.flatnonzero(y == k)[:40] for k in range(10)])
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, X=X[keep], y=y[keep])
    return path


@pytest.fixture(scope="module")
def model_file(digits, tmp_path_factory):
    X, y = digits
    result = fastnn.train(X, y, maxiter=120)
    path = tmp_path_factory.mktemp("model") / "model.npz"
    fastnn.save_model(path, result.params, result.layers)
    return path


def render(row, path, scale=5):
    """A dataset row as a picture a person might draw: dark ink on white, larger, PNG or JPEG."""
    img = row.reshape(20, 20, order="F")
    pixels = np.uint8(np.round(255 * (1 - img)))
    Image.fromarray(pixels).resize((20 * scale, 20 * scale), Image.BILINEAR).save(path)
    return path


def test_train_reports_saves_and_draws(small_npz, tmp_path):
    out = run("train", "--data", small_npz, "--hidden", 10, "--maxiter", 30, "--validation",
              0.25, "--save", tmp_path / "m.npz", "--plots", tmp_path / "plots", "--quiet",
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "precision" in line)
    assert lines[header].split() == ["class", "precision", "recall", "F1", "support"]
    assert [line.split()[0] for line in lines[header + 1:header + 11]] == list("0123456789")
    assert all(int(line.split()[-1]) == 10 for line in lines[header + 1:header + 11])
    assert "validation accuracy" in out.stdout and "wall time" in out.stdout
    model = fastnn.load_model(tmp_path / "m.npz")
    assert model.layers == (400, 10, 10) and model.meta["method"] == "L-BFGS-B"
    for name, min_size in [("digits", 300), ("hidden", 200), ("confusion", 300), ("cost", 300)]:
        with Image.open(tmp_path / "plots" / f"{name}.png") as img:
            assert img.format == "PNG" and min(img.size) >= min_size


def test_train_on_a_scipy_sparse_npz_as_on_the_same_data_dense(small_npz, tmp_path):
    """``save_npz``'s file holds no labels: ``--labels`` gives them (.npy, or .npz with y)."""
    import scipy.sparse

    with np.load(small_npz) as f:
        X, y = f["X"], f["y"]
    scipy.sparse.save_npz(tmp_path / "X.npz", scipy.sparse.csr_matrix(X))
    np.save(tmp_path / "y.npy", y)
    args = ["--hidden", 10, "--maxiter", 15, "--validation", 0.25, "--quiet"]
    sparse = run("train", "--data", tmp_path / "X.npz", "--labels", tmp_path / "y.npy", *args,
                 "--plots", tmp_path / "plots", cwd=tmp_path)
    dense = run("train", "--data", small_npz, *args, cwd=tmp_path)
    assert sparse.returncode == 0, sparse.stderr
    def report(out):
        return [line for line in out.stdout.splitlines()
                if line.startswith(("training accuracy", "validation accuracy", "final cost"))]
    assert len(report(sparse)) == 3 and report(sparse) == report(dense)
    assert (tmp_path / "plots" / "digits.png").exists()
    unlabelled = run("train", "--data", tmp_path / "X.npz", *args, cwd=tmp_path)
    assert unlabelled.returncode != 0 and "--labels" in unlabelled.stderr


@pytest.mark.parametrize("layers", [(16, 3, 2), (16, 2)], ids=["hidden layer", "none"])
def test_plots_draw_hidden_units_when_there_are_some(tmp_path, layers):
    from fastnn.cli import write_plots
    X, y = np.random.default_rng(0).random((8, 16)), np.arange(8) % 2
    paths = write_plots(tmp_path, X, y, y[::-1], fastnn.init_params(layers), layers, [1.0, 0.5])
    names = ["digits.png", "hidden.png", "confusion.png", "cost.png"]
    if len(layers) == 2:  # no hidden layer to draw
        names.remove("hidden.png")
    assert [p.name for p in paths] == names
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_predict_recognises_rendered_digits(digits, model_file, tmp_path):
    X, y = digits
    rows = np.random.default_rng(0).choice(len(y), 20, replace=False)
    paths = [render(X[i], tmp_path / f"digit{n}.{'png' if n % 2 else 'jpg'}")
             for n, i in enumerate(rows)]
    out = run("predict", "--model", model_file, *paths, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    predicted = [int(line.split(": ")[1].split()[0]) for line in out.stdout.splitlines()]
    assert np.mean(np.array(predicted) == y[rows]) >= 0.85
    assert "confidence" in out.stdout


@needs_ex4weights
def test_course_weights_predict_through_the_cli(digits, tmp_path):
    X, y = digits
    params, layers = fastnn.load_mat_weights(EX4WEIGHTS)
    fastnn.save_model(tmp_path / "course.npz", params, layers)
    rows = np.random.default_rng(1).choice(len(y), 20, replace=False)
    paths = [render(X[i], tmp_path / f"d{n}.png") for n, i in enumerate(rows)]
    out = run("predict", "--model", tmp_path / "course.npz", *paths, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    predicted = [int(line.split(": ")[1].split()[0]) for line in out.stdout.splitlines()]
    assert np.mean(np.array(predicted) == y[rows]) >= 0.8


def test_predict_a_data_file(small_npz, model_file, tmp_path):
    out = run("predict", "--model", model_file, "--data", small_npz, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split("accuracy ")[1].rstrip("%\n")) / 100
    X, y = np.load(small_npz)["X"], np.load(small_npz)["y"]
    expected = np.mean(fastnn.load_model(model_file).predict(X) == y.astype(str))
    assert accuracy == pytest.approx(expected, abs=1e-4)


def test_other_units_train_save_and_predict_as_in_python(small_npz, tmp_path):
    out = run("train", "--data", small_npz, "--hidden", 12, "--maxiter", 40, "--activation",
              "relu", "--output", "softmax", "--save", tmp_path / "m.npz", "--quiet",
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "relu hidden units, softmax outputs" in out.stdout
    model = fastnn.load_model(tmp_path / "m.npz")
    assert (model.activation, model.output) == ("relu", "softmax")
    X, y = np.load(small_npz)["X"], np.load(small_npz)["y"]
    result = fastnn.train(X, y, hidden=12, maxiter=40, activation="relu", output="softmax")
    np.testing.assert_array_equal(model.params, result.params)
    out = run("predict", "--model", tmp_path / "m.npz", "--data", small_npz, cwd=tmp_path)
    accuracy = float(out.stdout.split("accuracy ")[1].rstrip("%\n")) / 100
    assert accuracy == pytest.approx(result.train_accuracy, abs=1e-4)


@pytest.mark.parametrize("extra", [[], ["--lam", "3"]])
def test_check_grad(extra, tmp_path):
    out = run("check-grad", *extra, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rel = float(out.stdout.split("relative difference ")[1].split()[0])
    assert rel < 1e-9


def test_sweep(small_npz, tmp_path):
    out = run("sweep", "--data", small_npz, "--lam", 0, 10, "--hidden", 8, "--maxiter", 20,
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()[-2:]
    assert [float(r.split()[0]) for r in rows] == [0.0, 10.0]


def test_bench_runs_the_benchmarks():
    repository = Path(__file__).resolve().parents[1]
    out = run("bench", "-k", "test_predict and f64 and (fastnn or numpy)", cwd=repository)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout
    assert "**predict 400-25-10, 5000 digits, f64**" in out.stdout  # the report's table
    rows = {cells[0]: cells[1:] for line in out.stdout.splitlines()
            if (cells := [c.strip() for c in line.strip("|").split("|")])[0] in ("fastnn", "numpy")}
    ms = {impl: float(cells[0].removesuffix(" ms")) for impl, cells in rows.items()}
    ratio = float(rows["fastnn"][1].removesuffix("×"))  # numpy's time over fastnn's
    assert ratio == pytest.approx(ms["numpy"] / ms["fastnn"], rel=0.02)


def test_bench_outside_a_checkout_says_so(tmp_path, monkeypatch, capsys):
    """An installed package (no bench/ beside it), run from a folder with no bench/ either;
    in-process, so that it holds whether this fastnn is installed or a checkout's."""
    from fastnn import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "fastnn" / "cli.py"))
    assert cli.main(["bench"]) == 1
    assert "source checkout" in capsys.readouterr().err


@pytest.mark.parametrize("args", [[], ["train", "--maxiter", "many"], ["train", "--method", "Adam"],
                                  ["predict"], ["fly"]])
def test_bad_arguments_give_usage_and_exit_2(args, tmp_path):
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert "usage: fastnn" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("make, args", [
    (None, ["train", "--data", "missing.mat"]),
    (None, ["predict", "--model", "missing.npz", "x.png"]),
    (lambda p: p.write_bytes(b"not a zip"), ["predict", "--model", "{f}", "x.png"]),
    (lambda p: p.write_text("hello"), ["train", "--data", "{f}.mat"]),
])
def test_bad_files_give_one_clear_line(make, args, tmp_path):
    target = tmp_path / "file"
    if make is not None:
        make(target)
        if any(a.endswith(".mat") for a in args):
            target.rename(tmp_path / "file.mat")
    out = run(*[a.format(f=target) for a in args], cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.startswith("fastnn: error: ") and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr


# --- faults and outputs (what a user meets) -------------------------------------------------


def test_ctrl_c_saves_the_model_and_exits_130(small_npz, tmp_path):
    """A real SIGINT while the command line trains: the model so far is saved, exit 130."""
    run("train", "--data", small_npz, "--hidden", 10, "--maxiter", 1, "--quiet", cwd=tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "fastnn", "train", "--data", str(small_npz),
                             "--hidden", "10", "--maxiter", "100000", "--method", "gd", "--save",
                             str(tmp_path / "m.npz"), "--quiet"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "saved the model" in out and "interrupted" in out
    model = fastnn.load_model(tmp_path / "m.npz")
    assert model.meta["stopped"] == "interrupted" and np.isfinite(model.params).all()


def test_float_labels_train_and_predict_like_integer_labels(small_npz, tmp_path):
    """Labels stored as floats, or as MATLAB's (m, 1) column, are the same labels."""
    with np.load(small_npz) as f:
        X, y = f["X"], f["y"]
    np.savez(tmp_path / "floats.npz", X=X, y=y.astype(float)[:, None])
    out = run("train", "--data", tmp_path / "floats.npz", "--hidden", 10, "--maxiter", 30,
              "--save", tmp_path / "m.npz", "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    model = fastnn.load_model(tmp_path / "m.npz")
    expected = np.mean(np.argmax(model.outputs(X), axis=1) == y)
    out = run("predict", "--model", tmp_path / "m.npz", "--data", tmp_path / "floats.npz",
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split("accuracy ")[1].rstrip("%\n")) / 100
    assert expected > 0.8 and accuracy == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("name", ["M.NPZ", "model"])
def test_save_writes_exactly_the_path_given(small_npz, tmp_path, name):
    out = run("train", "--data", small_npz, "--hidden", 5, "--maxiter", 5, "--save",
              tmp_path / name, "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [name]
    assert fastnn.load_model(tmp_path / name).layers == (400, 5, 10)


@pytest.mark.parametrize("option", ["--save", "--plots"])
def test_unusable_outputs_are_refused_before_training(small_npz, tmp_path, option):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("keep me")
    target = tmp_path / ("folder" if option == "--save" else "file")
    out = run("train", "--data", small_npz, "--hidden", 5, "--maxiter", 5, option, target,
              "--quiet", cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.startswith("fastnn: error: ")
    assert str(target) in out.stderr and "trained" not in out.stdout
    assert (tmp_path / "file").read_text() == "keep me"


@pytest.mark.parametrize("label", [10**9, 1e5])
def test_a_huge_label_is_refused_with_what_to_do(small_npz, tmp_path, label):
    with np.load(small_npz) as f:
        y = f["y"].astype(type(label))
    y[0] = label
    np.savez(tmp_path / "odd.npz", X=np.load(small_npz)["X"], y=y)
    out = run("train", "--data", tmp_path / "odd.npz", "--quiet", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "np.unique(y, return_inverse=True)" in out.stderr
