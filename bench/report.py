"""Render pytest-benchmark JSON files (one per benchmark file) as the README's tables: medians
and ratios per group.

    python bench/report.py bench/test_*_bench.json

In each group the ratio is the baseline's median over the row's median (how many times faster
than it), so figures from one run are compared only with each other. The baseline is numpy's
reference where the group has it, else fastnn in memory, else fastnn on one dask worker. Where a
benchmark records ``compare_s`` in its extra_info (a time extrapolated to the same work), that
is compared instead of the median.
"""

import json
import sys
from collections import defaultdict

BASELINES = ("numpy", "fastnn", "fastnn-dask 1x1")


def impl_of(bench):
    return (bench["params"] or {}).get("impl", bench["name"].removeprefix("test_"))


def label(bench):
    params = bench["params"] or {}
    extra = {k: v for k, v in params.items() if k not in ("impl", "dtype", "m", "layers")}
    return " ".join([impl_of(bench), *map(str, extra.values())])


def compared(bench):
    return bench.get("extra_info", {}).get("compare_s", bench["stats"]["median"])


def fmt_extra(info):
    return ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in info.items())


def render(data):
    groups = defaultdict(list)
    for bench in data["benchmarks"]:
        groups[bench["group"]].append(bench)
    lines = []
    for group, benches in groups.items():
        name = next((n for n in BASELINES if any(impl_of(b) == n for b in benches)), None)
        base = [compared(b) for b in benches if impl_of(b) == name]
        lines += [f"**{group}**", "", f"| implementation | median | vs {name} | notes |",
                  "|---|---:|---:|---|"]
        for b in sorted(benches, key=lambda b: b["stats"]["median"]):
            median = b["stats"]["median"]
            ratio = f"{base[0] / compared(b):.2f}×" if base else ""
            lines.append(f"| {label(b)} | {median * 1e3:.2f} ms | {ratio} | "
                         f"{fmt_extra(b.get('extra_info', {}))} |")
        lines.append("")
    info = data["machine_info"]
    lines.append(f"Machine: {info.get('machine', '?')}; "
                 f"{info.get('threads', '?')} threads; Python {info['python_version']}; "
                 + ", ".join(f"{k} {v}" for k, v in sorted(info.get("versions", {}).items())))
    return "\n".join(lines)


def merged(paths):
    """One report from the JSON files of several runs (one per benchmark file)."""
    data = {"benchmarks": []}
    for path in paths:
        with open(path) as fh:
            run = json.load(fh)
        data["benchmarks"] += run["benchmarks"]
        data["machine_info"] = run["machine_info"]
    return data


if __name__ == "__main__":
    print(render(merged(sys.argv[1:])))
