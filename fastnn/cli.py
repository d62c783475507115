"""The ``fastnn`` command line: train, predict, check-grad, sweep, warmup, bench.

Errors in what the user gave (a missing file, a foreign file, bad values) end with one line
``fastnn: error: ...`` and exit code 1; bad arguments give argparse's usage and exit code 2.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from . import data, metrics
from ._checks import ACTIVATIONS
from .gradcheck import check_gradients, check_nn_gradients
from .layout import init_params
from .model import check_model_path, load_model, save_model
from .network import predict
from .train import METHODS, format_sweep, sweep, train
from ._warmup import warmup


def cmd_train(args):
    """Train, save the model first (nothing after training may lose it), then report. Exit
    code 130 when Ctrl-C stopped the training (the model so far is saved all the same)."""
    if args.save:
        check_model_path(args.save)
    if args.plots and Path(args.plots).exists() and not Path(args.plots).is_dir():
        raise ValueError(f"{args.plots}: exists and is not a folder (--plots takes a folder)")
    X, y, source = data.load(args.data, args.labels)
    if y is None:
        raise ValueError(f"{source}: training needs labels (an array named y, or --labels)")
    progress = not args.quiet and sys.stderr.isatty()
    y = data.file_labels(y)  # X as loaded: an array, or a scipy.sparse matrix (train reads either)
    units = {"activation": args.activation, "output": args.output}
    result = train(X, y, hidden=tuple(args.hidden), lam=args.lam, method=args.method,
                   maxiter=args.maxiter, seed=args.seed, dtype=args.dtype,
                   validation=args.validation or None, progress=progress, **units)
    layers, params, held = result.layers, result.params, result.validation_rows
    if args.save:
        save_model(args.save, params, layers, dtype=args.dtype, **units, lam=args.lam,
                   method=args.method, seed=args.seed, data=source, stopped=result.stopped,
                   train_accuracy=result.train_accuracy,
                   validation_accuracy=result.validation_accuracy)
        print(f"saved the model to {args.save}")
    X_report, y_report = (X, y) if held is None else (X[held], y[held])
    part = "training data" if held is None else "validation split"
    predicted = predict(params, layers, X_report, dtype=args.dtype, **units)
    n_fit = len(y) - (0 if held is None else len(held))
    print(f"trained {'-'.join(map(str, layers))} ({args.activation} hidden units, "
          f"{args.output} outputs) on {source} ({n_fit} training rows) with "
          f"{args.method}, lambda = {args.lam:g}: {result.n_iter} iterations, "
          f"{result.nfev} evaluations ({result.stopped}: {result.message})")
    print(f"per-class scores on the {part} ({len(y_report)} rows):")
    print(metrics.classification_report(y_report, predicted, [str(k) for k in range(layers[-1])]))
    print(f"training accuracy   {result.train_accuracy:.2%}")
    if result.validation_accuracy is not None:
        print(f"validation accuracy {result.validation_accuracy:.2%}")
    print(f"final cost          {result.cost:.5f}")
    print(f"wall time           {result.seconds:.2f} s")
    if args.plots:
        written = write_plots(Path(args.plots), X_report, y_report, predicted, params, layers,
                              result.costs)
        print(f"wrote {', '.join(str(p) for p in written)}")
    return 130 if result.stopped == "interrupted" else 0


def write_plots(folder, X, y, predicted, params, layers, costs):
    """Draw a training run's pictures into folder; return their paths, in drawing order."""
    from . import plot

    folder.mkdir(parents=True, exist_ok=True)
    paths = []

    def draw(name, picture, *args):
        paths.append(folder / name)
        picture(*args, path=paths[-1])

    draw("digits.png", plot.digits, X, y, predicted)
    if np.sqrt(layers[0]) % 1 == 0 and len(layers) > 2:  # square inputs: units as images
        draw("hidden.png", plot.hidden_units, params, layers)
    draw("confusion.png", plot.confusion, metrics.confusion_matrix(y, predicted, layers[-1]))
    draw("cost.png", plot.cost_curve, costs)
    return paths


def cmd_predict(args):
    from .image import load_digit_image

    model = load_model(args.model)
    if model.output == "identity":
        raise ValueError(f"{args.model}: a model of identity outputs predicts values, not "
                         "classes: use fastnn.load_model(path).predict(X) in Python")
    if args.data:
        X, y, source = data.load(args.data, args.labels)
        _check_width(model, X.shape[1], source)
        units = predict(model.params, model.layers, X, dtype=model.dtype,
                        activation=model.activation, output=model.output)
        print(f"predicted {len(units)} rows of {source}")
        if y is not None:  # labels are output units, as in training
            print(f"accuracy {metrics.accuracy(data.file_labels(y), units):.2%}")
        return 0
    if not args.images:
        raise ValueError("give IMAGE files to predict, or --data FILE")
    _check_width(model, 400, "a 20x20 image")
    for path in args.images:
        image = load_digit_image(path)[None, :]
        k = int(predict(model.params, model.layers, image, dtype=model.dtype,
                        activation=model.activation, output=model.output)[0])
        proba = model.predict_proba(image)[0]
        print(f"{path}: {model.labels[k]} (confidence {proba[k]:.1%})")
    return 0


def _check_width(model, width, what):
    if model.layers[0] != width:
        raise ValueError(f"the model takes {model.layers[0]} inputs, {what} gives {width}")


def cmd_check_grad(args):
    start = time.perf_counter()
    if args.full:
        X, y = data.load_digits()
        layers = (400, 25, 10)
        check = check_gradients(init_params(layers, seed=0), layers, X, y, lam=args.lam)
        what = "400-25-10 on the 5000 bundled digits"
    else:
        check = check_nn_gradients(lam=args.lam)
        what = "the classic 3-5-3 network"
    seconds = time.perf_counter() - start
    print(f"checked {check.indices.size} parameters of {what}, lambda = {args.lam:g}")
    print(f"relative difference {check.rel_diff:.3e} (max |difference| "
          f"{check.max_abs_diff:.3e} at parameter {check.worst}) in {seconds:.2f} s")
    return 0 if check.rel_diff < 1e-7 else 3


def cmd_sweep(args):
    X, y, source = data.load(args.data, args.labels)
    rows = sweep(X, y, args.lam, hidden=tuple(args.hidden), validation=args.validation,
                 maxiter=args.maxiter, seed=args.seed)
    print(f"lambda sweep on {source}, validation fraction {args.validation:g}")
    print(format_sweep(rows))
    return 0


def cmd_warmup(args):
    """Compile every kernel into Numba's cache, a path per process, a line per path."""
    start = time.perf_counter()
    warmup(dtypes=[np.dtype(d).type for d in args.dtype], sparse=not args.dense_only,
           processes=args.processes, progress=lambda line: print(line, flush=True))
    print(f"every kernel compiled and cached: {time.perf_counter() - start:.1f} s")
    return 0


def cmd_bench(args):
    """Run ``bench/run.py`` of the repository in the current folder (or beside the package)."""
    places = [Path.cwd() / "bench", Path(__file__).resolve().parent.parent / "bench"]
    bench = next((p for p in places if (p / "run.py").exists()), None)
    if bench is None:
        raise FileNotFoundError("fastnn bench runs the benchmarks of a source checkout: "
                                "run it from the repository's root folder")
    return subprocess.run([sys.executable, str(bench / "run.py"), *args.pytest_args]).returncode


def parser():
    p = argparse.ArgumentParser(prog="fastnn",
                                description="Fast, checked small fully-connected networks.")
    sub = p.add_subparsers(dest="command", required=True)

    def data_arg(s):
        s.add_argument("--data", metavar="FILE",
                       help=".mat (MATLAB conventions), .npz with X and y, or a scipy.sparse "
                            ".npz (scipy.sparse.save_npz); default: the bundled digits")
        s.add_argument("--labels", metavar="FILE",
                       help="labels for --data: .npy, or .npz with y (a sparse .npz has none)")

    def training_args(s):
        s.add_argument("--hidden", type=int, nargs="+", default=[25], metavar="N",
                       help="hidden layer sizes (default 25)")
        s.add_argument("--maxiter", type=int, default=400)
        s.add_argument("--seed", type=int, default=0)

    t = sub.add_parser("train", help="train a network and report per-class scores")
    data_arg(t)
    training_args(t)
    t.add_argument("--lam", type=float, default=1.0, help="L2 strength (default 1)")
    t.add_argument("--method", default="L-BFGS-B", choices=METHODS)
    t.add_argument("--activation", default="logistic", choices=ACTIVATIONS,
                   help="the hidden units (default logistic)")
    t.add_argument("--output", default="logistic", choices=["logistic", "softmax"],
                   help="the output units: independent sigmoids (default) or a softmax")
    t.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    t.add_argument("--validation", type=float, default=0.0, metavar="FRACTION",
                   help="hold out this fraction, stratified by class (default none)")
    t.add_argument("--save", metavar="MODEL.npz", help="write the trained model")
    t.add_argument("--plots", metavar="DIR", help="write PNG pictures into DIR")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(run=cmd_train)

    pr = sub.add_parser("predict", help="predict digits in images (or a data file)")
    pr.add_argument("--model", required=True, metavar="MODEL.npz")
    pr.add_argument("images", nargs="*", metavar="IMAGE", help="PNG or JPEG pictures of one digit")
    data_arg(pr)
    pr.set_defaults(run=cmd_predict)

    c = sub.add_parser("check-grad", help="check backprop against central differences")
    c.add_argument("--full", action="store_true", help="all of 400-25-10 on the bundled digits")
    c.add_argument("--lam", type=float, default=0.0)
    c.set_defaults(run=cmd_check_grad)

    s = sub.add_parser("sweep", help="train for several lambdas, compare on a validation split")
    data_arg(s)
    training_args(s)
    s.add_argument("--lam", type=float, nargs="+", default=[0, 1, 3, 10, 50])
    s.add_argument("--validation", type=float, default=0.2)
    s.set_defaults(run=cmd_sweep)

    w = sub.add_parser("warmup", help="compile every kernel into Numba's cache ahead of time")
    w.add_argument("--dtype", nargs="+", default=["float64", "float32"],
                   choices=["float64", "float32"])
    w.add_argument("--dense-only", action="store_true", help="leave out scipy.sparse input")
    w.add_argument("--processes", type=int, default=None,
                   help="paths compiled side by side (default: the CPU count)")
    w.set_defaults(run=cmd_warmup)

    b = sub.add_parser("bench", help="run the benchmarks and print the README tables; "
                       "further arguments go to pytest (e.g. -k cost_grad)")
    b.set_defaults(run=cmd_bench)
    return p


def main(argv=None):
    p = parser()
    args, rest = p.parse_known_args(argv)
    if rest and args.command != "bench":
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    args.pytest_args = rest
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError, ImportError) as err:
        print(f"fastnn: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastnn: interrupted", file=sys.stderr)
        return 130
