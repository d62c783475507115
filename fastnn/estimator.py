"""scikit-learn estimators over :func:`fastnn.train` (``pip install 'fastnn[sklearn]'``):
a classifier and a regressor.

Without scikit-learn, ``import fastnn`` and everything else work; making an estimator says
which extra to install.
"""

import numpy as np

from ._checks import check_hidden, check_units
from .layout import unpack
from .network import outputs, predict, predict_proba
from .rows import form_of, make_rows
from .train import score, stratified_split, train

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
    _BASES = (BaseEstimator,)
    _CLASSIFIER, _REGRESSOR = (ClassifierMixin,), (RegressorMixin,)  # mixins go first
except ImportError:  # the estimators are the only part of fastnn that needs scikit-learn
    _BASES = _CLASSIFIER = _REGRESSOR = ()

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
    """The training callback of ``early_stopping``: the score on the held-out rows (accuracy,
    or R^2 for identity outputs) after every iteration; StopIteration once it has not risen by
    more than tol for n_iter_no_change iterations. Keeps every score and the best
    parameters."""

    def __init__(self, rows, tol, patience):
        self.held = rows  # validated once, not every iteration
        self.tol, self.patience = tol, patience
        self.scores, self.best, self.best_params, self.stale = [], -np.inf, None, 0

    def __call__(self, state):
        value = score(state.x, self.held)
        self.scores.append(value)
        if value > self.best + self.tol:
            self.best, self.best_params, self.stale = value, state.x.copy(), 0
        else:
            self.stale += 1
            if self.stale >= self.patience:
                raise StopIteration


class _NeuralNet(*_BASES):
    """What both estimators share: the knobs, fitting through :func:`fastnn.train`, the
    fitted attributes and X's validation."""

    def __init__(self, hidden_layer_sizes, activation, alpha, solver, max_iter, tol,
                 warm_start, early_stopping, validation_fraction, n_iter_no_change,
                 random_state, dtype, verbose):
        if not _BASES:
            raise ImportError(f"{type(self).__name__} is a scikit-learn estimator: install "
                              "scikit-learn (pip install 'fastnn[sklearn]')")
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
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

    def _validated(self, X, y, **y_format):
        """(X, y) as scikit-learn validates them; a lazy X (dask) by its form, y gathered."""
        if form_of(X).lazy:  # checked block by block where it is prepared (fastnn.dask)
            return self._checked_X(X, reset=True), form_of(y).gather(y)
        return validate_data(self, X, y, **_X_FORMAT, **y_format)

    def _fit(self, X, y, n_outputs, output, sample_weight):
        """Train on validated X and targets y (labels 0..n_outputs-1, or ``(m, n_outputs)``
        values) with the given output and sample weights; set the fitted attributes."""
        check_units(self.activation, output)
        init = self._warm_start_params()
        hidden = check_hidden(self.hidden_layer_sizes)
        watch = None
        if self.early_stopping:
            fit, held = stratified_split(y, self.validation_fraction, self.random_state)
            rows = make_rows((X.shape[1], *hidden, n_outputs), X[held], y[held], self.dtype,
                             activation=self.activation, output=output)
            watch = _EarlyStopping(rows, self.tol or 0.0, self.n_iter_no_change)
            X, y = X[fit], y[fit]
            if sample_weight is not None:
                sample_weight = np.asarray(sample_weight)[fit]
        result = train(X, y, hidden=hidden, lam=self.alpha, method=self.solver,
                       maxiter=self.max_iter, seed=self.random_state, tol=self.tol,
                       dtype=self.dtype, callback=watch, progress=self.verbose, init=init,
                       n_classes=n_outputs, activation=self.activation, output=output,
                       sample_weight=sample_weight)
        self._set_fitted(result, watch, output)
        return self

    def _warm_start_params(self):
        """The parameters to start from: the last fit's with ``warm_start``, else None."""
        return self.params_ if self.warm_start and hasattr(self, "params_") else None

    def _set_fitted(self, result, watch, output):
        params = result.params
        if watch is not None:
            self.validation_scores_ = watch.scores
            self.best_validation_score_ = watch.best
            params = result.params if watch.best_params is None else watch.best_params
        self.result_, self.layers_, self.params_ = result, result.layers, params
        self.out_activation_ = output
        self.loss_curve_ = list(result.costs)
        self.n_iter_ = result.n_iter
        thetas = unpack(params, result.layers)
        self.coefs_ = [t[:, 1:].T.copy() for t in thetas]
        self.intercepts_ = [t[:, 0].copy() for t in thetas]

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

    def _units(self):
        return {"activation": self.activation, "output": self.out_activation_}


_KNOBS = """Knobs as in scikit-learn's MLPs where they fit a full-batch optimizer:
    ``activation`` of the hidden units ("logistic", "tanh", "relu", "identity"), ``alpha``
    the L2 strength, the course's lambda (biases are not regularised), ``tol`` (scipy's;
    None: its defaults), ``warm_start``, ``early_stopping`` (``validation_fraction`` held
    out; stop after ``n_iter_no_change`` iterations without a better score there; the best
    parameters are kept), ``verbose`` (a progress bar); ``fit(X, y, sample_weight=None)``
    (integer weights equal repeated rows).

    Attributes after ``fit``: ``n_features_in_``, ``feature_names_in_`` (DataFrames),
    ``loss_curve_`` (cost after each iteration), ``n_iter_``, ``coefs_`` (list of ``(n_in,
    n_out)`` weight matrices), ``intercepts_`` and ``out_activation_``, as in scikit-learn's;
    ``validation_scores_`` and ``best_validation_score_`` with early stopping; ``layers_``,
    ``params_`` (fastnn's flat layout) and ``result_``, the :class:`fastnn.TrainResult`."""


class NeuralNetClassifier(*_CLASSIFIER, _NeuralNet):
    """Neural network classifier, a scikit-learn estimator: any labels, dense or scipy.sparse
    X (CSR read natively), pandas DataFrames (``feature_names_in_``), a dask X.

    One output per class (two for a binary problem). ``output``: "logistic" (independent
    sigmoids, cross-entropy per unit: the course's network), "softmax" (categorical
    cross-entropy, as MLPClassifier), or "auto" (the default): logistic for logistic hidden
    units, softmax for the others. Early stopping holds out a stratified fraction and scores
    accuracy. Also ``classes_``.

    {knobs}

    >>> import numpy as np, fastnn
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
    >>> clf = fastnn.NeuralNetClassifier((4,), alpha=0.0, random_state=0).fit(X, X[:, 0] > 0)
    >>> clf.predict([[1.0, 0.0], [0.0, 1.0]]).tolist()
    [True, False]
    """

    def __init__(self, hidden_layer_sizes=(25,), activation="logistic", output="auto",
                 alpha=1.0, solver="L-BFGS-B", max_iter=400, tol=None, warm_start=False,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 random_state=None, dtype=np.float64, verbose=False):
        super().__init__(hidden_layer_sizes, activation, alpha, solver, max_iter, tol,
                         warm_start, early_stopping, validation_fraction, n_iter_no_change,
                         random_state, dtype, verbose)
        self.output = output

    def fit(self, X, y, sample_weight=None):
        """Train on X ``(m, n)`` (dense, scipy.sparse, a DataFrame or a dask array chunked by
        rows, trained on its workers), labels y ``(m,)`` and optional sample weights."""
        if y is not None and _missing(np.asarray(y)).any():
            raise ValueError("y holds missing labels (NaN, None or NA): drop those rows or "
                             "give them a label")
        X, y = self._validated(X, y)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if self.warm_start and hasattr(self, "classes_") and not np.array_equal(classes,
                                                                                self.classes_):
            raise ValueError(f"warm_start needs the classes of the last fit ({self.classes_}), "
                             f"got {classes}")
        self.classes_ = classes
        output = self.output
        if output == "auto":
            output = "logistic" if self.activation == "logistic" else "softmax"
        elif output == "identity":
            raise ValueError("output must be 'auto', 'logistic' or 'softmax' for a classifier, "
                             "got 'identity' (NeuralNetRegressor fits values)")
        return self._fit(X, codes.ravel(), len(classes), output, sample_weight)

    def predict_proba(self, X):
        """Class probabilities ``(m, n_classes)``: the softmax, or each row's independent
        output sigmoids scaled to sum to 1 (:func:`fastnn.predict_proba`)."""
        check_is_fitted(self)
        return predict_proba(self.params_, self.layers_, self._checked_X(X, reset=False),
                             dtype=self.dtype, **self._units())

    def predict_log_proba(self, X):
        """The log of ``predict_proba`` (as MLPClassifier's)."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row of X (:func:`fastnn.predict`)."""
        check_is_fitted(self)
        X = self._checked_X(X, reset=False)
        codes = predict(self.params_, self.layers_, X, dtype=self.dtype, **self._units())
        if form_of(X).lazy:  # lazily, block by block
            return codes.map_blocks(self.classes_.take, dtype=self.classes_.dtype)
        return self.classes_[codes]


class NeuralNetRegressor(*_REGRESSOR, _NeuralNet):
    """Neural network regressor, a scikit-learn estimator: identity outputs and squared
    error, J = (1 / 2m) sum ||z - y||^2 + alpha / (2m) ||W||^2 (MLPRegressor's loss); y
    ``(m,)`` or ``(m, n_outputs)``; ``score`` is R^2. Dense or scipy.sparse X, DataFrames, a
    dask X. Early stopping holds out a random fraction and scores R^2. Also ``n_outputs_``.

    {knobs}

    >>> import numpy as np, fastnn
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> reg = fastnn.NeuralNetRegressor((8,), random_state=0).fit(X, X[:, 0] ** 2)
    >>> bool(reg.score(X, X[:, 0] ** 2) > 0.99)
    True
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", alpha=1e-4,
                 solver="L-BFGS-B", max_iter=400, tol=None, warm_start=False,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 random_state=None, dtype=np.float64, verbose=False):
        super().__init__(hidden_layer_sizes, activation, alpha, solver, max_iter, tol,
                         warm_start, early_stopping, validation_fraction, n_iter_no_change,
                         random_state, dtype, verbose)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Train on X ``(m, n)`` (dense, scipy.sparse, a DataFrame or a dask array chunked by
        rows), real targets y ``(m,)`` or ``(m, n_outputs)`` and optional sample weights."""
        X, y = self._validated(X, y, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if self.warm_start and hasattr(self, "n_outputs_") and n_outputs != self.n_outputs_:
            raise ValueError(f"warm_start needs the {self.n_outputs_} outputs of the last fit, "
                             f"got {n_outputs}")
        self.n_outputs_ = n_outputs
        return self._fit(X, y.reshape(y.shape[0], n_outputs), n_outputs, "identity",
                         sample_weight)

    def predict(self, X):
        """The predicted values ``(m,)`` (one output) or ``(m, n_outputs)``, float64."""
        check_is_fitted(self)
        X = self._checked_X(X, reset=False)
        values = outputs(self.params_, self.layers_, X, dtype=self.dtype, **self._units())
        values = values.astype(np.float64)
        return values[:, 0] if self.n_outputs_ == 1 else values


NeuralNetClassifier.__doc__ = NeuralNetClassifier.__doc__.format(knobs=_KNOBS)
NeuralNetRegressor.__doc__ = NeuralNetRegressor.__doc__.format(knobs=_KNOBS)
