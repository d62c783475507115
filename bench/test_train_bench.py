"""Training on the 5000 bundled digits: 400 iterations of L-BFGS-B at lambda = 1, same start.

scikit-learn's MLPClassifier has the same penalty form (alpha/(2m) ||W||^2) but a softmax
output layer with multinomial cross-entropy, so its final cost is not comparable; PyTorch
runs torch.optim.LBFGS (strong Wolfe line search) on the same cost as fastnn.
"""

import time
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

import fastnn
from fastnn import reference

LAYERS = (400, 25, 10)
MAXITER = 400


def accuracy(params, X, y):
    return float(np.mean(fastnn.predict(params, LAYERS, X) == y))


def fit_fastnn(X, y, dtype):
    r = fastnn.train(X, y, lam=1.0, maxiter=MAXITER, seed=0, dtype=dtype)
    return dict(nfev=r.nfev, cost=r.cost, accuracy=r.train_accuracy, n_iter=r.n_iter)


def fit_numpy(X, y):
    p0 = fastnn.init_params(LAYERS, 0)
    res = minimize(reference.cost_grad, p0, args=(LAYERS, X, y, 1.0), jac=True,
                   method="L-BFGS-B", options={"maxiter": MAXITER})
    return dict(nfev=res.nfev, cost=res.fun, accuracy=accuracy(res.x, X, y), n_iter=res.nit)


def fit_sklearn(X, y):
    neural = pytest.importorskip("sklearn.neural_network")
    from sklearn.exceptions import ConvergenceWarning

    clf = neural.MLPClassifier(hidden_layer_sizes=(25,), activation="logistic", solver="lbfgs",
                               alpha=1.0, max_iter=MAXITER, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return dict(nfev=clf.n_iter_, cost=f"{clf.loss_:.4f} (softmax)", accuracy=clf.score(X, y),
                n_iter=clf.n_iter_)


def fit_torch(X, y):
    torch = pytest.importorskip("torch")
    from backends import make_torch

    cost_grad = make_torch(LAYERS, X, y, 1.0, np.float64)
    params = torch.tensor(fastnn.init_params(LAYERS, 0), requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=MAXITER, line_search_fn="strong_wolfe",
                            tolerance_grad=0, tolerance_change=0)
    calls = []

    def closure():
        J, g = cost_grad(params.detach().numpy())
        params.grad = torch.from_numpy(g)
        calls.append(J)
        return torch.tensor(J)

    opt.step(closure)
    p = params.detach().numpy()
    return dict(nfev=len(calls), cost=fastnn.cost_grad(p, LAYERS, X, y, 1.0)[0],
                accuracy=accuracy(p, X, y), n_iter=opt.state[params]["n_iter"])


FITS = {
    "fastnn f64": lambda X, y: fit_fastnn(X, y, np.float64),
    "fastnn f32": lambda X, y: fit_fastnn(X, y, np.float32),
    "numpy": fit_numpy,
    "scikit-learn MLPClassifier": fit_sklearn,
    "torch LBFGS": fit_torch,
}


@pytest.mark.parametrize("impl", list(FITS))
def test_train(benchmark, digits, impl):
    benchmark.group = "train 400-25-10: 400 iterations of L-BFGS-B, lambda = 1, 5000 digits"
    X, y = digits
    info = benchmark.pedantic(FITS[impl], args=(X, y), rounds=1, iterations=1)
    benchmark.extra_info.update(info)
    assert info["accuracy"] > 0.9


def newton_cg(X, y, exact, target=None, maxiter=20):
    """Newton-CG from the same start: exact hessp, or scipy's gradient differences."""
    objective = fastnn.Objective(LAYERS, X, y, 1.0)
    costs = []

    def callback(intermediate_result):
        costs.append(intermediate_result.fun)
        if target is not None and intermediate_result.fun <= target:
            raise StopIteration

    start = time.perf_counter()
    with fastnn.thread_limits():
        res = minimize(objective, fastnn.init_params(LAYERS, 0), jac=True, method="Newton-CG",
                       hessp=objective.hessp if exact else None, callback=callback,
                       options={"maxiter": maxiter if target is None else 5 * maxiter})
    return dict(n_iter=len(costs), cost=res.fun, nfev=res.nfev, njev=res.njev,
                seconds=time.perf_counter() - start)


def test_newton_cg_exact_vs_finite_difference_hessp(benchmark, digits):
    benchmark.group = "Newton-CG to the same cost: exact hessp vs scipy's finite differences"
    X, y = digits
    exact = newton_cg(X, y, exact=True)
    fd = benchmark.pedantic(newton_cg, args=(X, y, False, exact["cost"]), rounds=1)
    benchmark.extra_info.update({f"exact_{k}": v for k, v in exact.items()})
    benchmark.extra_info.update({f"fd_{k}": v for k, v in fd.items()})
    assert fd["cost"] <= exact["cost"] * 1.001 or fd["n_iter"] >= 100
