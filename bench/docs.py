"""docs/benchmarks.md, rendered from its template (bench/benchmarks.md.in) and the timings
committed in bench/results/, so that the page's numbers cannot drift from what was measured.

    python bench/docs.py            # render the page from bench/results/
    python bench/docs.py --check    # exit 1 if the page is not what bench/results/ renders
    python bench/docs.py --run      # time every benchmark of the page first (about 35 min)
    python bench/docs.py --run NAME # time bench/NAME.py alone first

In the template, ``{{results NAME}}`` becomes the tables of bench/results/NAME.json
(pytest-benchmark's JSON, rendered by report.py), ``{{matrix}}`` the shape matrix of
bench/results/matrix/ (matrix.py), ``{{compile}}`` the compile latency table of
bench/results/compile.json (compile.py) and ``{{plans}}`` the two plans' timings of
bench/results/plans.json (plans.py); each is followed by the command that made it, the
commit and the date.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compile as compile_latency  # noqa: E402
import matrix  # noqa: E402
import plans  # noqa: E402
import report  # noqa: E402

ROOT, RESULTS = HERE.parent, HERE / "results"
TEMPLATE, PAGE = HERE / "benchmarks.md.in", ROOT / "docs" / "benchmarks.md"
README = ROOT / "README.md"
RUNS = {  # NAME: what ``pytest bench/NAME.py`` times ({{results NAME}}), one process each
    "test_kernels_bench": [[]],
    "test_sparse_bench": [[]],
    "test_gradcheck_bench": [[]],
    "test_train_bench": [[]],
    "test_startup_bench": [[]],
    "test_dask_bench": [["-k", "digits_evaluation or (lbfgs and not spark)"]],
    "test_units_bench": [["-k", impl] for impl in ("fastnn", "sklearn", "torch")],
}


def pytest_command(name, selection, json_path=None):
    return ["python", "-m", "pytest", f"bench/{name}.py", *selection, "-q", "-p",
            "no:cacheprovider", f"--benchmark-json={json_path or f'bench/results/{name}.json'}"]


def shown_command(name):
    """The command under NAME's tables (one process per selection, their JSON merged)."""
    selections = RUNS[name]
    command = " ".join(pytest_command(name, selections[0])).replace("-p no:cacheprovider ", "")
    if len(selections) == 1:
        return command
    each = ", ".join(" ".join(s) for s in selections)
    return f"{command}` in one process for each of `{each}`, merged by `python bench/docs.py --run"


def made_by(command, data, also=""):
    """The line under a table: the command, the commit and the date of the run (``also``:
    what else made it)."""
    commit = data.get("commit_info", {})
    when = data.get("datetime", "")[:10]
    return (f"\nMade by `{command}` at commit {commit.get('id', '?')[:7]}"
            f"{' (with local changes)' if commit.get('dirty') else ''} on {when}{also}.")


def results(name):
    data = json.loads((RESULTS / f"{name}.json").read_text())
    return report.render(data) + "\n" + made_by(shown_command(name), data)


def matrix_tables():
    folder = RESULTS / "matrix"
    paths = sorted(folder.glob("*-*.json"))
    rates = json.loads((folder / "gemm_rate.json").read_text())
    data = json.loads(paths[0].read_text())
    return matrix.render(paths, rates) + "\n" + made_by("python bench/matrix.py", data)


def compile_table():
    data = json.loads((RESULTS / "compile.json").read_text())
    return compile_latency.table(data) + "\n" + made_by("python bench/compile.py", data)


def plans_table():
    data = json.loads((RESULTS / "plans.json").read_text())
    return plans.render(data) + "\n" + made_by("python bench/plans.py", data)


def render():
    parts = {"matrix": matrix_tables, "compile": compile_table, "plans": plans_table}
    return re.sub(r"\{\{(\w+)(?: (\w+))?\}\}",
                  lambda m: results(m[2]) if m[1] == "results" else parts[m[1]](),
                  TEMPLATE.read_text())


def headline():
    """README's table: the course network on the digits, fastnn against PyTorch (the shape
    matrix's rows), and the first call in a fresh process (compile.py's)."""
    paths = sorted((RESULTS / "matrix").glob("*-*.json"))
    rows, _, info = matrix.least(paths)
    first = json.loads((RESULTS / "compile.json").read_text())
    data = json.loads(paths[0].read_text())
    lines = [f"400-25-10 on the 5000 bundled digits, medians, each implementation in its own "
             f"process; machine: {info['machine']}; {info['threads']} threads; PyTorch "
             f"{info['versions'].get('torch', '?')}.", "",
             "| | fastnn | PyTorch | fastnn vs PyTorch |", "|---|---:|---:|---:|"]
    for op, what in (("cost_grad", "cost + gradient"), ("predict", "predict")):
        for dtype, name in (("f64", "float64"), ("f32", "float32")):
            group = dict(rows)[f"{op} 400-25-10_digits_m5000 {dtype}"]
            fast, torch = (group[k]["stats"]["median"] if k in group else None
                           for k in ("fastnn", "torch"))
            lines.append(f"| {what}, {name} | {fast * 1e3:.2f} ms | "
                         + (f"{torch * 1e3:.2f} ms | {torch / fast:.2f}× |" if torch else "| |"))
    seconds = first["paths"]["cost_grad float64"]["shipped"]["seconds"]
    lines.append(f"| first cost + gradient in a fresh process and cache | {seconds:.2f} s | | |")
    return "\n".join(lines) + "\n" + made_by("python bench/matrix.py", data,
                                               "; the first call by `python bench/compile.py`")


def readme(text):
    """README with its headline table between the markers rendered anew."""
    start, end = "<!-- headline: rendered by bench/docs.py -->\n", "<!-- /headline -->"
    head, rest = text.split(start)
    return head + start + headline() + "\n" + end + rest.split(end, 1)[1]


def run_one(name):
    """Time bench/NAME.py into bench/results/NAME.json: one process per selection, the
    benchmarks of all of them in one file."""
    merged = None
    for i, selection in enumerate(RUNS[name]):
        part = RESULTS / f"{name}.{i}.json"
        subprocess.run([sys.executable, *pytest_command(name, selection, part)[1:]], cwd=ROOT,
                       check=True)
        data = json.loads(part.read_text())
        part.unlink()
        if merged is None:
            merged = data
        else:
            merged["benchmarks"] += data["benchmarks"]
    (RESULTS / f"{name}.json").write_text(json.dumps(merged, indent=4))


def run():
    """Time every benchmark of the page into bench/results/."""
    RESULTS.mkdir(exist_ok=True)
    for name in RUNS:
        run_one(name)
    matrix.main(RESULTS / "matrix")
    (RESULTS / "compile.json").write_text(json.dumps(compile_latency.measure_all(), indent=1))


if __name__ == "__main__":
    if "--run" in sys.argv:
        names = [a for a in sys.argv[sys.argv.index("--run") + 1:] if not a.startswith("-")]
        for name in names:
            run_one(name)
        if not names:
            run()
    rendered = {PAGE: render(), README: readme(README.read_text())}
    if "--check" in sys.argv:
        stale = [path.name for path, text in rendered.items() if path.read_text() != text]
        sys.exit(f"{', '.join(stale)}: not what bench/results/ renders (python bench/docs.py)"
                 if stale else 0)
    for path, text in rendered.items():
        path.write_text(text)
