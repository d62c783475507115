"""fastnn: fast, checked, small fully-connected neural networks.

Layout and conventions: :mod:`fastnn.layout`. The same maths in plain numpy:
:mod:`fastnn.reference`.
"""

from .data import load_digits, load_mat, load_mat_weights
from . import plot
from .layout import debug_params, init_params, n_params, pack, unpack
from .model import Model, load_model, save_model
from ._threads import get_num_threads, set_num_threads, thread_limits
from .estimator import NeuralNetClassifier, NeuralNetRegressor, NotFittedError
from .gradcheck import GradientCheck, check_gradients, check_nn_gradients
from .network import Objective, cost_grad, outputs, predict, predict_proba
from .optimize import minimize
from .train import SweepRow, TrainResult, format_sweep, stratified_split, sweep, train
from ._warmup import warmup

__version__ = "0.1.0"

__all__ = [
    "GradientCheck",
    "Model",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
    "NotFittedError",
    "Objective",
    "SweepRow",
    "TrainResult",
    "check_gradients",
    "check_nn_gradients",
    "cost_grad",
    "debug_params",
    "format_sweep",
    "get_num_threads",
    "init_params",
    "load_digits",
    "load_mat",
    "load_mat_weights",
    "load_model",
    "minimize",
    "n_params",
    "outputs",
    "pack",
    "predict",
    "plot",
    "predict_proba",
    "save_model",
    "set_num_threads",
    "stratified_split",
    "sweep",
    "thread_limits",
    "train",
    "unpack",
    "warmup",
]
