"""fastnn.dask on ``distributed.LocalCluster`` worker processes (loopback), beside fastnn in
memory and Spark MLlib.

    python -m pytest bench/test_dask_bench.py --benchmark-json=bench/test_dask_bench.json

- one evaluation on the 5000 digits, in memory and on dask: the round trip's overhead;
- one evaluation on LARGE rows (the digits shifted by one pixel each way, plus noise, made on
  the workers) with 1 and 2 workers of one thread each;
- the same rows from an ``.npy`` file on 2 workers whose memory limits add up to less than X
  (out of core: blocks spill to disk and are read back each evaluation); a few iterations;
- L-BFGS-B, 100 iterations end to end on the digits x 20 (100 000 rows): in memory, on dask
  (2 workers) and Spark MLlib (``local[2]``, its own process: ``bench/spark_mllib.py``).

Each cluster is started for its own benchmark and closed after it. Under --benchmark-disable
(CI's smoke run) the large sizes shrink and Spark is skipped when pyspark is not installed.
"""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster
from numpy.lib.format import open_memmap

import fastnn
import fastnn.dask

CLASSIC = (400, 25, 10)
LARGE = 2_000_000
BLOCK = 20_000  # rows per block: the digits in four shifts
SPARK_REPEAT = 20
SHIFTS = ((0, 1), (0, -1), (1, 1), (1, -1))  # (axis, step) of the 20 x 20 images


@pytest.fixture(scope="module")
def large_rows(request):
    return 40_000 if request.config.getoption("benchmark_disable") else LARGE


def cluster(n_workers, threads=1, **options):
    return LocalCluster(n_workers=n_workers, threads_per_worker=threads, processes=True,
                        host="127.0.0.1", dashboard_address=":0", **options)


@functools.cache
def _digits():
    return fastnn.load_digits()


def shifted_block(block_info=None):
    """Block b of the large X: the digits shifted one pixel each of four ways, plus noise on
    their non-zero pixels (the density of the digits), seeded by b."""
    X, _ = _digits()
    b = block_info[None]["chunk-location"][0]
    images = X.reshape(-1, 20, 20)
    shifted = np.concatenate([np.roll(images, step, axis=1 + axis) for axis, step in SHIFTS])
    noise = np.random.default_rng(b).normal(0.0, 0.05, shifted.shape)
    return (shifted + noise * (shifted != 0)).reshape(-1, 400)


def large_X(rows):
    return da.map_blocks(shifted_block, chunks=((BLOCK,) * (rows // BLOCK), (400,)),
                         dtype=np.float64, meta=np.empty((0, 0)))


def large_y(rows):
    return np.tile(_digits()[1], rows // _digits()[1].size)


def on_workers(client, X, blocks):
    """X in memory as a dask array of ``blocks`` blocks of rows scattered over the workers in
    turn (dask's advice for data already in memory: not embedded in the task graph)."""
    rows = -(-X.shape[0] // blocks)
    parts = [X[lo:lo + rows] for lo in range(0, X.shape[0], rows)]
    workers = sorted(client.scheduler_info()["workers"])
    futures = [client.scatter(part, workers=[workers[i % len(workers)]])
               for i, part in enumerate(parts)]
    return da.concatenate([da.from_delayed(future, shape=part.shape, dtype=part.dtype)
                           for future, part in zip(futures, parts)])


def evaluate(benchmark, objective, rounds):
    p = fastnn.init_params(CLASSIC, seed=0)
    objective(p)  # workers load the kernels from Numba's cache
    benchmark.pedantic(objective, args=(p,), rounds=rounds, iterations=1)


@pytest.mark.parametrize("impl", ["fastnn", "fastnn-dask 1x2", "fastnn-dask 2x1"])
def test_digits_evaluation(benchmark, digits, impl):
    """Workers x threads: 1x2 holds the digits in one block, 2x1 in two (one a worker)."""
    benchmark.group = "dask: one evaluation, 400-25-10, 5000 digits, f64"
    X, y = digits
    if impl == "fastnn":
        return evaluate(benchmark, fastnn.Objective(CLASSIC, X, y, 1.0), 50)
    workers, threads = (1, 2) if impl.endswith("1x2") else (2, 1)
    with cluster(workers, threads) as c, Client(c) as client:
        evaluate(benchmark, fastnn.dask.Objective(CLASSIC, on_workers(client, X, workers), y,
                                                  1.0), 50)


@pytest.mark.parametrize("impl", ["fastnn-dask 1x1", "fastnn-dask 2x1"])
def test_large_evaluation(benchmark, large_rows, impl):
    benchmark.group = f"dask: one evaluation, 400-25-10, {large_rows} rows, f64"
    workers = int(impl[-3])
    with cluster(workers) as c, Client(c):
        objective = fastnn.dask.Objective(CLASSIC, large_X(large_rows), large_y(large_rows), 1.0)
        evaluate(benchmark, objective, 3)
    benchmark.extra_info["x_gb"] = round(large_rows * 400 * 8 / 2**30, 2)


def test_out_of_core_training(benchmark, large_rows, tmp_path_factory):
    """X in an .npy file, 2 workers whose memory limits together are below X's size."""
    benchmark.group = f"dask: out of core, {large_rows} rows from .npy, L-BFGS-B 3 iterations"
    path = tmp_path_factory.mktemp("large") / "X.npy"
    large_X(large_rows).store(open_memmap(path, mode="w+", dtype=np.float64,
                                          shape=(large_rows, 400)))
    x_bytes = large_rows * 400 * 8
    limit = max(x_bytes // 3, 600 * 2**20)  # two workers: 2/3 of X (at least 600 MiB each)
    try:
        with cluster(2, memory_limit=limit) as c, Client(c) as client:
            X = fastnn.dask.from_npy(path, BLOCK)
            spilled = []  # blocks on the workers' disks after each iteration

            def count_spilled(state):
                spilled.append(sum(client.run(
                    lambda dask_worker: len(getattr(dask_worker.data, "slow", ()))).values()))

            result = benchmark.pedantic(fastnn.train, args=(X, large_y(large_rows)),
                                        kwargs=dict(maxiter=3, callback=count_spilled),
                                        rounds=1, iterations=1)
    finally:
        path.unlink()
    assert result.n_iter == 3 and np.isfinite(result.cost)
    benchmark.extra_info.update(x_gb=round(x_bytes / 2**30, 2),
                                worker_limit_gb=round(limit / 2**30, 2),
                                blocks=large_rows // BLOCK, spilled_blocks=max(spilled),
                                nfev=result.nfev,
                                per_evaluation_s=round(result.seconds / result.nfev, 2))


@pytest.mark.parametrize("impl", ["fastnn", "fastnn-dask 2x1", "spark-mllib local[2]"])
def test_lbfgs_100_iterations(benchmark, digits, impl):
    benchmark.group = (f"dask: L-BFGS-B 100 iterations, 400-25-10, digits x {SPARK_REPEAT} = "
                       f"{SPARK_REPEAT * 5000} rows")
    X, y = digits
    X, y = np.tile(X, (SPARK_REPEAT, 1)), np.tile(y, SPARK_REPEAT)
    run = dict(maxiter=100, tol=0.0)
    if impl == "fastnn":
        result = benchmark.pedantic(fastnn.train, args=(X, y), kwargs=run, rounds=1)
    elif impl.startswith("fastnn-dask"):
        with cluster(2) as c, Client(c) as client:
            result = benchmark.pedantic(fastnn.train, args=(on_workers(client, X, 2), y),
                                        kwargs=run, rounds=1)
    else:
        return spark(benchmark)
    benchmark.extra_info.update(n_iter=result.n_iter, train_accuracy=result.train_accuracy,
                                per_iteration_ms=round(1e3 * result.seconds / result.n_iter, 1))


def spark(benchmark):
    pytest.importorskip("pyspark", reason="Spark MLlib is timed with pip install pyspark")
    script = Path(__file__).with_name("spark_mllib.py")
    runs = []

    def fit():
        out = subprocess.run([sys.executable, str(script), str(SPARK_REPEAT), "20", "100"],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"}).stdout
        runs.append(json.loads(out.splitlines()[-1]))

    benchmark.pedantic(fit, rounds=1)
    seconds, iterations = runs[0]["seconds"], runs[0]["iterations"]
    per_iteration = (seconds["100"] - seconds["20"]) / (iterations["100"] - iterations["20"])
    benchmark.extra_info.update(compare_s=seconds["100"], fit_100_s=round(seconds["100"], 1),
                                fit_20_s=round(seconds["20"], 1), n_iter=iterations["100"],
                                per_iteration_ms=round(1e3 * per_iteration, 1),
                                train_accuracy=runs[0]["train_accuracy"], output="softmax")
