"""Beyond the course: ReLU + softmax training on the 5000 bundled digits, and regression.

Each implementation runs in its own process (``bench/docs.py`` runs one per ``-k``
selection: thread pools of one would disturb the next), after one untimed warm-up fit (imports
and Numba's cache load are the start-up benchmarks' business); accuracy or held-out R^2
beside the time.

- digits: 400-25-10, ReLU hidden units, softmax outputs, lambda (alpha) = 1, 400 iterations of
  L-BFGS-B; scikit-learn's MLPClassifier(activation="relu", solver="lbfgs") and PyTorch's LBFGS
  (strong Wolfe) on the same cost.
- regression: 5-50-1, ReLU, squared error, alpha = 1e-4, 1500 rows of a smooth function of 5
  inputs, up to 400 iterations; MLPRegressor(solver="lbfgs") with the same hidden layer.
"""

import warnings

import numpy as np
import pytest

import fastnn

DIGITS = (400, 25, 10)
MAXITER = 400


def fit_fastnn(X, y):
    r = fastnn.train(X, y, hidden=DIGITS[1:-1], lam=1.0, maxiter=MAXITER, seed=0,
                     activation="relu", output="softmax")
    return dict(cost=r.cost, accuracy=r.train_accuracy, n_iter=r.n_iter)


def fit_sklearn(X, y):
    neural = pytest.importorskip("sklearn.neural_network")
    from sklearn.exceptions import ConvergenceWarning

    clf = neural.MLPClassifier(hidden_layer_sizes=DIGITS[1:-1], activation="relu",
                               solver="lbfgs", alpha=1.0, max_iter=MAXITER, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return dict(cost=clf.loss_, accuracy=clf.score(X, y), n_iter=clf.n_iter_)


def fit_torch(X, y):
    torch = pytest.importorskip("torch")
    from backends import UNITS, make_torch

    cost_grad = make_torch(DIGITS, X, y, 1.0, np.float64, UNITS["relu-softmax"])
    params = torch.tensor(fastnn.init_params(DIGITS, 0, activation="relu"), requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=MAXITER, line_search_fn="strong_wolfe",
                            tolerance_grad=0, tolerance_change=0)

    def closure():
        J, g = cost_grad(params.detach().numpy())
        params.grad = torch.from_numpy(g)
        return torch.tensor(J)

    opt.step(closure)
    p = params.detach().numpy()
    labels = fastnn.predict(p, DIGITS, X, activation="relu", output="softmax")
    return dict(cost=cost_grad(p)[0], accuracy=float(np.mean(labels == y)),
                n_iter=opt.state[params]["n_iter"])


FITS = {"fastnn": fit_fastnn, "sklearn": fit_sklearn, "torch": fit_torch}


@pytest.mark.parametrize("impl", list(FITS))
def test_train_relu_softmax(benchmark, digits, impl):
    benchmark.group = ("train 400-25-10 ReLU + softmax: 400 iterations of L-BFGS-B, "
                       "lambda = 1, 5000 digits")
    X, y = digits
    FITS[impl](X[:500], y[:500])  # warm-up
    info = benchmark.pedantic(FITS[impl], args=(X, y), rounds=3, iterations=1)
    benchmark.extra_info.update(info)
    assert info["accuracy"] > 0.9


def smooth(m=2000, seed=0):
    """A smooth function of 5 inputs with a little noise: (X_fit, X_test, y_fit, y_test)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (m, 5))
    y = (np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 3] ** 2 - X[:, 4]
         + 0.05 * rng.normal(size=m))
    return X[:1500], X[1500:], y[:1500], y[1500:]


def regress_fastnn():
    return fastnn.NeuralNetRegressor(hidden_layer_sizes=(50,), random_state=0)


def regress_sklearn():
    neural = pytest.importorskip("sklearn.neural_network")
    return neural.MLPRegressor(hidden_layer_sizes=(50,), solver="lbfgs", max_iter=MAXITER,
                               random_state=0)


REGRESSORS = {"fastnn": regress_fastnn, "sklearn": regress_sklearn}


@pytest.mark.parametrize("impl", list(REGRESSORS))
def test_regress(benchmark, impl):
    benchmark.group = "regress 5-50-1 ReLU, squared error: L-BFGS-B, 1500 rows"
    X_fit, X_test, y_fit, y_test = smooth()
    REGRESSORS[impl]().fit(X_fit[:100], y_fit[:100])  # warm-up

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return REGRESSORS[impl]().fit(X_fit, y_fit)

    model = benchmark.pedantic(fit, rounds=5, iterations=1)
    benchmark.extra_info.update(r2=model.score(X_test, y_test), n_iter=model.n_iter_)
    assert benchmark.extra_info["r2"] > 0.9
