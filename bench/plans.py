"""Both plans' kernels on every shape, in one process: what ``rows.choose_plan`` is set from.

    python bench/plans.py

For each shape and dtype, an ``Objective``'s cost and gradient (rows kept, columns searched
once) and a forward pass to the labels (rows read once, as ``predict`` reads them) run on
each plan, forced, alternating call by call (the machine drifts: both plans see the same
minutes); each cell is a median in ms, the plan ``choose_plan`` picks in bold. X is dense
uniform [0, 1) unless the shape says digits. Prints the table and keeps the numbers, with
the machine, commit and date, in bench/results/plans.json (rendered by bench/docs.py).
"""

import datetime
import json
import os
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

CALLS = 30
SHAPES = [((400, 25, 10), "digits"), ((400, 25, 10), 5000), ((16, 16, 4), 100_000),
          ((20, 8, 3), 100_000), ((64, 32, 10), 20_000), ((100, 64, 10), 20_000),
          ((784, 64, 10), 2000), ((400, 100, 100, 10), 2000), ((784, 128, 10), 2000),
          ((784, 160, 10), 2000), ((784, 192, 10), 2000), ((784, 384, 10), 2000),
          ((784, 256, 128, 10), 2000)]
PLANS = ("fused", "blas")


def uniform_problem(layers, rows):
    rng = np.random.default_rng(0)
    return rng.random((rows, layers[0])), rng.integers(0, layers[-1], rows)


def interleaved(calls):
    """Median seconds of each callable, alternating one call of each CALLS times."""
    for call in calls:
        call()
    times = [[] for _ in calls]
    for _ in range(CALLS):
        for call, spent in zip(calls, times):
            start = time.perf_counter()
            call()
            spent.append(time.perf_counter() - start)
    return [median(spent) for spent in times]


def measure(fastnn):
    from fastnn.rows import choose_plan, make_rows

    results = []
    for layers, rows in SHAPES:
        X, y = fastnn.load_digits() if rows == "digits" else uniform_problem(layers, rows)
        params = fastnn.init_params(layers, 0)
        for dtype in (np.float64, np.float32):
            kept = [make_rows(layers, X, y, dtype, keep=True, plan=plan) for plan in PLANS]
            once = [make_rows(layers, X, dtype=dtype, plan=plan, read_once=True)
                    for plan in PLANS]
            sums = interleaved([lambda r=r, p=params: r.sums(p) for r in kept])
            labels = interleaved([lambda r=r, p=params: r.labels(p) for r in once])
            results.append({"shape": "-".join(map(str, layers)), "rows": rows,
                            "dtype": np.dtype(dtype).name,
                            "cost_grad": dict(zip(PLANS, sums)),
                            "labels": dict(zip(PLANS, labels)),
                            "chosen": {"cost_grad": choose_plan(layers),
                                       "labels": choose_plan(layers, forward=True,
                                                             dtype=dtype)}})
    return results


def table(results):
    def cell(times, chosen):
        return " / ".join(f"{'**' if p == chosen else ''}{times[p] * 1e3:.2f}"
                          f"{'**' if p == chosen else ''}" for p in PLANS)

    lines = ["| shape | rows | dtype | cost_grad fused / blas | labels fused / blas |",
             "|---|---:|---|---:|---:|"]
    for r in results:
        lines.append(f"| {r['shape']} | {r['rows']} | {r['dtype']} | "
                     f"{cell(r['cost_grad'], r['chosen']['cost_grad'])} | "
                     f"{cell(r['labels'], r['chosen']['labels'])} |")
    return "\n".join(lines)


def measure_all():
    """The table's numbers with the machine, threads, commit and date."""
    import fastnn  # here, not above: after __main__ chose the Numba cache
    from compile import commit_info
    from matrix import cpu

    return {"results": measure(fastnn), "machine_info": {"machine": cpu()},
            "threads": fastnn.get_num_threads(), "commit_info": commit_info(),
            "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat()}


def render(data):
    """The table, and under it what the numbers are and the machine they were timed on."""
    return (table(data["results"]) + f"\n\nms, medians of {CALLS} interleaved calls; in bold the "
            f"plan `choose_plan` picks. {data['machine_info']['machine']}; {data['threads']} "
            "threads.")


if __name__ == "__main__":
    # the shipped kernels in a Numba cache of this run's own, set before Numba is imported (a
    # developer's cache may hold code that an edit to a callee's file left stale)
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="fastnn-plans-cache-")
    data = measure_all()
    (Path(__file__).resolve().parent / "results" / "plans.json").write_text(
        json.dumps(data, indent=1))
    print(render(data))
