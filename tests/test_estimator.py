"""The scikit-learn estimator: scikit-learn's own checks, its tools, fastnn's knobs."""

import functools
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastnn


def _unwrapped(check):
    """A check's function and the keyword arguments its partials give it."""
    keywords = {}
    while isinstance(check, functools.partial):
        keywords = {**check.keywords, **keywords}
        check = check.func
    return check, keywords


# Settings for one check, as scikit-learn gives its own MLPClassifier (solver="lbfgs") for it:
# weighted and repeated rows give the same objective (tests/test_units.py, to 1e-12), but two
# L-BFGS-B runs whose sums round differently stop 3e-5 apart at the default tolerances (so does
# MLPClassifier(solver="lbfgs", activation="logistic", alpha=1.0)); with exact Hessian products
# trust-ncg converges to the minimum itself, which the check then compares to 1e-7.
CONVERGED = {"solver": "trust-ncg", "tol": 1e-10}
CHECK_PARAMS = {"check_sample_weight_equivalence_on_dense_data": CONVERGED,
                "check_sample_weight_equivalence_on_sparse_data": CONVERGED}


@parametrize_with_checks([fastnn.NeuralNetClassifier(), fastnn.NeuralNetRegressor()])
def test_scikit_learn_checks(estimator, check):
    """Every check of scikit-learn's check_estimator, on the default estimator. The array API
    check runs only where SCIPY_ARRAY_API=1 was set before scipy was imported: here, in a
    process of its own."""
    function, keywords = _unwrapped(check)
    if function.__name__ in CHECK_PARAMS and isinstance(estimator, fastnn.NeuralNetClassifier):
        estimator = clone(estimator).set_params(**CHECK_PARAMS[function.__name__])
    if function.__name__ != "check_array_api_input" or os.environ.get("SCIPY_ARRAY_API"):
        check(estimator)
        return
    script = textwrap.dedent(f"""
        import fastnn
        from sklearn.utils.estimator_checks import check_array_api_input
        name = {type(estimator).__name__!r}
        check_array_api_input(name, getattr(fastnn, name)(), **{keywords!r})
    """)
    done = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True,
                          text=True, env={**os.environ, "SCIPY_ARRAY_API": "1"})
    assert done.returncode == 0, done.stderr


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
    # the attributes are the network's weights: the estimator's probabilities from them
    h = X
    for W, b in zip(clf.coefs_, clf.intercepts_):
        h = 1 / (1 + np.exp(-(h @ W + b)))
    np.testing.assert_allclose(proba, h / h.sum(axis=1, keepdims=True), rtol=1e-10)


def test_pipeline_grid_search_and_clone(small):
    X, y = small
    pipe = make_pipeline(StandardScaler(),
                         fastnn.NeuralNetClassifier((8,), max_iter=40, random_state=0))
    assert pipe.fit(X, y).score(X, y) > 0.9
    search = GridSearchCV(fastnn.NeuralNetClassifier((8,), max_iter=40, random_state=0),
                          {"alpha": [0.1, 10.0]}, cv=3).fit(X, y)
    assert search.best_params_["alpha"] in (0.1, 10.0)
    assert search.best_estimator_.alpha == search.best_params_["alpha"]
    twin = clone(search.best_estimator_)
    assert not hasattr(twin, "params_") and twin.get_params() == search.best_estimator_.get_params()
    np.testing.assert_array_equal(twin.fit(X, y).params_, search.best_estimator_.params_)


def test_cross_val_score_in_worker_processes(small):
    """joblib's worker processes (loky's, started afresh: no fork) unpickle the estimator, run
    at the thread count joblib gives them and score the same bits as this process."""
    from joblib import Parallel, cpu_count, delayed

    X, y = small
    clf = fastnn.NeuralNetClassifier((8,), max_iter=30, random_state=0)
    here = cross_val_score(clf, X, y, cv=3)
    there = cross_val_score(clf, X, y, cv=3, n_jobs=2)
    np.testing.assert_array_equal(here, there)
    assert here.min() > 0.6  # 30 iterations on 400 rows: it has learned (chance: 0.1)
    threads = Parallel(n_jobs=2)(delayed(fastnn.get_num_threads)() for _ in range(2))
    assert threads == [max(1, cpu_count() // 2)] * 2  # joblib's share of the cores each


def test_pickle_round_trip(small):
    X, y = small
    clf = fastnn.NeuralNetClassifier((8,), max_iter=30, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.get_params() == clf.get_params()


def test_sparse_and_dense_fit_alike(small):
    X, y = small
    make = lambda: fastnn.NeuralNetClassifier((8,), max_iter=30, random_state=0)  # noqa: E731
    dense, sparse = make().fit(X, y), make().fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.params_, dense.params_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sparse.predict_proba(sp.csc_matrix(X)), dense.predict_proba(X),
                               rtol=1e-6, atol=1e-9)


def test_feature_names_from_a_dataframe(small):
    pd = pytest.importorskip("pandas")
    X, y = small
    frame = pd.DataFrame(X[:, :20], columns=[f"px{i}" for i in range(20)])
    clf = fastnn.NeuralNetClassifier((5,), max_iter=10, random_state=0).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns={"px0": "other"}))


def test_warm_start_continues_from_the_last_fit(small):
    X, y = small
    cold = fastnn.NeuralNetClassifier((8,), max_iter=20, random_state=0).fit(X, y)
    warm = clone(cold).set_params(warm_start=True).fit(X, y)
    np.testing.assert_array_equal(warm.params_, cold.params_)  # the same first fit
    warm.fit(X, y)
    assert warm.loss_curve_[0] < cold.loss_curve_[0]  # the second fit starts where it ended
    assert warm.loss_curve_[-1] <= cold.loss_curve_[-1]
    with pytest.raises(ValueError, match="warm_start needs the classes"):
        warm.fit(X[y < 5], y[y < 5])


def test_early_stopping_keeps_the_best_validation_score(small):
    X, y = small
    clf = fastnn.NeuralNetClassifier((8,), alpha=0.0, max_iter=400, early_stopping=True,
                                     validation_fraction=0.2, n_iter_no_change=3,
                                     random_state=0).fit(X, y)
    scores = clf.validation_scores_
    assert clf.n_iter_ < 400 and len(scores) >= 4
    assert clf.best_validation_score_ == max(scores)
    assert all(s <= clf.best_validation_score_ for s in scores[-3:])  # none better at the end
    fit, held = fastnn.stratified_split(np.unique(y, return_inverse=True)[1], 0.2, 0)
    assert np.mean(clf.predict(X[held]) == y[held]) == clf.best_validation_score_


def test_tol_ends_training_sooner(small):
    X, y = small
    loose = fastnn.NeuralNetClassifier((8,), max_iter=400, tol=1e-2, random_state=0).fit(X, y)
    tight = fastnn.NeuralNetClassifier((8,), max_iter=400, tol=1e-9, random_state=0).fit(X, y)
    assert loose.n_iter_ < tight.n_iter_
    assert loose.result_.stopped == "converged"


def test_verbose_shows_a_progress_bar(small, capsys):
    X, y = small
    fastnn.NeuralNetClassifier((5,), max_iter=3, verbose=True, random_state=0).fit(X, y)
    assert "training (L-BFGS-B)" in capsys.readouterr().err


def test_without_scikit_learn_the_rest_of_fastnn_works():
    script = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None  # as if it were not installed
        import numpy as np, fastnn
        X, y = np.eye(3), np.array([0, 1, 2])
        print(fastnn.Objective((3, 2, 3), X, y)(np.zeros(fastnn.n_params((3, 2, 3))))[0] > 0)
        try:
            fastnn.NeuralNetClassifier()
        except ImportError as err:
            print(err)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines() == [
        "True", "NeuralNetClassifier is a scikit-learn estimator: install scikit-learn "
        "(pip install 'fastnn[sklearn]')"]


@pytest.mark.parametrize("make", [
    lambda y: np.where(y == 3, np.nan, y.astype(float)),
    lambda y: np.array([None if v == 3 else v for v in y], dtype=object),
    lambda y: pytest.importorskip("pandas").array(np.where(y == 3, -1, y), dtype="Int64"),
])
def test_missing_labels_are_refused(small, make):
    X, y = small
    labels = make(y)
    if hasattr(labels, "isna"):  # pandas' nullable Int64: NA where the label was 3
        labels[y == 3] = None
    clf = fastnn.NeuralNetClassifier(hidden_layer_sizes=(5,), max_iter=5)
    with pytest.raises(ValueError, match="y holds missing labels"):
        clf.fit(X, labels)


# --- scikit-learn's own MLPClassifier tests that apply to a full-batch sigmoid network, adapted
# (sklearn/neural_network/tests/test_mlp.py: test_lbfgs_classification,
# test_predict_proba_binary, test_predict_proba_multiclass) -----------------------------------


def test_lbfgs_classification_of_scikit_learns_digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X[:200])
    for dtype in (np.float64, np.float32):
        clf = fastnn.NeuralNetClassifier((50,), alpha=1e-5, max_iter=150, random_state=1,
                                         dtype=dtype).fit(X, y[:200])
        assert clf.score(X, y[:200]) > 0.95
        assert clf.predict(X).dtype == y.dtype


def test_predict_proba_binary():
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import roc_auc_score

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:50]
    clf = fastnn.NeuralNetClassifier((5,), alpha=1e-4, random_state=1).fit(X, y[:50])
    proba = clf.predict_proba(X)
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(proba.argmax(axis=1), clf.predict(X))
    assert roc_auc_score(y[:50], proba[:, 1]) == 1.0


def test_predict_proba_multiclass(small):
    X, y = small
    clf = fastnn.NeuralNetClassifier((5,), max_iter=50, random_state=1).fit(X[:100], y[:100])
    proba = clf.predict_proba(X[:100])
    assert proba.shape == (100, len(np.unique(y[:100])))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba > 0).all() and (proba < 1).all()
    np.testing.assert_allclose(np.log(proba), clf.predict_log_proba(X[:100]))


def test_regressor_scores_as_mlpregressor_on_a_smooth_function():
    """Held-out R^2 within 0.02 of MLPRegressor(solver="lbfgs") with the same hidden layers."""
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (2000, 5))
    y = (np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 3] ** 2 - X[:, 4]
         + 0.05 * rng.normal(size=2000))
    X_fit, X_test, y_fit, y_test = train_test_split(X, y, random_state=0)
    ours = fastnn.NeuralNetRegressor((50,), random_state=0).fit(X_fit, y_fit)
    theirs = MLPRegressor(hidden_layer_sizes=(50,), solver="lbfgs", max_iter=400,
                          random_state=0).fit(X_fit, y_fit)
    assert ours.score(X_test, y_test) > theirs.score(X_test, y_test) - 0.02
    assert ours.predict(X_test).shape == (500,) and ours.n_outputs_ == 1


def test_classifier_activation_picks_softmax_outputs(small):
    X, y = small
    clf = fastnn.NeuralNetClassifier((10,), activation="relu", max_iter=60,
                                     random_state=0).fit(X, y)
    assert clf.out_activation_ == "softmax" and clf.score(X, y) > 0.9
    h = X
    for W, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
        h = np.maximum(h @ W + b, 0)
    z = h @ clf.coefs_[-1] + clf.intercepts_[-1]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), p / p.sum(axis=1, keepdims=True),
                               rtol=1e-10)
    course = fastnn.NeuralNetClassifier((10,), max_iter=5, random_state=0).fit(X, y)
    assert course.out_activation_ == "logistic"
    with pytest.raises(ValueError, match="output must be 'auto', 'logistic' or 'softmax'"):
        fastnn.NeuralNetClassifier(output="identity").fit(X, y)
