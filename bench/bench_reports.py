"""Render a big batch's report in every format: wall time, size and peak memory.

A batch of 10,000 runs over three projects (one in twenty failing, one in thirty retried
once) is rendered as JSON, Markdown, HTML and JUnit, each timed without tracing, then once
more under tracemalloc for the peak of Python allocations.
"""

from __future__ import annotations

import random
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from hexbatch import status
from hexbatch.outcome import Attempt, BatchReport, PlannedRun, RunOutcome, batch_report
from hexbatch.report import FORMATS, render

RUNS = 10_000
START = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
PROJECTS = (("pid-a", "daily-revenue"), ("pid-b", "churn-model"), ("pid-c", "ltv-refresh"))


def big_report(runs: int = RUNS, seed: int = 7) -> BatchReport:
    """A plausible nightly batch of ``runs`` runs, 25 at a time."""
    rng = random.Random(seed)
    outcomes = [_run(n, rng) for n in range(runs)]
    end = max(a.finished_at for r in outcomes for a in r.attempts if a.finished_at)
    return batch_report(
        "/srv/hex/nightly.yaml",
        START,
        outcomes,
        finished_at=end,
        requests={"trigger": runs, "status": 3 * runs, "list": runs},
        rate_limits={},
    )


def _run(n: int, rng: random.Random) -> RunOutcome:
    project_id, project = PROJECTS[n % len(PROJECTS)]
    params = {"run_date": (START.date() - timedelta(days=n % 365)).isoformat(), "i": n}
    planned = PlannedRun(f"key{n:06d}", project_id, project, params, n)
    final = status.ERRORED if n % 20 == 0 else status.COMPLETED
    attempts = [_attempt(n, 1, status.UNABLE_TO_ALLOCATE_KERNEL, rng)] if n % 30 == 0 else []
    attempts.append(_attempt(n, len(attempts) + 1, final, rng))
    error = "Hex reported ERRORED" if final == status.ERRORED else None
    return RunOutcome.of(planned, final, attempts, error)


def _attempt(n: int, number: int, end: str, rng: random.Random) -> Attempt:
    triggered = START + timedelta(seconds=(n // 25) * 120 + rng.uniform(0, 5))
    took = rng.uniform(20, 240)
    return Attempt(
        triggered_at=triggered,
        run_id=f"run-{n:06d}-{number}",
        run_url=f"https://app.hex.tech/app/projects/p/runs/run-{n:06d}-{number}",
        status=end,
        started_at=triggered + timedelta(seconds=1),
        finished_at=triggered + timedelta(seconds=took),
        elapsed_ms=took * 1000,
        error=None if end == status.COMPLETED else f"Hex reported {end}",
        number=number,
    )


def measure(report: BatchReport, fmt: str) -> dict[str, Any]:
    """Seconds to render ``report`` as ``fmt``, the document's size and the peak memory."""
    started = time.perf_counter()
    document = render(report, fmt)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        render(report, fmt)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "format": fmt,
        "runs": len(report.runs),
        "seconds": round(seconds, 3),
        "bytes": len(document.encode("utf-8")),
        "peak_mib": round(peak / 2**20, 1),
    }


def main(runs: int = RUNS) -> Iterator[dict[str, Any]]:
    report = big_report(runs)
    for fmt in FORMATS:
        yield measure(report, fmt)
