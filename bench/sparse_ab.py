"""CSR against dense X on the digits, interleaved in one process: an ``Objective`` on each,
called alternately so that the machine's drift touches both alike. Prints medians and ratios.

    python bench/sparse_ab.py [CALLS]
"""

import sys
import time
from statistics import median

import scipy.sparse as sp

import fastnn

LAYERS = (400, 25, 10)


def main(calls):
    X, y = fastnn.load_digits()
    p = fastnn.init_params(LAYERS, seed=0)
    print("| dtype | dense | CSR | CSR / dense |\n|---|---:|---:|---:|")
    for dtype in ("float64", "float32"):
        pair = [fastnn.Objective(LAYERS, data, y, 1.0, dtype) for data in (X, sp.csr_matrix(X))]
        times = [[], []]
        for objective in pair:
            objective(p)  # compiled (or loaded) before timing
        for _ in range(calls):
            for objective, spent in zip(pair, times):
                start = time.perf_counter()
                objective(p)
                spent.append(time.perf_counter() - start)
        dense, csr = median(times[0]), median(times[1])
        print(f"| {dtype} | {dense * 1e3:.2f} ms | {csr * 1e3:.2f} ms | {csr / dense:.3f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
