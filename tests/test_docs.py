"""The documentation: README's and docs/'s Python examples run as written, and
docs/benchmarks.md is what its committed timings render (bench/docs.py)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED, subprocess_env

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def examples(page):
    return re.findall(r"```python\n(.*?)```", page.read_text(), re.S)


@pytest.mark.jit
@pytest.mark.parametrize("page", [p for p in PAGES if examples(p)], ids=lambda p: p.name)
def test_the_python_examples_of_a_page_run_as_written(page, tmp_path):
    """A page's examples, in order, as one script run in a fresh interpreter (a file: dask's
    worker processes re-import it), in a folder that holds the course's weights file."""
    shutil.copy(SHARED / "ex4weights.mat", tmp_path)
    script = tmp_path / "examples.py"
    script.write_text("\n".join(examples(page)))
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=900,
                         env=subprocess_env(MPLBACKEND="Agg", MPLCONFIGDIR=str(tmp_path)))
    assert out.returncode == 0, out.stderr


def test_the_benchmarks_page_is_what_its_results_render():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "docs.py"), "--check"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_the_matrix_script_takes_options_as_options(tmp_path):
    """``bench/matrix.py --help`` prints its usage and runs nothing (it once took the flag for
    its output folder, and a folder named --help was committed); an unknown option is an
    error, not a folder."""
    script = str(ROOT / "bench" / "matrix.py")
    out = subprocess.run([sys.executable, script, "--help"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "OUT" in out.stdout.upper() and not any(tmp_path.iterdir())
    out = subprocess.run([sys.executable, script, "--rounds=1"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "unrecognized arguments" in out.stderr
    assert not any(tmp_path.iterdir())
