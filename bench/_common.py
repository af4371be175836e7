"""Shared helpers for the benchmark scripts: medians, ratios and `bench/results.json`.

Every script appends its figures through `record()`; `make bench` empties the file first, so
one run's figures stay together (API.md "Benchmarks").
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"


def median_time(fn: Callable[[], object], *, repeat: int, number: int) -> float:
    """Median seconds per call over `repeat` windows of `number` calls each."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def holds(value: float | None, target: str) -> bool:
    """Evaluate a target such as '>= 0.5' or '<= 25' against a value."""
    if value is None:
        return False
    op, _, bound = target.partition(" ")
    limit = float(bound)
    return value >= limit if op == ">=" else value <= limit


def record(
    name: str,
    *,
    value: float,
    unit: str,
    target: str,
    n: int,
    baseline: str | None = None,
    baseline_value: float | None = None,
    ratio: float | None = None,
) -> dict[str, Any]:
    """Append one figure to results.json and print it as a table row."""
    judged = ratio if baseline is not None else value
    row = {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": None if baseline_value is None else round(baseline_value, 4),
        "ratio": None if ratio is None else round(ratio, 4),
        "target": target,
        "holds": holds(judged, target),
        "n": n,
    }
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    rows = [r for r in rows if r["name"] != name] + [row]
    RESULTS.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    base = "" if baseline is None else f"  baseline {baseline_value:,.4g} ({baseline})"
    mark = "ok " if row["holds"] else "MISS"
    print(f"[{mark}] {name:32} {value:>14,.4g} {unit:10}{base}  ratio={row['ratio']}  target {target}")
    return row
