"""Model files: a versioned ``.npz`` (no pickles) holding a network and what it was trained on."""

import json
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_layers, check_params
from .layout import n_params
from .network import outputs, predict_proba

FORMAT = "fastnn-model"
VERSION = 1


@dataclass
class Model:
    """A loaded network: ``labels[k]`` names output unit k; ``meta`` is training metadata."""

    params: np.ndarray
    layers: tuple
    dtype: str = "float64"
    labels: list = None
    meta: dict = field(default_factory=dict)

    def outputs(self, X):
        """The output units' sigmoids ``(m, K)`` (:func:`fastnn.outputs`)."""
        return outputs(self.params, self.layers, X, dtype=self.dtype)

    def predict_proba(self, X):
        """Probabilities of the labels ``(m, K)``, rows summing to 1
        (:func:`fastnn.predict_proba`)."""
        return predict_proba(self.params, self.layers, X, dtype=self.dtype)

    def predict(self, X):
        """Label names of the most active output unit, ``(m,)``."""
        return np.asarray(self.labels)[np.argmax(self.outputs(X), axis=1)]


def save_model(path, params, layers, dtype="float64", labels=None, **meta):
    """Write a model file. ``labels`` name the outputs (default "0".."K-1"); ``meta`` must be
    JSON-serialisable (training settings, accuracy, ...)."""
    layers = check_layers(layers)
    params = check_params(params, n_params(layers))
    labels = [str(k) for k in range(layers[-1])] if labels is None else [str(s) for s in labels]
    if len(labels) != layers[-1]:
        raise ValueError(f"labels must name all {layers[-1]} outputs, got {len(labels)}")
    np.savez_compressed(path, format=FORMAT, version=VERSION, layers=np.array(layers),
                        params=params, dtype=np.dtype(dtype).name, labels=np.array(labels),
                        meta=json.dumps(meta))


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
    if int(contents["version"]) != VERSION:
        raise ValueError(f"{path}: model file version {int(contents['version'])} is not "
                         f"supported (this fastnn reads version {VERSION})")
    try:
        layers = check_layers(contents["layers"].tolist())
        params = check_params(contents["params"], n_params(layers))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: inconsistent model: {err}") from None
    labels = contents["labels"].tolist()
    if len(labels) != layers[-1]:
        raise ValueError(f"{path}: inconsistent model: {len(labels)} labels for "
                         f"{layers[-1]} outputs")
    return Model(params, layers, str(contents["dtype"]), labels, json.loads(str(contents["meta"])))
