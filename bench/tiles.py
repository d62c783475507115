"""The BLAS plan with tiles of 256 to 2048 rows, in one process: what
``tunables.COST_GRAD_TILE_ROWS`` and ``FORWARD_TILE_ROWS`` are set from.

    python bench/tiles.py

For each wide shape, row count and dtype, ``kernels.tiled_cost_grad_sums`` (cost and
gradient) and ``kernels.tiled_forward_states`` (the forward pass of predictions: the output
layer's z) run with each tile size, alternating call by call (``plans.interleaved``), on
dense uniform X; a tile longer than a chunk's rows is the chunk. Prints medians in ms and
each tile's time over 512's.
"""

import os
import tempfile
from functools import partial

import numpy as np

TILES = (256, 512, 1024, 2048)
SHAPES = [(784, 128, 10), (784, 256, 128, 10), (784, 512, 256, 10), (400, 100, 100, 10)]
ROWS = (2000, 10_000)


def measure(fastnn):
    from fastnn import kernels
    from fastnn.rows import make_rows
    from plans import interleaved, uniform_problem

    lines = ["| pass | shape | rows | dtype | " + " | ".join(f"{t} rows" for t in TILES) + " |",
             "|---|---|---:|---|" + "---:|" * len(TILES)]
    for layers in SHAPES:
        for m in ROWS:
            X, y = uniform_problem(layers, m)
            for dtype in (np.float64, np.float32):
                r = make_rows(layers, X, y, dtype, keep=True, plan="blas")
                w = fastnn.init_params(layers, 0).astype(dtype)
                sums = partial(kernels.tiled_cost_grad_sums, r.X, r.targets, r.weights, w,
                               r.sizes, r.codes)
                forward = partial(kernels.tiled_forward_states, r.X, w, r.sizes, r.codes,
                                  layers[-1], 0)
                for name, runs in (("cost and gradient", [partial(sums, t, False) for t in TILES]),
                                   ("forward", [partial(forward, t) for t in TILES])):
                    times = interleaved(runs)
                    base = times[TILES.index(512)]
                    lines.append(f"| {name} | {'-'.join(map(str, layers))} | {m} | "
                                 f"{np.dtype(dtype).name} | "
                                 + " | ".join(f"{t * 1e3:.2f} ({t / base:.2f})" for t in times)
                                 + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    # the shipped kernels in a Numba cache of this run's own (as plans.py)
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="fastnn-tiles-cache-")
    import fastnn
    from matrix import cpu

    print(measure(fastnn))
    print(f"\nms, medians of interleaved calls (in brackets: over 512 rows). {cpu()}; "
          f"{fastnn.get_num_threads()} threads.")
