"""Model files: a versioned ``.npz`` (no pickles) holding a network and what it was trained on."""

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._checks import check_dtype, check_layers, check_params, check_units
from .layout import n_params
from .network import outputs, predict, predict_proba

FORMAT = "fastnn-model"
VERSION = 2  # 2: the unit functions (activation, output); 1 (logistic, logistic) still loads
READS = ("1", "2")


@dataclass
class Model:
    """A loaded network: ``labels[k]`` names output unit k; ``meta`` is training metadata;
    ``activation`` and ``output`` its unit functions (:func:`fastnn.cost_grad`)."""

    params: np.ndarray
    layers: tuple
    dtype: str = "float64"
    labels: list = None
    meta: dict = field(default_factory=dict)
    activation: str = "logistic"
    output: str = "logistic"

    def _run(self, function, X):
        return function(self.params, self.layers, X, dtype=self.dtype,
                        activation=self.activation, output=self.output)

    def outputs(self, X):
        """The output units' values ``(m, K)`` (:func:`fastnn.outputs`)."""
        return self._run(outputs, X)

    def predict_proba(self, X):
        """Probabilities of the labels ``(m, K)``, rows summing to 1
        (:func:`fastnn.predict_proba`)."""
        return self._run(predict_proba, X)

    def predict(self, X):
        """Label names of the predicted output units, ``(m,)`` (:func:`fastnn.predict`); the
        predicted values ``(m, K)`` for identity outputs."""
        if self.output == "identity":
            return self.outputs(X)
        return np.asarray(self.labels)[self._run(predict, X)]


def save_model(path, params, layers, dtype="float64", labels=None, activation="logistic",
               output="logistic", **meta):
    """Write a model file at exactly ``path``. ``labels`` name the outputs (default
    "0".."K-1"); ``activation`` and ``output`` are the network's unit functions; ``meta`` must
    be JSON-serialisable (training settings, accuracy, ...).

    Atomic: the file is written beside path, flushed to disk and renamed over it, so a
    failure or a killed process at any moment leaves the old file (if any) as it was.
    """
    layers = check_layers(layers)
    params = check_params(params, n_params(layers))
    dtype = np.dtype(check_dtype(dtype)).name
    activation, output = check_units(activation, output)
    labels = [str(k) for k in range(layers[-1])] if labels is None else [str(s) for s in labels]
    if len(labels) != layers[-1]:
        raise ValueError(f"labels must name all {layers[-1]} outputs, got {len(labels)}")
    path = check_model_path(path)
    contents = dict(format=FORMAT, version=VERSION, layers=np.array(layers), params=params,
                    dtype=dtype, labels=np.array(labels), meta=json.dumps(meta),
                    activation=activation, output=output)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **contents)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)  # mkstemp's 0600 -> what open() would have made
        os.replace(partial, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        if isinstance(err, OSError):
            raise OSError(err.errno, f"{path}: could not save the model ({err.strerror or err}); "
                          "any file that was there is unchanged") from None
        raise


def check_model_path(path):
    """path as a Path where a model file can be written: not a folder, in a folder that
    exists."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give a file name, such as {path / 'model.npz'}")
    if not path.parent.is_dir():
        raise ValueError(f"{path}: the folder {path.parent} does not exist")
    return path


def load_model(path):
    """Read a model file written by :func:`save_model`; a clear ValueError for anything else."""
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            contents = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except Exception as err:  # truncated, foreign or pickled: never load code, say what it is
        raise ValueError(f"{path}: not a readable fastnn model file "
                         f"({type(err).__name__}: {err})") from None
    missing = {"format", "version", "layers", "params", "dtype", "labels", "meta"} - contents.keys()
    if missing or str(contents.get("format")) != FORMAT:
        raise ValueError(f"{path}: not a fastnn model file (missing {sorted(missing)})"
                         if missing else f"{path}: not a fastnn model file")
    version = str(contents["version"])
    if version not in READS:
        raise ValueError(f"{path}: model file version {version} is not supported (this "
                         f"fastnn reads versions {', '.join(READS)})")
    try:
        layers = check_layers(contents["layers"].tolist())
        params = check_params(contents["params"], n_params(layers))
        dtype = np.dtype(check_dtype(str(contents["dtype"]))).name
        meta = json.loads(str(contents["meta"]))
        units = check_units(str(contents.get("activation", "logistic")),
                            str(contents.get("output", "logistic")))
    except (TypeError, ValueError) as err:  # json's errors are ValueErrors
        raise ValueError(f"{path}: inconsistent model: {err}") from None
    labels = contents["labels"].tolist()
    if len(labels) != layers[-1]:
        raise ValueError(f"{path}: inconsistent model: {len(labels)} labels for "
                         f"{layers[-1]} outputs")
    return Model(params, layers, dtype, labels, meta, *units)
