"""Plans and paths: the fused and BLAS plans and every vector width the CPU has, each against
the numpy reference; the plan chosen from shape and density; BLAS pools guarded in each call."""

import json
import subprocess
import sys
from contextlib import contextmanager

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import fastnn
from fastnn import _isa, _jit, kernels, reference
from fastnn._threads import blas_held_at_one
from fastnn.rows import choose_plan, make_rows
from fastnn.tunables import BLAS_FORWARD_FROM_L2_SHARE, BLAS_FORWARD_FROM_WEIGHTS, BLAS_FROM_WEIGHTS
from conftest import DTYPES, RTOL, assert_close, problem, sparse_problem, subprocess_env

SHAPES = [(37, 11, 5), (3, 1, 2), (400, 30, 20, 10), (16, 16, 4), (20, 70, 3), (9, 5)]
PLANS = ["fused", "blas"]


def on_plan(plan, params, layers, X, y, lam, dtype):
    rows = make_rows(layers, X, y, dtype, plan=plan)
    return rows, fastnn.Objective.on(rows, lam)(params)


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layers", SHAPES, ids=str)
@pytest.mark.parametrize("make", [problem, sparse_problem], ids=["dense", "sparse"])
def test_each_plan_matches_the_reference(plan, dtype, layers, make):
    """cost_grad and the forward states (every unit) on rows that leave a partial tile."""
    params, X, y = make(layers, 300 if layers[0] > 3 else 40, seed=3, scale=2.0)
    data, (J, grad) = on_plan(plan, params, layers, X, y, 0.7, dtype)
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y, 0.7, dtype)
    assert J == pytest.approx(J_ref, rel=RTOL[dtype])
    assert_close(grad, grad_ref, RTOL[dtype])
    units = sum(layers[1:])
    pre, act, read = data.forward(params, units, units)
    activations = np.hstack(reference.forward(params, layers, X, dtype)[1:])
    np.testing.assert_allclose(act, activations, rtol=RTOL[dtype], atol=1e-7)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(1 / (1 + np.exp(-pre.astype(np.float64))), activations,
                                   rtol=10 * RTOL[dtype], atol=1e-6)


@pytest.mark.parametrize("tile", [32, 100, 512])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layers", [(20, 70, 3), (400, 30, 20, 10)], ids=str)
def test_blas_tiles_of_any_size_match_the_reference(tile, dtype, layers):
    """Many tiles per chunk, a partial last tile, chunks of unequal length (m = 1100)."""
    params, X, y = sparse_problem(layers, 1100, seed=5)
    data = make_rows(layers, X, y, dtype)
    w = params.astype(dtype)
    loss, grad, read = kernels.tiled_cost_grad_sums(data.X, data.targets, data.weights, w,
                                                    data.sizes, data.codes, tile, True)
    assert read == pytest.approx(np.abs(data.X.astype(np.float64)).sum(), rel=1e-12)
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y, 0.0, dtype)
    assert loss / 1100 == pytest.approx(J_ref, rel=RTOL[dtype])
    assert_close(grad / 1100, grad_ref, RTOL[dtype])
    pre, act, read = kernels.tiled_forward_states(data.X, w, data.sizes, data.codes, 0,
                                                  layers[-1], tile)
    np.testing.assert_allclose(act, reference.outputs(params, layers, X, dtype),
                               rtol=RTOL[dtype], atol=1e-7)
    assert read == pytest.approx(np.abs(data.X.astype(np.float64)).sum(), rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_plans_agree_with_each_other_on_a_saturated_net(dtype):
    """Weights of +-30: sigmoids at 0 and 1 in every layer, a finite cost on both plans."""
    layers = (30, 12, 4)
    params, X, y = problem(layers, 200, seed=4, scale=30.0)
    (_, (J_f, g_f)), (_, (J_b, g_b)) = (on_plan(p, params, layers, X, y, 0.0, dtype)
                                        for p in PLANS)
    assert np.isfinite(J_f) and J_b == pytest.approx(J_f, rel=RTOL[dtype])
    assert_close(g_b, g_f, 10 * RTOL[dtype])


def test_the_plan_follows_the_largest_layer():
    """BLAS from BLAS_FROM_WEIGHTS weights in a layer (biases included), whatever X; for rows
    read by forward passes alone (predictions), from BLAS_FORWARD_FROM_WEIGHTS, or on 8-row
    tiles from weights filling BLAS_FORWARD_FROM_L2_SHARE of a core's L2, in either dtype."""
    digits_X, digits_y = fastnn.load_digits()
    params, X, y = problem((400, 25, 10), 64)
    assert fastnn.Objective((400, 25, 10), digits_X, digits_y).plan == "fused"
    assert fastnn.Objective((400, 25, 10), X, y).plan == "fused"  # dense X too
    assert fastnn.Objective((400, 50, 10), X, y).plan == "blas"  # 401 x 50 weights
    assert "plan='fused'" in repr(fastnn.Objective((16, 16, 4), X[:, :16], y % 4))
    below, at = BLAS_FROM_WEIGHTS // 101 - 1, -(-BLAS_FROM_WEIGHTS // 101)  # 100 inputs
    assert choose_plan((100, below, 3)) == "fused" and choose_plan((100, at, 3)) == "blas"
    assert choose_plan((3, 2, at, 100, 2)) == "blas"  # any layer: here the third's
    for dtype in (np.float32, np.float64):
        limit = (BLAS_FORWARD_FROM_L2_SHARE * _isa.L2_BYTES / np.dtype(dtype).itemsize
                 if _isa.TILE_ROWS == 8 and _isa.L2_BYTES else BLAS_FORWARD_FROM_WEIGHTS)
        below, at = int(limit // 101) - 1, -int(-limit // 101)
        assert choose_plan((100, below, 3), forward=True, dtype=dtype) == "fused"
        assert choose_plan((100, at, 3), forward=True, dtype=dtype) == "blas"
        assert make_rows((100, at, 3), X[:, :100], dtype=dtype, read_once=True).plan == "blas"
        assert make_rows((100, below, 3), X[:, :100], dtype=dtype,
                         read_once=True).plan == "fused"


def test_the_l2_size_comes_from_sysfs(tmp_path):
    """A core's L2 from Linux's cache folder: the level-2 index's size, in K or M; None where
    there is no such folder or it makes no sense."""
    for index, (level, size) in enumerate([("1", "48K"), ("2", "2048K"), ("3", "480M")]):
        (tmp_path / f"index{index}").mkdir()
        (tmp_path / f"index{index}" / "level").write_text(level + "\n")
        (tmp_path / f"index{index}" / "size").write_text(size + "\n")
    assert _isa.l2_bytes(tmp_path) == 2048 * 1024
    (tmp_path / "index1" / "size").write_text("1M\n")
    assert _isa.l2_bytes(tmp_path) == 1 << 20
    (tmp_path / "index1" / "size").write_text("large\n")
    assert _isa.l2_bytes(tmp_path) is None
    assert _isa.l2_bytes(tmp_path / "absent") is None


# --- vector widths: every width the host has, each in a process of its own --------------------

WIDTH_RUN = """
import json, numpy as np, fastnn
from fastnn import _isa, kernels, reference
from fastnn.kernels.packing import placement
rng = np.random.default_rng(0)
errors = {}
for layers in [(37, 11, 5), (400, 25, 10), (20, 70, 3)]:
    p = rng.uniform(-2, 2, fastnn.n_params(layers))
    X = rng.random((301, layers[0])); X[X < 0.6] = 0; y = rng.integers(0, layers[-1], 301)
    for dtype in (np.float64, np.float32):
        J, g = fastnn.Objective(layers, X, y, 0.5, dtype=dtype)(p)
        Jr, gr = reference.cost_grad(p, layers, X, y, 0.5, dtype)
        Jd, gd = fastnn.cost_grad(p, layers, X, y, 0.5, dtype)  # columns found group by group
        h = fastnn.outputs(p, layers, X, dtype=dtype)
        name = "-".join(map(str, layers)) + " " + np.dtype(dtype).name
        errors[name] = max(abs(J - Jr) / Jr, float(np.linalg.norm(g - gr) / np.linalg.norm(gr)),
                           abs(Jd - Jr) / Jr, float(np.linalg.norm(gd - gr) / np.linalg.norm(gr)),
                           float(np.abs(h - reference.outputs(p, layers, X, dtype)).max()))
    v = rng.standard_normal(p.size)
    hv = fastnn.Objective(layers, X, y, 0.5).hessp(p, v)
    g_at = lambda q: reference.cost_grad(q, layers, X, y, 0.5)[1]
    hr = (g_at(p + 1e-5 * v) - g_at(p - 1e-5 * v)) / 2e-5
    errors["hessp " + "-".join(map(str, layers))] = float(np.linalg.norm(hv - hr)
                                                          / np.linalg.norm(hr))
padded = {np.dtype(t).name: int(placement(np.array([9, 1, 1]), np.zeros(1, t)).padded[1])
          for t in (np.float64, np.float32)}  # one unit padded to a whole vector: its lanes
print(json.dumps({"bytes": _isa.VECTOR_BYTES, "padded": padded, "errors": errors}), flush=True)
"""


@pytest.mark.jit
@pytest.mark.parametrize("width", [w for w in _isa.WIDTHS if w <= _isa.HOST_VECTOR_BYTES])
def test_every_vector_width_of_the_host_matches_the_reference(width):
    out = subprocess.run([sys.executable, "-c", WIDTH_RUN], capture_output=True, text=True,
                         env=subprocess_env(FASTNN_VECTOR_BYTES=str(width)), timeout=900)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["bytes"] == width
    assert result["padded"] == {"float64": width // 8, "float32": width // 4}
    for name, error in result["errors"].items():
        bound = 1e-6 if "hessp" in name else 1e-9 if "float64" in name else 1e-3
        assert error < bound, (name, error)


def test_host_width_from_cpu_features():
    assert _isa.host_vector_bytes({"avx512f": True, "avx2": True, "avx": True}) == 64
    assert _isa.host_vector_bytes({"avx512f": False, "avx2": True, "avx": True}) == 32
    assert _isa.host_vector_bytes({"sse2": True}) == 16
    assert _isa.chosen_vector_bytes("", host=64) == 64
    assert _isa.chosen_vector_bytes("16", host=32) == 16


@pytest.mark.parametrize("setting", ["64", "8", "wide"])
def test_a_width_the_host_lacks_is_refused(setting):
    with pytest.raises(ValueError, match="FASTNN_VECTOR_BYTES must be one of 16, 32 on this CPU"):
        _isa.chosen_vector_bytes(setting, host=32)


# --- BLAS pools: held at one thread inside each call, as they were after ----------------------

def blas_threads():
    return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info()
                  if i["user_api"] == "blas")


@pytest.mark.parametrize("layers", [(400, 25, 10), (30, 80, 4)], ids=str)
def test_a_call_right_after_blas_work_gives_the_same_bits_and_leaves_blas_as_it_was(layers):
    params, X, y = problem(layers, 700)
    objective = fastnn.Objective(layers, X, y, 1.0)
    quiet = objective(params)
    a = np.random.default_rng(0).random((300, 300))
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        for _ in range(3):
            a @ a  # leaves BLAS threads spinning
            J, grad = objective(params)
            assert J == quiet[0]
            np.testing.assert_array_equal(grad, quiet[1])
            np.testing.assert_array_equal(fastnn.predict(params, layers, X),
                                          reference.predict(params, layers, X))
        assert blas_threads() == before


def test_blas_is_at_one_thread_inside_a_kernel_call_and_as_it_was_after():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with blas_held_at_one():
            assert {n for _, n in blas_threads()} == {1}
        assert blas_threads() == before and {n for _, n in before} == {2}


@pytest.mark.parametrize("layers, plan, holds", [((400, 50, 10), "blas", 1),
                                                 ((16, 16, 4), "fused", 0)])
def test_only_kernels_that_call_blas_hold_its_pools(monkeypatch, layers, plan, holds):
    """The BLAS plan's kernels hold every BLAS pool at one thread while they run (one BLAS
    thread per Numba worker); the fused kernels, which never call BLAS, leave the pools be."""
    held = []

    @contextmanager
    def counted():
        held.append(True)
        with blas_held_at_one():
            yield

    monkeypatch.setattr(_jit, "blas_held_at_one", counted)
    params, X, y = problem(layers, 64)
    assert make_rows(layers, X, y).plan == plan
    J, grad = fastnn.cost_grad(params, layers, X, y, 1.0)
    assert len(held) == holds
    J_ref, grad_ref = reference.cost_grad(params, layers, X, y, 1.0)
    assert J == pytest.approx(J_ref, rel=RTOL[np.float64])
    assert_close(grad, grad_ref, RTOL[np.float64])
