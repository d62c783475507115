"""The scikit-learn style estimator over fastnn.train."""

import numpy as np
import pytest

import fastnn


@pytest.fixture(scope="module")
def small(digits):
    """600 digits (60 per class): quick to train, real enough to learn."""
    X, y = digits
    keep = np.concatenate([np.flatnonzero(y == k)[:60] for k in range(10)])
    return X[keep], y[keep]


def test_estimator_with_any_labels(small):
    X, y = small
    names = np.array(list("abcdefghij"))[y]
    clf = fastnn.NeuralNetClassifier(hidden_layer_sizes=(10,), max_iter=60, random_state=0)
    with pytest.raises(fastnn.NotFittedError):
        clf.predict(X)
    assert clf.fit(X, names) is clf
    np.testing.assert_array_equal(clf.classes_, list("abcdefghij"))
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, names) == np.mean(clf.predict(X) == names) > 0.9
    assert [c.shape for c in clf.coefs_] == [(400, 10), (10, 10)]
    assert [b.shape for b in clf.intercepts_] == [(10,), (10,)]
    assert clf.n_iter_ == len(clf.loss_curve_) and clf.n_features_in_ == 400


def test_estimator_params_round_trip():
    clf = fastnn.NeuralNetClassifier()
    params = clf.get_params()
    assert params["alpha"] == 1.0 and params["hidden_layer_sizes"] == (25,)
    assert clf.set_params(alpha=3.0, max_iter=5) is clf
    assert clf.get_params()["alpha"] == 3.0
    with pytest.raises(ValueError, match="invalid parameter 'beta'"):
        clf.set_params(beta=1)


SKLEARN_CHECKS = ["check_fit2d_predict1d", "check_classifiers_classes", "check_n_features_in",
                  "check_get_params_invariance", "check_set_params",
                  "check_dont_overwrite_parameters", "check_fit_score_takes_y",
                  "check_classifiers_train",
                  "check_fit_idempotent", "check_estimators_dtypes"]


@pytest.mark.parametrize("name", SKLEARN_CHECKS)
def test_scikit_learn_estimator_checks(name):
    checks = pytest.importorskip("sklearn.utils.estimator_checks")
    from sklearn.base import BaseEstimator, ClassifierMixin

    # scikit-learn reads an estimator's tags from its base classes; fastnn does not depend on
    # it, so the checks run on a subclass that only adds them.
    class Tagged(ClassifierMixin, fastnn.NeuralNetClassifier, BaseEstimator):
        pass

    clf = Tagged(hidden_layer_sizes=(5,), max_iter=50, random_state=0)
    getattr(checks, name)("NeuralNetClassifier", clf)


def pandas_with_na(y, where):
    """y as pandas' nullable Int64, NA where ``where``."""
    labels = pytest.importorskip("pandas").array(y, dtype="Int64")
    labels[where] = None
    return labels


@pytest.mark.parametrize("make", [
    lambda y: np.where(y == 3, np.nan, y.astype(float)),
    lambda y: np.array([None if v == 3 else v for v in y], dtype=object),
    lambda y: pandas_with_na(y, y == 3),
])
def test_missing_labels_are_refused(small, make):
    X, y = small
    clf = fastnn.NeuralNetClassifier(hidden_layer_sizes=(5,), max_iter=5)
    with pytest.raises(ValueError, match="y holds missing labels"):
        clf.fit(X, make(y))
