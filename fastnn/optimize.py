"""``fastnn.minimize``: ``scipy.optimize.minimize`` with the BLAS pools held at one thread for
the whole loop.

scipy's optimizers call BLAS and LAPACK between evaluations (L-BFGS-B solves a small
triangular system every iteration). OpenBLAS wakes its worker threads even for a 10 x 10
solve, and they then busy-wait for a while on the cores that fastnn's next call wants: the
user's loop as written runs several times slower than its evaluations. Limits set inside each
fastnn call come too late (the workers already spin); holding BLAS at one thread for the
whole loop avoids them, as ``fastnn.train`` does. The caller's BLAS settings come back when
the loop ends, however it ends (an exception, Ctrl-C).
"""

import numba

from ._threads import thread_limits

HESSP_METHODS = ("Newton-CG", "trust-ncg", "trust-krylov")  # scipy's that take hessp alone


def minimize(fun, x0, *args, **kwargs):
    """``scipy.optimize.minimize(fun, x0, *args, **kwargs)`` run with every BLAS pool at one
    thread (fastnn's kernels keep the caller's Numba threads): the same arguments, the same
    ``OptimizeResult``.

    >>> import numpy as np, fastnn
    >>> X, y = np.eye(3), np.array([0, 1, 2])
    >>> objective = fastnn.Objective((3, 2, 3), X, y, lam=0.1)
    >>> result = fastnn.minimize(objective, np.zeros(objective.n_params), jac=True)
    >>> bool(result.fun < objective(np.zeros(objective.n_params))[0])
    True
    """
    from scipy.optimize import minimize as scipy_minimize  # 0.4 s to import: when first used

    with thread_limits(numba.get_num_threads()):
        return scipy_minimize(fun, x0, *args, **kwargs)
