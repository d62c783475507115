"""A scikit-learn classifier over :func:`fastnn.train` (``pip install 'fastnn[sklearn]'``).

Without scikit-learn, ``import fastnn`` and everything else work; making a
``NeuralNetClassifier`` says which extra to install.
"""

import numpy as np

from . import metrics
from ._checks import check_hidden
from .layout import unpack
from .network import predict, predict_proba
from .rows import form_of, make_rows
from .train import stratified_split, train

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
    _BASES = (ClassifierMixin, BaseEstimator)  # scikit-learn's order: mixins first
except ImportError:  # the estimator is the only part of fastnn that needs scikit-learn
    _BASES = ()

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before ``fit`` (the same bases as scikit-learn's)."""

# X as validated: dense float arrays, or CSR (fastnn reads it natively; CSC, COO and the other
# formats are converted to CSR once)
_X_FORMAT = {"accept_sparse": "csr", "dtype": (np.float64, np.float32)}


def _missing(y):
    """True where a label is missing: NaN, None or pandas' NA."""
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype != object:
        return np.zeros(y.shape, bool)
    return np.array([v is None or type(v).__name__ == "NAType" or (isinstance(v, float) and v != v)
                     for v in y], bool)


class _EarlyStopping:
    """The training callback of ``early_stopping``: accuracy on the held-out rows after every
    iteration; StopIteration once it has not risen by more than tol for n_iter_no_change
    iterations. Keeps every score and the best parameters."""

    def __init__(self, layers, X, y, tol, patience, dtype):
        self.held = make_rows(layers, X, y, dtype)  # validated once, not every iteration
        self.tol, self.patience = tol, patience
        self.scores, self.best, self.best_params, self.stale = [], -np.inf, None, 0

    def __call__(self, state):
        score = metrics.accuracy(self.held.y, self.held.labels(state.x))
        self.scores.append(score)
        if score > self.best + self.tol:
            self.best, self.best_params, self.stale = score, state.x.copy(), 0
        else:
            self.stale += 1
            if self.stale >= self.patience:
                raise StopIteration


class NeuralNetClassifier(*_BASES):
    """Sigmoid network classifier, a scikit-learn estimator: any labels, dense or scipy.sparse
    X (CSR read natively), pandas DataFrames (``feature_names_in_``).

    One sigmoid output per class (two for a binary problem); ``alpha`` is the L2 strength, the
    course's lambda (biases are not regularised). Knobs as in ``MLPClassifier`` where they fit
    a full-batch optimizer: ``tol`` (scipy's; None: its defaults), ``warm_start``,
    ``early_stopping`` (``validation_fraction`` held out, stratified; stop after
    ``n_iter_no_change`` iterations without a better accuracy there; the best parameters are
    kept), ``verbose`` (a progress bar).

    Attributes after ``fit``: ``classes_``, ``n_features_in_``, ``feature_names_in_``
    (DataFrames), ``loss_curve_`` (cost after each iteration), ``n_iter_``, ``coefs_`` (list
    of ``(n_in, n_out)`` weight matrices) and ``intercepts_``, as in ``MLPClassifier``;
    ``validation_scores_`` and ``best_validation_score_`` with early stopping; ``layers_``,
    ``params_`` (fastnn's flat layout) and ``result_``, the :class:`fastnn.TrainResult`.

    >>> import numpy as np, fastnn
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
    >>> clf = fastnn.NeuralNetClassifier((4,), alpha=0.0, random_state=0).fit(X, X[:, 0] > 0)
    >>> clf.predict([[1.0, 0.0], [0.0, 1.0]]).tolist()
    [True, False]
    """

    def __init__(self, hidden_layer_sizes=(25,), alpha=1.0, solver="L-BFGS-B", max_iter=400,
                 tol=None, warm_start=False, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, random_state=None, dtype=np.float64, verbose=False):
        if not _BASES:
            raise ImportError("NeuralNetClassifier is a scikit-learn estimator: install "
                              "scikit-learn (pip install 'fastnn[sklearn]')")
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y):
        """Train on X ``(m, n)`` (dense, scipy.sparse, a DataFrame or a dask array chunked by
        rows, trained on its workers) and labels y ``(m,)``."""
        if y is not None and _missing(np.asarray(y)).any():
            raise ValueError("y holds missing labels (NaN, None or NA): drop those rows or "
                             "give them a label")
        if form_of(X).lazy:  # checked block by block where it is prepared (fastnn.dask)
            X, y = self._checked_X(X, reset=True), form_of(y).gather(y)
        else:
            X, y = validate_data(self, X, y, **_X_FORMAT)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        codes = codes.ravel()
        init = self._warm_start_params(classes)
        self.classes_ = classes
        hidden = check_hidden(self.hidden_layer_sizes)
        watch = None
        if self.early_stopping:
            fit, held = stratified_split(codes, self.validation_fraction, self.random_state)
            watch = _EarlyStopping((X.shape[1], *hidden, len(classes)), X[held], codes[held],
                                   self.tol or 0.0, self.n_iter_no_change, self.dtype)
            X, codes = X[fit], codes[fit]
        result = train(X, codes, hidden=hidden, lam=self.alpha, method=self.solver,
                       maxiter=self.max_iter, seed=self.random_state, tol=self.tol,
                       dtype=self.dtype, callback=watch, progress=self.verbose, init=init,
                       n_classes=len(classes))
        self._set_fitted(result, watch)
        return self

    def _warm_start_params(self, classes):
        """The parameters to start from: the last fit's with ``warm_start``, else None."""
        if not (self.warm_start and hasattr(self, "params_")):
            return None
        if not np.array_equal(classes, self.classes_):
            raise ValueError(f"warm_start needs the classes of the last fit ({self.classes_}), "
                             f"got {classes}")
        return self.params_

    def _set_fitted(self, result, watch):
        params = result.params
        if watch is not None:
            self.validation_scores_ = watch.scores
            self.best_validation_score_ = watch.best
            params = result.params if watch.best_params is None else watch.best_params
        self.result_, self.layers_, self.params_ = result, result.layers, params
        self.loss_curve_ = list(result.costs)
        self.n_iter_ = result.n_iter
        thetas = unpack(params, result.layers)
        self.coefs_ = [t[:, 1:].T.copy() for t in thetas]
        self.intercepts_ = [t[:, 0].copy() for t in thetas]

    def predict_proba(self, X):
        """Class probabilities ``(m, n_classes)``: each row's independent output sigmoids
        scaled to sum to 1 (:func:`fastnn.predict_proba`)."""
        check_is_fitted(self)
        return predict_proba(self.params_, self.layers_, self._checked_X(X, reset=False),
                             dtype=self.dtype)

    def _checked_X(self, X, reset):
        """X validated as scikit-learn does; a lazy X (dask) by its form, lazily."""
        form = form_of(X)
        if not form.lazy:
            return validate_data(self, X, reset=reset, **_X_FORMAT)
        X = form.check(X, None if reset else self.n_features_in_, self.dtype)
        if reset:
            self.n_features_in_ = X.shape[1]
            self.__dict__.pop("feature_names_in_", None)
        return X

    def predict_log_proba(self, X):
        """The log of ``predict_proba`` (as MLPClassifier's)."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row of X (:func:`fastnn.predict`)."""
        check_is_fitted(self)
        X = self._checked_X(X, reset=False)
        codes = predict(self.params_, self.layers_, X, dtype=self.dtype)
        if form_of(X).lazy:  # lazily, block by block
            return codes.map_blocks(self.classes_.take, dtype=self.classes_.dtype)
        return self.classes_[codes]
