"""fastnn.dask on a real ``distributed.LocalCluster``: worker processes on loopback, every test
bounded in time. The oracle is fastnn in memory on the same rows; faults are real (a worker
process killed with SIGKILL, a SIGINT to a training process)."""

import os
import signal
import subprocess
import sys
import threading
import time

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.sparse
from distributed import Client, LocalCluster

import fastnn
import fastnn.dask
from fastnn.rows import Rows, make_rows
from conftest import REORDERED_RTOL as RTOL
from conftest import assert_close, interrupt_training, subprocess_env

pytestmark = pytest.mark.timeout(300)

CHUNKS = (300, 300, 350, 250)  # four blocks of rows, one of them longer
CLASSIC = (400, 25, 10)


def local_cluster(n_workers=2, threads_per_worker=1):
    return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                        processes=True, host="127.0.0.1", dashboard_address=":0")


@pytest.fixture(scope="module")
def cluster():
    with local_cluster() as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    with Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def rows(digits):
    """1200 digits of every class, in a shuffled order."""
    X, y = digits
    pick = np.random.default_rng(0).permutation(y.size)[:sum(CHUNKS)]
    return X[pick], y[pick]


def on_dask(X, y, chunks=CHUNKS):
    return da.from_array(X, chunks=(chunks, -1)), da.from_array(y, chunks=(chunks,))


def is_prepared(key):
    """A key of a block prepared on a worker (fastnn.dask's task ``_prepare``)."""
    return str(key).startswith("_prepare")


def prepared_blocks(client):
    """``{key: workers holding it}`` of every prepared block."""
    return {key: set(workers) for key, workers in client.who_has().items()
            if is_prepared(key)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layers", [CLASSIC, (400, 64, 10)], ids=["fused", "blas"])
def test_cost_gradient_and_hessp_equal_in_memory(client, rows, layers, dtype):
    X, y = rows
    params = fastnn.init_params(layers, 1)
    v = np.random.default_rng(2).standard_normal(params.size)
    here = fastnn.Objective(layers, X, y, 0.7, dtype=dtype)
    there = fastnn.dask.Objective(layers, *on_dask(X, y), 0.7, dtype=dtype)
    J, grad = there(params)
    assert isinstance(J, float) and grad.dtype == np.float64 and grad.shape == params.shape
    assert J == pytest.approx(here(params)[0], rel=RTOL[dtype])
    assert_close(grad, here(params)[1], RTOL[dtype])
    assert_close(there.hessp(params, v), here.hessp(params, v), RTOL[dtype])


@pytest.mark.parametrize("activation,output", [("relu", "softmax"), ("tanh", "identity")])
def test_other_units_and_sample_weights_equal_in_memory(client, rows, activation, output):
    """Targets and weights travel to the blocks: dask arrays with X's chunks, both."""
    X, labels = rows
    y = X[:, 150:152] if output == "identity" else labels
    layers = (400, 25, y.shape[1] if output == "identity" else 10)
    s = np.random.default_rng(5).uniform(0, 2, len(X))
    params = fastnn.init_params(layers, 1, activation=activation)
    v = np.random.default_rng(2).standard_normal(params.size)
    units = dict(activation=activation, output=output)
    here = fastnn.Objective(layers, X, y, 0.7, sample_weight=s, **units)
    Xd = da.from_array(X, chunks=(CHUNKS, -1))
    there = fastnn.dask.Objective(layers, Xd, da.from_array(y, chunks=(CHUNKS,) + y.shape[1:]),
                                  0.7, sample_weight=da.from_array(s, chunks=(CHUNKS,)), **units)
    J, grad = there(params)
    assert J == pytest.approx(here(params)[0], rel=RTOL[np.float64])
    assert_close(grad, here(params)[1], RTOL[np.float64])
    assert_close(there.hessp(params, v), here.hessp(params, v), RTOL[np.float64])
    np.testing.assert_allclose(fastnn.outputs(params, layers, Xd, **units).compute(),
                               fastnn.outputs(params, layers, X, **units), rtol=1e-12)


def test_the_regressor_fits_dask_arrays_as_in_memory(client, rows):
    X, _ = rows
    y = X[:, 200] - X[:, 210]
    kwargs = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0)
    there = fastnn.NeuralNetRegressor(**kwargs).fit(da.from_array(X, chunks=(CHUNKS, -1)),
                                                   da.from_array(y, chunks=(CHUNKS,)))
    here = fastnn.NeuralNetRegressor(**kwargs).fit(X, y)
    np.testing.assert_allclose(there.loss_curve_, here.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(there.predict(da.from_array(X, chunks=(CHUNKS, -1))).compute(),
                               here.predict(X), rtol=1e-8, atol=1e-12)


def test_the_same_bits_call_to_call_for_any_number_of_workers(client, rows):
    X, y = rows
    params = fastnn.init_params(CLASSIC, 3)
    v = np.random.default_rng(4).standard_normal(params.size)

    def evaluate():
        objective = fastnn.dask.Objective(CLASSIC, *on_dask(X, y), 1.0)
        return [objective(params), objective(params), objective.hessp(params, v)]

    two_workers = evaluate()
    client.close()
    with dask.config.set(scheduler="threads"):  # a closed client stays dask's default
        no_client = evaluate()  # blocks in this process
    with local_cluster(n_workers=1, threads_per_worker=2) as one, Client(one):
        one_worker = evaluate()
    for (J, grad), (J2, grad2) in [(two_workers[0], two_workers[1]), (two_workers[0], no_client[0]),
                                   (two_workers[0], one_worker[0])]:
        assert J == J2 and np.array_equal(grad, grad2)
    assert np.array_equal(two_workers[2], no_client[2])
    assert np.array_equal(two_workers[2], one_worker[2])


def test_both_rows_types_keep_the_rows_protocol(client, rows):
    """In memory and on dask: the same protocol, the same answers (sums to rounding: the
    blocks' are added in block order)."""
    X, y = rows
    params, v = fastnn.init_params(CLASSIC, 3), np.random.default_rng(1).standard_normal(10285)
    here = make_rows(CLASSIC, X, y, keep=True)
    there = make_rows(CLASSIC, *on_dask(X, y), keep=True)
    for each in (here, there):
        assert isinstance(each, Rows)
        assert each.layers == CLASSIC and each.m == len(y) and each.dtype is np.float64
        np.testing.assert_array_equal(each.y, y)
    np.testing.assert_array_equal(there.labels(params), here.labels(params))
    (loss, grad), (loss_there, grad_there) = here.sums(params), there.sums(params)
    assert loss_there == pytest.approx(loss, rel=RTOL[np.float64])
    assert_close(grad_there, grad, RTOL[np.float64])
    assert_close(there.hessp_sums(params, v), here.hessp_sums(params, v), RTOL[np.float64])


def test_blocks_stay_on_the_workers_between_evaluations(client, rows):
    """Prepared once: the prepared blocks are futures held on the workers, and evaluating
    runs no new preparation."""
    X, y = rows
    objective = fastnn.dask.Objective(CLASSIC, *on_dask(X, y), 1.0)
    blocks = prepared_blocks(client)
    assert len(blocks) == len(CHUNKS) and all(blocks.values())
    before = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
    objective(fastnn.init_params(CLASSIC, 0))
    objective(fastnn.init_params(CLASSIC, 1))
    assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == before
    assert prepared_blocks(client) == blocks
    sizes = client.run(lambda dask_worker: [dask.sizeof.sizeof(block) for key, block in
                                            dask_worker.data.items() if is_prepared(key)])
    assert min(size for held in sizes.values() for size in held) >= min(CHUNKS) * 400 * 8


def test_sparse_blocks_equal_dense(client, rows):
    X, y = rows
    Xd, yd = on_dask(X, y)
    params = fastnn.init_params(CLASSIC, 5)
    sparse = Xd.map_blocks(scipy.sparse.csr_matrix, meta=scipy.sparse.csr_matrix((0, 0)))
    J, grad = fastnn.dask.Objective(CLASSIC, sparse, yd, 1.0)(params)
    J0, grad0 = fastnn.Objective(CLASSIC, X, y, 1.0)(params)
    assert J == pytest.approx(J0, rel=1e-12)
    assert_close(grad, grad0, 1e-12)


def test_training_matches_in_memory_with_validation_callback_and_progress(client, rows, capsys):
    X, y = rows
    seen = []
    kwargs = dict(maxiter=20, validation=0.2, seed=1, progress=True)
    there = fastnn.train(*on_dask(X, y), callback=lambda s: seen.append((s.nit, s.fun)),
                         **kwargs)
    here = fastnn.train(X, y, **kwargs)
    assert there.stopped == here.stopped == "maxiter" and there.n_iter == here.n_iter == 20
    np.testing.assert_allclose(there.costs, here.costs, rtol=1e-9)
    np.testing.assert_array_equal(there.validation_rows, here.validation_rows)
    assert there.train_accuracy == pytest.approx(here.train_accuracy, abs=1 / X.shape[0])
    assert there.validation_accuracy == pytest.approx(here.validation_accuracy, abs=1 / 240)
    assert [nit for nit, _ in seen] == list(range(1, 21))
    assert [J for _, J in seen] == there.costs
    assert "training (L-BFGS-B)" in capsys.readouterr().err


def test_a_validation_pair_on_dask_is_scored_on_the_workers(client, rows):
    X, y = rows
    held = (slice(0, 900), slice(900, None))
    there = fastnn.train(*on_dask(X[held[0]], y[held[0]], (300, 300, 300)), maxiter=10,
                         validation=on_dask(X[held[1]], y[held[1]], (300,)))
    here = fastnn.train(X[held[0]], y[held[0]], maxiter=10, validation=(X[held[1]], y[held[1]]))
    np.testing.assert_allclose(there.costs, here.costs, rtol=1e-9)
    assert there.validation_accuracy == pytest.approx(here.validation_accuracy, abs=1 / 300)


def test_every_entry_point_takes_a_dask_X_but_the_checker(client, rows):
    """One Objective: fastnn.Objective and cost_grad read a dask X on the workers (the same
    J as in memory); the checker, which reads X in this process, refuses it by name."""
    X, y = rows
    Xd, yd = on_dask(X, y)
    params = fastnn.init_params(CLASSIC, 0)
    J, grad = fastnn.Objective(CLASSIC, X, y, 1.0)(params)
    for there in (fastnn.Objective(CLASSIC, Xd, yd, 1.0)(params),
                  fastnn.cost_grad(params, CLASSIC, Xd, yd, 1.0)):
        assert there[0] == pytest.approx(J, rel=RTOL[np.float64])
        assert_close(there[1], grad, RTOL[np.float64])
    assert fastnn.dask.Objective is fastnn.Objective
    with pytest.raises(TypeError, match="X is a dask Array: check_gradients reads X in this"):
        fastnn.check_gradients(params, CLASSIC, Xd, yd)


def test_a_dask_X_without_fastnn_dask_is_refused_not_computed():
    """Before ``import fastnn.dask``, fastnn does not know dask: a dask X gets an error that
    says what to import (not np.asarray, which would compute all of X here)."""
    code = ("import dask.array as da, numpy as np, fastnn\n"
            "X = da.zeros((8, 3), chunks=4)\n"
            "for call in (lambda: fastnn.predict(np.zeros(fastnn.n_params((3, 2))), (3, 2), X),\n"
            "             lambda: fastnn.train(X, np.zeros(8, int))):\n"
            "    try:\n"
            "        call()\n"
            "    except TypeError as err:\n"
            "        print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=subprocess_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all("X is a dask Array: import fastnn.dask first" in line
                                   for line in lines)


@pytest.mark.parametrize("method", ["Newton-CG", "gd"])
def test_other_methods_and_a_callbacks_stop(client, rows, method):
    X, y = rows

    def stop_at_3(state):
        if state.nit == 3:
            raise StopIteration

    result = fastnn.train(*on_dask(X, y), method=method, maxiter=50, callback=stop_at_3)
    here = fastnn.train(X, y, method=method, maxiter=50, callback=stop_at_3)
    assert result.stopped == "callback" and result.n_iter == 3
    np.testing.assert_allclose(result.costs, here.costs, rtol=1e-9)


def test_prediction_is_lazy_blockwise_and_equal_in_memory(client, rows):
    X, y = rows
    Xd, _ = on_dask(X, y)
    params = fastnn.init_params(CLASSIC, 6)
    for function in (fastnn.predict, fastnn.predict_proba, fastnn.outputs):
        lazy = function(params, CLASSIC, Xd)
        assert isinstance(lazy, da.Array) and lazy.chunks[0] == CHUNKS
        np.testing.assert_array_equal(lazy.compute(), function(params, CLASSIC, X))
    poisoned = Xd.map_blocks(lambda b, block_info=None: np.where(
        block_info[0]["chunk-location"][0] == 2, np.nan, b), dtype=Xd.dtype)
    labels = fastnn.predict(params, CLASSIC, poisoned)  # nothing computed yet: no error
    with pytest.raises(ValueError, match=r"X block 2 \(rows 600..949\): X must be finite"):
        labels.compute()


def test_estimator_fits_and_predicts_dask_arrays(client, rows):
    X, y = rows
    names = np.array(list("abcdefghij"))
    Xd, yd = on_dask(X, names[y])
    kwargs = dict(max_iter=15, early_stopping=True, n_iter_no_change=50, random_state=0)
    there = fastnn.NeuralNetClassifier(**kwargs).fit(Xd, yd)
    here = fastnn.NeuralNetClassifier(**kwargs).fit(X, names[y])
    np.testing.assert_array_equal(there.classes_, here.classes_)
    np.testing.assert_allclose(there.loss_curve_, here.loss_curve_, rtol=1e-9)
    assert there.validation_scores_ == pytest.approx(here.validation_scores_, abs=1e-2)
    predicted = there.predict(Xd)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), there.predict(X))
    np.testing.assert_allclose(there.predict_proba(Xd).compute(), there.predict_proba(X),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="X must have 400 features"):
        there.predict(Xd[:, :399])


def test_X_on_disk_zarr_and_npy_trains_through_the_same_path(client, rows, tmp_path):
    X, y = rows
    np.save(tmp_path / "X.npy", X)
    da.from_array(X, chunks=(300, -1)).to_zarr(str(tmp_path / "X.zarr"))
    params = fastnn.init_params(CLASSIC, 7)
    J0, grad0 = fastnn.Objective(CLASSIC, X, y, 1.0)(params)
    for source in (fastnn.dask.from_npy(tmp_path / "X.npy", 300),
                   da.from_zarr(str(tmp_path / "X.zarr"))):
        assert source.chunks[0] == (300,) * 4
        J, grad = fastnn.dask.Objective(CLASSIC, source, y, 1.0)(params)
        assert J == pytest.approx(J0, rel=1e-12)
        assert_close(grad, grad0, 1e-12)


def worker_pids(client):
    return client.run(os.getpid)


@pytest.fixture
def own_cluster():
    """A cluster of its own for the tests that kill its workers."""
    with local_cluster() as cluster, Client(cluster) as client:
        yield client


def test_a_worker_killed_between_evaluations_costs_time_not_the_answer(own_cluster, rows):
    client = own_cluster
    X, y = rows
    kwargs = dict(maxiter=15, seed=2)
    undisturbed = fastnn.train(*on_dask(X, y), **kwargs)
    killed = []

    def kill_at_5(state):
        if state.nit == 5:  # kill a worker that holds prepared blocks
            victim = min(next(iter(prepared_blocks(client).values())))
            killed.append(worker_pids(client)[victim])
            os.kill(killed[0], signal.SIGKILL)

    result = fastnn.train(*on_dask(X, y), callback=kill_at_5, **kwargs)
    assert killed and killed[0] not in worker_pids(client).values()
    assert result.stopped == "maxiter" and result.n_iter == 15
    assert result.costs == undisturbed.costs
    np.testing.assert_array_equal(result.params, undisturbed.params)


def test_a_worker_killed_during_an_evaluation_costs_time_not_the_answer(own_cluster, rows):
    """A worker holding a prepared block is stopped (SIGSTOP), so the evaluation cannot
    finish without it; it is killed while the evaluation waits."""
    client = own_cluster
    X, y = rows
    objective = fastnn.dask.Objective(CLASSIC, *on_dask(X, y), 1.0)
    params = fastnn.init_params(CLASSIC, 8)
    expected = objective(params)
    victim = worker_pids(client)[min(next(iter(prepared_blocks(client).values())))]
    os.kill(victim, signal.SIGSTOP)
    answer = []
    evaluation = threading.Thread(target=lambda: answer.append(objective(params)))
    evaluation.start()
    time.sleep(1.0)
    assert evaluation.is_alive()  # waiting on the stopped worker
    os.kill(victim, signal.SIGKILL)
    evaluation.join(timeout=120)
    assert not evaluation.is_alive()
    J, grad = answer[0]
    assert J == expected[0] and np.array_equal(grad, expected[1])
    assert victim not in worker_pids(client).values()


def test_bad_input_is_named_by_block_before_training(client, rows):
    X, y = rows
    Xd, yd = on_dask(X, y)
    with pytest.raises(ValueError, match=r"chunked across columns: its block \(0, 1\) holds "
                                         r"columns 200..399 of 400.*X.rechunk"):
        fastnn.dask.Objective(CLASSIC, Xd.rechunk({1: 200}), yd)
    with pytest.raises(ValueError, match=r"y must be a dask array with X's row chunks"):
        fastnn.dask.Objective(CLASSIC, Xd, da.from_array(y, chunks=400))
    bad = y.copy()
    bad[700] = 10
    with pytest.raises(ValueError, match=r"y block 2 \(rows 600..949\): y labels must lie in "
                                         r"0..9"):
        fastnn.dask.Objective(CLASSIC, Xd, da.from_array(bad, chunks=(CHUNKS,)))
    holed = X.copy()
    holed[400, 3] = np.inf
    calls = []
    with pytest.raises(ValueError, match=r"X block 1 \(rows 300..599\): X must be finite"):
        fastnn.train(*on_dask(holed, y), callback=calls.append)
    assert calls == []
    with pytest.raises(ValueError, match=r"row chunks are unknown"):
        fastnn.dask.Objective(CLASSIC, Xd[Xd[:, 0] >= 0], yd)
    with pytest.raises(TypeError, match="X must hold real numbers"):
        fastnn.dask.Objective(CLASSIC, Xd.astype(complex), yd)
    with pytest.raises(ValueError, match="X must have 400 features"):
        fastnn.dask.Objective(CLASSIC, Xd[:, :300], yd)
    with pytest.raises(ValueError, match="y must be a 1-D vector of 1200 labels"):
        fastnn.dask.Objective(CLASSIC, Xd, y[:-1])


INTERRUPTED = """
import json, sys
import dask.array as da
from distributed import Client, LocalCluster
import fastnn, fastnn.dask

if __name__ == "__main__":
    X, y = fastnn.load_digits()
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=":0") as cluster, Client(cluster):
        Xd, yd = da.from_array(X, chunks=(1250, -1)), da.from_array(y, chunks=1250)

        def started(state):
            if state.nit == 2:
                print("started", flush=True)

        r = fastnn.train(Xd, yd, maxiter=100000, tol=0.0, callback=started)
        J = fastnn.cost_grad(r.params, r.layers, X, y, 1.0)[0]
        print(json.dumps({"stopped": r.stopped, "n_iter": r.n_iter, "cost": r.cost, "J": J,
                          "best": min(r.costs)}))
"""


def test_a_real_ctrl_c_returns_the_best_result_so_far(tmp_path):
    script = tmp_path / "interrupted.py"  # a file: the workers' spawn start re-imports it
    script.write_text(INTERRUPTED)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=subprocess_env(PYTHONWARNINGS="ignore"))
    interrupt_training(proc, started_within=240)


def test_without_dask_fastnn_works_and_fastnn_dask_says_what_to_install():
    code = """
import sys
sys.modules["dask"] = sys.modules["distributed"] = None  # as if not installed
import numpy as np, fastnn
X, y = np.eye(4), np.array([0, 1, 0, 1])
r = fastnn.train(X, y, hidden=(3,), maxiter=5)
print(r.n_iter, fastnn.predict(r.params, r.layers, X).shape)
try:
    import fastnn.dask
except ImportError as err:
    print(err)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=subprocess_env(), timeout=120, check=True).stdout
    assert out.splitlines()[0].endswith("(4,)")
    assert "fastnn.dask needs dask: pip install 'fastnn[dask]'" in out


def test_predicting_on_dask_needs_dask_array_alone(rows, tmp_path):
    """Without distributed (dask's own scheduler, in this process), fastnn.dask imports and
    predicts lazily, block by block, as in memory."""
    code = """
import sys
sys.modules["distributed"] = None  # as if not installed
import dask.array as da, numpy as np, fastnn, fastnn.dask
X = np.load(sys.argv[1])
params = fastnn.init_params((400, 25, 10), 0)
labels = fastnn.predict(params, (400, 25, 10), da.from_array(X, chunks=(300, -1)))
print(type(labels).__name__, (labels.compute() == fastnn.predict(params, (400, 25, 10), X)).all())
"""
    path = tmp_path / "rows.npy"
    np.save(path, rows[0])
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         env=subprocess_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Array", "True"]
