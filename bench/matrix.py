"""Run the shape matrix, one process per implementation, and print it as a table.

    python bench/matrix.py [OUT_FOLDER]

Each implementation of ``test_matrix_bench.py`` (and each way of running the user's minimize)
runs in a fresh interpreter, all of them one after another in each of ``ROUNDS`` rounds; a
row shows, per implementation, the least of its rounds' medians (this machine's speed drifts
by up to 2x within minutes: the least is the one least disturbed, and the rounds interleave the
implementations so that a slow period does not fall on one alone). A last process measures the
machine's GEMM rate (numpy's 3000 x 3000 matmul, every core) for the FLOP floor of each row.
JSON files go to OUT_FOLDER (default: a temporary folder).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROUNDS = 2
SUITE = HERE / "test_matrix_bench.py"
PROCESSES = {impl: f"test_matrix and {impl}" for impl in ("fastnn", "torch", "jax", "numpy")}
PROCESSES.update({how: f"test_user_minimize and {how}"
                  for how in ("as_written", "blas_at_one_thread", "fastnn_minimize",
                              "fastnn_train")})

GEMM_RATE = """
import json, time, numpy as np
rates = {}
for name, dtype in (("f64", np.float64), ("f32", np.float32)):
    a = np.random.default_rng(0).random((3000, 3000)).astype(dtype)
    a @ a
    times = []
    for _ in range(5):
        start = time.perf_counter(); a @ a; times.append(time.perf_counter() - start)
    rates[name] = 2 * 3000**3 / sorted(times)[2]
print(json.dumps(rates))
"""


def cpu():
    """The CPU's model, LLVM's name for it and the vectors fastnn's kernels use on it."""
    import llvmlite.binding as llvm

    from fastnn import _isa

    with open("/proc/cpuinfo") as info:
        model = next((line.split(":", 1)[1].strip() for line in info
                      if line.startswith("model name")), "?")
    return (f"{model}, LLVM host CPU {llvm.get_host_cpu_name()}, fastnn's vectors "
            f"{_isa.isa_name()} ({_isa.VECTOR_BYTES} bytes)")


def run(out):
    # fastnn's kernels as a user gets them: the shipped ones, in a Numba cache of this run's
    # own (a developer's cache may hold code that an edit to a callee's file left stale)
    env = dict(os.environ, NUMBA_CACHE_DIR=tempfile.mkdtemp(prefix="fastnn-matrix-cache-"))
    results = []
    for round_ in range(ROUNDS):
        for name, selection in PROCESSES.items():
            results.append(out / f"{name}-{round_}.json")
            subprocess.run([sys.executable, "-m", "pytest", str(SUITE), "-q", "-k", selection,
                            f"--benchmark-json={results[-1]}", "--benchmark-max-time=0.5",
                            "-W", "ignore:Not saving anything", "-p", "no:cacheprovider"],
                           cwd=HERE.parent, env=env, check=False)
    rates = json.loads(subprocess.run([sys.executable, "-c", GEMM_RATE], capture_output=True,
                                      text=True, check=True).stdout)
    return [r for r in results if r.exists()], rates


def least(paths):
    """``(rows, other, machine_info)`` of the rounds' JSON files: for each group, the benchmark
    of each implementation (rows) or way of running the user's minimize (other) whose median
    was least."""
    rows, other = defaultdict(dict), defaultdict(dict)
    info = None
    for path in paths:
        data = json.loads(path.read_text())
        info = data["machine_info"]
        for bench in data["benchmarks"]:
            params = bench["params"]
            table = rows if "impl" in params else other
            key = params.get("impl", params.get("how"))
            kept = table[bench["group"]].get(key)
            if kept is None or bench["stats"]["median"] < kept["stats"]["median"]:
                table[bench["group"]][key] = bench
    return rows, other, info


def render(paths, rates):
    rows, other, info = least(paths)
    impls = ["fastnn", "torch", "jax", "numpy"]
    lines = ["| workload | " + " | ".join(impls) + " | fastnn vs torch | floor | fastnn / floor |",
             "|---|" + "---:|" * (len(impls) + 3)]
    for group, by_impl in rows.items():
        medians = {k: b["stats"]["median"] for k, b in by_impl.items()}
        dtype = group.rsplit(" ", 1)[1]
        floor = next(iter(by_impl.values()))["extra_info"]["mflop"] * 1e6 / rates[dtype]
        cells = [f"{medians[k] * 1e3:.2f}" if k in medians else "" for k in impls]
        speedup = (f"{medians['torch'] / medians['fastnn']:.2f}×"
                   if {"torch", "fastnn"} <= medians.keys() else "")
        distance = f"{medians['fastnn'] / floor:.2f}×" if "fastnn" in medians else ""
        lines.append(f"| {group} | " + " | ".join(cells)
                     + f" | {speedup} | {floor * 1e3:.2f} | {distance} |")
    for group, by_how in other.items():
        lines += ["", f"**{group}**", "", "| run | median | vs BLAS at one thread | evaluations |",
                  "|---|---:|---:|---:|"]
        base = by_how.get("blas_at_one_thread", {}).get("stats", {}).get("median")
        for how, b in by_how.items():
            median = b["stats"]["median"]
            ratio = f"{median / base:.2f}×" if base else ""
            lines.append(f"| {how} | {median * 1e3:.0f} ms | {ratio} | {b['extra_info']['nfev']} |")
    versions = ", ".join(f"{k} {v}" for k, v in sorted(info.get("versions", {}).items()))
    lines += ["", f"Times in ms (the least of {ROUNDS} rounds' medians). Machine: "
              f"{info.get('machine', '?')}; "
              f"{info['threads']} threads; GEMM rate {rates['f64'] / 1e9:.0f} GFLOP/s f64, "
              f"{rates['f32'] / 1e9:.0f} f32; {versions}."]
    return "\n".join(lines)


def main(out=None):
    out = Path(out or tempfile.mkdtemp(prefix="fastnn-matrix-"))
    out.mkdir(parents=True, exist_ok=True)
    paths, rates = run(out)
    (out / "gemm_rate.json").write_text(json.dumps(rates))
    print(render(paths, rates))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", help="folder for the JSON files (default: a new "
                        "temporary folder)")
    main(parser.parse_args().out)
