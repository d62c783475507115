"""Benchmark set-up: every implementation gets the same number of threads."""

import numba
import pytest
from threadpoolctl import threadpool_limits

import fastnn
from matrix import cpu

THREADS = numba.config.NUMBA_NUM_THREADS


@pytest.fixture(scope="session", autouse=True)
def same_threads():
    """Numba, BLAS and PyTorch all at THREADS; compile fastnn's kernels before any timing."""
    try:
        import torch
        torch.set_num_threads(THREADS)
    except ImportError:
        pass
    fastnn.set_num_threads(THREADS)
    fastnn.warmup()
    with threadpool_limits(limits=THREADS, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def digits():
    return fastnn.load_digits()


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record the versions that the report prints beside the tables."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("fastnn", "numpy", "scipy", "numba", "torch", "jax", "scikit-learn"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
    machine_info["versions"] = versions
    machine_info["threads"] = THREADS
    machine_info["machine"] = cpu()  # the CPU's model, LLVM's name for it, fastnn's vectors
