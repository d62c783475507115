"""fastnn: fast, checked, small fully-connected sigmoid networks.

Layout and conventions: :mod:`fastnn.layout`. The same maths in plain numpy:
:mod:`fastnn.reference`.
"""

from .data import load_digits, load_mat, load_mat_weights
from .layout import debug_params, init_params, n_params, pack, unpack
from ._threads import get_num_threads, set_num_threads, thread_limits
from .gradcheck import GradientCheck, check_gradients, check_nn_gradients
from .network import Objective, cost_grad, predict, predict_proba, warmup

__version__ = "0.1.0"

__all__ = [
    "GradientCheck",
    "Objective",
    "check_gradients",
    "check_nn_gradients",
    "cost_grad",
    "debug_params",
    "get_num_threads",
    "init_params",
    "load_digits",
    "load_mat",
    "load_mat_weights",
    "n_params",
    "pack",
    "predict",
    "predict_proba",
    "set_num_threads",
    "thread_limits",
    "unpack",
    "warmup",
]
