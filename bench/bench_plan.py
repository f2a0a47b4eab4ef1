"""Load, validate and plan big manifests: wall time and peak memory.

Two shapes of 100,000 runs: a compact one (a matrix times a date range, the
usual way to write big sweeps) and an explicit one (every parameter set
written out under ``runs``, the worst case for the YAML parser). Each shape
is measured twice: once for time without tracing, once under tracemalloc for
the peak of Python allocations.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hexbatch.manifest import load_manifest
from hexbatch.plan import build_plan

PROJECT = "5a8591dd-4039-49df-9202-96385ba3eff8"


def compact_manifest(runs: int) -> str:
    """100 regions x 10 tiers x (runs / 1000) days: one project, a few lines of YAML."""
    days = runs // 1000
    regions = ", ".join(f"r{n:03d}" for n in range(100))
    tiers = ", ".join(f"t{n}" for n in range(10))
    return (
        "version: 1\nprojects:\n"
        f"  - id: {PROJECT}\n    params: {{model: v2}}\n"
        f"    matrix: {{region: [{regions}], tier: [{tiers}]}}\n"
        f"    dates: {{param: run_date, start: 2000-01-01, end: "
        f"{_day(days - 1)}, step: 1d}}\n"
    )


def _day(offset: int) -> str:
    import datetime as dt

    return (dt.date(2000, 1, 1) + dt.timedelta(days=offset)).isoformat()


def explicit_manifest(runs: int, projects: int = 10) -> str:
    """``projects`` projects each listing runs / projects parameter sets one by one."""
    lines = ["version: 1", "projects:"]
    per_project = runs // projects
    for p in range(projects):
        lines.append(f"  - id: {PROJECT[:-3]}{p:03d}")
        lines.append(f"    name: project-{p}")
        lines.append("    runs:")
        lines.extend(
            f"      - {{customer: c{n:06d}, segment: s{n % 7}, weight: {n % 13}}}"
            for n in range(per_project)
        )
    return "\n".join(lines) + "\n"


def _measure(path: Path, expected: int) -> dict[str, Any]:
    started = time.perf_counter()
    manifest = load_manifest(path, env={})
    loaded = time.perf_counter()
    plan = build_plan(manifest)
    planned = time.perf_counter()
    assert len(plan.items) == expected, len(plan.items)
    del plan, manifest
    tracemalloc.start()
    plan = build_plan(load_manifest(path, env={}))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "runs": len(plan.items),
        "file_bytes": path.stat().st_size,
        "load_validate_s": round(loaded - started, 3),
        "plan_s": round(planned - loaded, 3),
        "total_s": round(planned - started, 3),
        "peak_mib": round(peak / 2**20, 1),
    }


def main(runs: int = 100_000) -> Iterator[dict[str, Any]]:
    """Yield one measurement per manifest shape."""
    shapes: dict[str, Callable[[int], str]] = {
        "matrix_x_dates": compact_manifest,
        "explicit_runs": explicit_manifest,
    }
    with tempfile.TemporaryDirectory() as directory:
        for name, build in shapes.items():
            path = Path(directory) / f"{name}.yaml"
            path.write_text(build(runs), encoding="utf-8")
            yield {"case": f"plan_{name}", **_measure(path, runs)}
