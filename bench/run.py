"""Every benchmark file in a process of its own, one report of them all (report.py), then the
shape matrix (matrix.py, a process per implementation): what ``fastnn bench`` runs.

    python bench/run.py [PYTEST_ARGS]     # e.g. -k "test_predict and f64"

A selection given to pytest is for the benchmark files alone (the matrix is skipped).
"""

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(pytest_args):
    with tempfile.TemporaryDirectory() as tmp:
        results = []
        for suite in sorted(HERE.glob("test_*_bench.py")):
            if suite.name == "test_matrix_bench.py":  # matrix.py runs it below
                continue
            results.append(Path(tmp) / f"{suite.stem}.json")
            # a file where -k selects nothing exits 5 and warns that there is nothing to save
            run = subprocess.run([sys.executable, "-m", "pytest", str(suite), "-q",
                                  f"--benchmark-json={results[-1]}", "-W",
                                  "ignore:Not saving anything", *pytest_args])
            if run.returncode not in (0, 5):
                return run.returncode
        ran = [str(r) for r in results if r.exists()]
        subprocess.run([sys.executable, str(HERE / "report.py"), *ran], check=True)
    if not pytest_args:
        subprocess.run([sys.executable, str(HERE / "matrix.py")], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
