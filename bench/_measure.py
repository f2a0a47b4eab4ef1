"""Figures computed from the simulator's ledger and from when a runner saw runs end.

The simulator's clock is ``time.monotonic`` (the in-process default), so the
ledger's run times and the runners' detection times are on the same clock.
"""

from __future__ import annotations

import heapq
import math
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog

from hexbatch.simulator import Ledger, Run
from hexbatch.simulator.runs import canonical_params

# Server operation -> the request kinds hexbatch's report uses.
KIND_OF_OPERATION = {
    "RunProject": "trigger",
    "GetRunStatus": "status",
    "GetProjectRuns": "list",
    "CancelRun": "cancel",
    "GetProject": "project",
    "ListProjects": "project",
}


def runs_in_order(ledger: Ledger, planned: Sequence[tuple[str, dict[str, Any]]]) -> list[Run]:
    """The ledger's first attempt of every planned run, in manifest order."""
    first: dict[tuple[str, str], Run] = {}
    for run in ledger.runs:
        first.setdefault((run.project_id.lower(), canonical_params(run.params)), run)
    return [first[(pid.lower(), canonical_params(params))] for pid, params in planned]


def lifetime(run: Run) -> float:
    """Seconds from the trigger's arrival to the run's end (pending included)."""
    end = run.ended_at(math.inf)
    if end is None:
        raise AssertionError("unreachable")  # every run ends at a finite clock reading
    return end - run.created_at


def in_order_makespan(lengths: Sequence[float], slots: int) -> float:
    """List scheduling in the given order on ``slots`` slots, with zero detection lag."""
    free = [0.0] * slots
    end = 0.0
    for length in lengths:
        start = heapq.heappop(free)
        heapq.heappush(free, start + length)
        end = max(end, start + length)
    return end


def lower_bound(lengths: Sequence[float], slots: int) -> float:
    """No schedule on ``slots`` slots finishes before ``max(sum / slots, longest)``."""
    return max(sum(lengths) / slots, max(lengths, default=0.0))


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` quantile (nearest rank) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, math.ceil(share * len(ordered)) - 1)
    return ordered[rank]


def detection_lags(runs: Sequence[Run], detected: Mapping[str, float]) -> list[float]:
    """Seconds between each run's real end and the moment the runner saw it end."""
    lags = []
    for run in runs:
        end = run.ended_at(math.inf)
        if run.run_id in detected and end is not None:
            lags.append(detected[run.run_id] - end)
    return lags


@dataclass(slots=True)
class Observed:
    """What one runner did on one workload: its wall time and when it saw each run end."""

    runner: str
    makespan: float
    detected: dict[str, float]
    statuses: dict[str, int]
    correct: bool = True


def summarize(
    workload: str,
    observed: Observed,
    ledger: Ledger,
    planned: Sequence[tuple[str, dict[str, Any]]],
    slots: int,
) -> dict[str, Any]:
    """One JSON-ready measurement: makespan against the ideal, requests, detection lag."""
    runs = runs_in_order(ledger, planned)
    lengths = [lifetime(run) for run in runs]
    ideal = in_order_makespan(lengths, slots)
    bound = lower_bound(lengths, slots)
    kinds: dict[str, int] = {}
    for operation, count in ledger.requests.items():
        kind = KIND_OF_OPERATION.get(operation, operation)
        kinds[kind] = kinds.get(kind, 0) + count
    total = sum(kinds.values())
    lags = detection_lags(runs, observed.detected)
    return {
        "case": f"{workload}_{observed.runner}",
        "runs": len(planned),
        "statuses": observed.statuses,
        "correct": observed.correct,
        "makespan_s": round(observed.makespan, 3),
        "ideal_in_order_s": round(ideal, 3),
        "lower_bound_s": round(bound, 3),
        "vs_lower_bound": round(observed.makespan / bound, 4),
        "requests": dict(sorted(kinds.items())),
        "requests_total": total,
        "requests_per_run": round(total / len(planned), 2),
        "throttled_429": ledger.total_throttled,
        "lag_mean_s": round(statistics.fmean(lags), 4) if lags else None,
        "lag_p95_s": round(percentile(lags, 0.95), 4),
        "lag_seen": len(lags),
    }


class _FinishClock:
    """A structlog processor noting when the engine reported each run finished."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def __call__(self, _logger: Any, _method: str, event: Any) -> Any:
        if event.get("event") == "run_finished" and event.get("run_id"):
            self.seen[event["run_id"]] = time.monotonic()
        raise structlog.DropEvent


@contextmanager
def finish_times() -> Iterator[dict[str, float]]:
    """Collect the engine's ``run_finished`` moments (run id -> monotonic time), logging nothing.

    Every other event is dropped, so the benchmark measures the engine, not its log output.
    """
    previous = structlog.get_config()
    clock = _FinishClock()
    structlog.configure(processors=[clock], cache_logger_on_first_use=False)
    try:
        yield clock.seen
    finally:
        structlog.configure(**previous)
