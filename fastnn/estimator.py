"""A scikit-learn style classifier over :func:`fastnn.train`, with no scikit-learn dependency."""

import inspect

import numpy as np

from .layout import unpack
from .network import predict_proba
from .train import train


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit`` (the same bases as scikit-learn's)."""


def _missing(y):
    """True where a label is missing: NaN, None or pandas' NA."""
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype != object:
        return np.zeros(y.shape, bool)
    return np.array([v is None or type(v).__name__ == "NAType" or (isinstance(v, float) and v != v)
                     for v in y], bool)


class NeuralNetClassifier:
    """Sigmoid network classifier: any labels, L2 strength ``alpha`` (the course's lambda).

    Attributes after ``fit``: ``classes_``, ``n_features_in_``, ``loss_curve_`` (cost after
    each iteration), ``n_iter_``, ``coefs_`` (list of ``(n_in, n_out)`` weight matrices) and
    ``intercepts_``, as in scikit-learn's ``MLPClassifier``; ``result_`` is the TrainResult.

    >>> import numpy as np, fastnn
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
    >>> clf = fastnn.NeuralNetClassifier((4,), alpha=0.0, random_state=0).fit(X, X[:, 0] > 0)
    >>> clf.predict([[1.0, 0.0], [0.0, 1.0]]).tolist()
    [True, False]
    """

    def __init__(self, hidden_layer_sizes=(25,), alpha=1.0, solver="L-BFGS-B", max_iter=400,
                 random_state=None, dtype=np.float64, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.solver = solver
        self.max_iter = max_iter
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    @classmethod
    def _param_names(cls):
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        for name, value in params.items():
            if name not in self._param_names():
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid: {self._param_names()}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def fit(self, X, y):
        X = np.asarray(X)
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per row), got shape {y.shape}")
        if _missing(y).any():
            raise ValueError("y holds missing labels (NaN, None or NA): drop those rows or "
                             "give them a label")
        self.classes_, codes = np.unique(y, return_inverse=True)
        hidden = tuple(np.atleast_1d(self.hidden_layer_sizes).astype(int))
        result = train(X, codes.ravel(), hidden=hidden, lam=self.alpha, method=self.solver,
                       maxiter=self.max_iter, seed=self.random_state, dtype=self.dtype,
                       progress=self.verbose)
        self.result_ = result
        self.layers_ = result.layers
        self.params_ = result.params
        self.n_features_in_ = X.shape[1]
        self.loss_curve_ = list(result.costs)
        self.n_iter_ = result.n_iter
        thetas = unpack(result.params, result.layers)
        self.coefs_ = [t[:, 1:].T.copy() for t in thetas]
        self.intercepts_ = [t[:, 0].copy() for t in thetas]
        return self

    def _check_fitted(self):
        if not hasattr(self, "params_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit first")

    def predict_proba(self, X):
        """Class probabilities ``(m, n_classes)``: the output sigmoids scaled to sum to 1 per
        row (:func:`fastnn.predict_proba`)."""
        self._check_fitted()
        return predict_proba(self.params_, self.layers_, X, dtype=self.dtype)

    def predict(self, X):
        self._check_fitted()
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X, y):
        """Mean accuracy on (X, y)."""
        return float(np.mean(self.predict(X) == np.asarray(y)))
