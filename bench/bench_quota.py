"""W4: batches sharing one token (and one state store) under Hex's limits, time-scaled.

The simulator, in a process of its own, enforces Hex's 2026 trigger limits at
``time_scale`` 0.01 (a Hex minute lasts 0.6 s, an hour 36 s): 20 triggers a minute and
60 an hour, and 25 live runs. Reads are not the constraint here (see ``READS``). Every
manifest states the same limits, scaled, as a user would. Each batch runs in a process
of its own and all share one SQLite state store, so the token's ledger in it is what
keeps them, together, inside Hex's windows.

* ``W4a``: two batches of 40 runs started together (80 triggers: the hour window binds).
* ``W4b``: three batches of 40 runs started together (120 triggers).
* ``W4c``: a high-priority batch of 80 runs alone; then two low-priority batches of 40
  runs, and 0.3 s (half a Hex minute) later, when they have spent the first minute
  window and wait for the next, the high-priority one. Once it has finished the low
  ones trigger nothing more (what they do next is W4a's business).

The combined makespan runs from the first batch's start to the last one's end and is
compared with the least the trigger windows allow: the moment the last trigger may
be sent (:func:`hexbatch.estimate.trigger_bound`, with the limiter's 2 % stretch)
plus the lifetime of the run it started.

Run ``python -m bench quota`` (or ``make bench`` for every benchmark).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from bench._shared_token import (
    Batches,
    BatchResult,
    BatchSpec,
    ServerRun,
    each_once_completed,
    server_runs,
    simulator,
    tightest_spans,
)
from bench._workloads import HEX_TRIGGERS, TIME_SCALE, TOKEN, project_id
from hexbatch.api.limits import Window
from hexbatch.estimate import trigger_bound

MAKESPAN_TARGET = 1.05
"""The combined makespan may exceed the trigger windows' bound by at most 5 %."""
PRIORITY_TARGET = 1.15
"""A high-priority batch started last may take at most 15 % longer than alone."""
RUNS_PER_BATCH = 40
HIGH_RUNS = 80
LOW_RUNS = 40
HIGH_DELAY = 30.0  # Hex seconds (0.3 s at time_scale 0.01) between the lows' and the high's start
PROJECT = project_id(4)
# Reads far beyond what three batches need: Hex's default of 30 a minute would bind
# instead of the trigger windows (a minute's 20 triggers leave 10 reads for 20 runs in
# flight), and W4 measures what the trigger windows impose.
READS = [{"count": 100_000, "per": 60}]


def scenario(time_scale: float) -> dict[str, Any]:
    """Hex's limits, enforced by the simulator; runs of 10-30 Hex seconds after 5 pending."""
    return {
        "seed": 14,
        "time_scale": time_scale,
        "tokens": [{"value": TOKEN, "name": "bench"}],
        "projects": [
            {
                "id": PROJECT,
                "title": "Shared token",
                "pending": 5,
                "duration": {"min": 10, "max": 30},
            }
        ],
        "limits": {"requests": READS, "run_project": HEX_TRIGGERS, "kernel_limit": 25},
    }


def trigger_windows(time_scale: float) -> list[Window]:
    """Hex's trigger windows on the benchmark's clock."""
    return [Window(w["count"], w["per"] * time_scale) for w in HEX_TRIGGERS]


def _counted(time_scale: float) -> list[tuple[int, float]]:
    return [(window.count, window.per) for window in trigger_windows(time_scale)]


def manifest(folder: Path, name: str, runs: int, time_scale: float) -> Path:
    """A batch of ``runs`` runs named ``name``, stating Hex's limits (scaled) exactly."""

    def scaled(windows: list[dict[str, int]]) -> list[dict[str, Any]]:
        return [
            {"count": w["count"], "per": f"{w['per'] * time_scale * 1000:g}ms"} for w in windows
        ]

    document = {
        "version": 1,
        "name": name,
        "defaults": {
            "max_in_flight": 100,  # never the constraint: the trigger windows are
            "timeout": "60s",
            "poll": {
                "initial": f"{2000 * time_scale:g}ms",
                "max": f"{30_000 * time_scale:g}ms",
                "multiplier": 1.5,
            },
        },
        "limits": {"requests": scaled(READS), "triggers": scaled(HEX_TRIGGERS)},
        "projects": [
            {"id": PROJECT, "name": name, "runs": [{"batch": name, "n": n} for n in range(runs)]}
        ],
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _shared(
    folder: Path,
    batches: Sequence[tuple[str, int, str]],
    time_scale: float,
    *,
    delay: float = 0,
    halt_after: str | None = None,
) -> tuple[list[BatchResult], list[ServerRun], int, float]:
    """Run ``(name, runs, priority)`` batches on one token and one store; the last one
    ``delay`` real seconds after the others when ``delay`` is set. Once batch
    ``halt_after`` has finished, the others trigger nothing more.

    Returns every batch's result, the server's runs, its 429 count and the moment the
    last batch was started.
    """
    with simulator(scenario(time_scale), folder) as served:
        specs = [
            BatchSpec(
                manifest(folder, name, runs, time_scale),
                folder / "state.db",
                served.base_url,
                TOKEN,
                priority,
            )
            for name, runs, priority in batches
        ]
        children = Batches(specs)
        try:
            if delay:
                children.start(*range(len(specs) - 1))
                time.sleep(delay)
                last = children.start(len(specs) - 1)
            else:
                last = children.start()
            results = children.results(halt_after=halt_after)
        finally:
            children.close()
        ledger = served.ledger()
    return results, server_runs(ledger), int(ledger["throttled_total"]), last


def together(
    batches: int, runs: int = RUNS_PER_BATCH, time_scale: float = TIME_SCALE
) -> dict[str, Any]:
    """W4a (two batches) or W4b (three): started together, measured against the bound."""
    case = {2: "W4a", 3: "W4b"}.get(batches, f"W4_{batches}")
    named = [(f"batch-{n}", runs, "normal") for n in range(batches)]
    with tempfile.TemporaryDirectory() as directory:
        results, hex_runs, throttled, _ = _shared(Path(directory), named, time_scale)
    total = batches * runs
    started = min(result.started for result in results)
    finished = max(result.finished for result in results)
    triggers = trigger_bound(total, trigger_windows(time_scale))
    last_lifetime = hex_runs[-1].lifetime if hex_runs else 0.0
    bound = triggers + last_lifetime
    makespan = finished - started
    span = hex_runs[-1].created - hex_runs[0].created if hex_runs else 0.0
    correct = each_once_completed(hex_runs, total) and all(
        result.statuses == {"COMPLETED": runs} for result in results
    )
    ratio = makespan / bound if bound > 0 else 0.0
    return {
        "case": f"{case}_shared_token",
        "workload": "W4",
        "batches": batches,
        "runs": total,
        "throttled_429": throttled,
        "makespan_s": round(makespan, 3),
        "bound_s": round(bound, 3),
        "trigger_bound_s": round(triggers, 3),
        "trigger_span_s": round(span, 3),
        "vs_bound": round(ratio, 4),
        "tightest_span_s": tightest_spans(hex_runs, _counted(time_scale)),
        "quota_wait_s": {r.name: round(r.quota_wait_s, 2) for r in results},
        "correct": correct,
        "ok": correct and throttled == 0 and ratio <= MAKESPAN_TARGET,
    }


def priority(
    high_runs: int = HIGH_RUNS,
    low_runs: int = LOW_RUNS,
    time_scale: float = TIME_SCALE,
    delay: float = HIGH_DELAY,
) -> dict[str, Any]:
    """W4c: a high-priority batch alone, then started last behind two low-priority ones
    with more runs than the quota lets through before the high one ends.

    The low batches are told to trigger nothing more once the high one has finished:
    what they would do next is W4a's business.
    """
    with tempfile.TemporaryDirectory() as directory:
        alone, alone_runs, alone_429, _ = _shared(
            Path(directory), [("high", high_runs, "high")], time_scale
        )
    lows = [("low-0", low_runs, "low"), ("low-1", low_runs, "low")]
    with tempfile.TemporaryDirectory() as directory:
        shared, shared_runs, shared_429, high_start = _shared(
            Path(directory),
            [*lows, ("high", high_runs, "high")],
            time_scale,
            delay=delay * time_scale,
            halt_after="high",
        )
    high_alone = _named(alone, "high")
    high = _named(shared, "high")
    ratio = high.makespan / high_alone.makespan if high_alone.makespan > 0 else 0.0
    low_completed = sum(_named(shared, name).statuses.get("COMPLETED", 0) for name, _, _ in lows)
    lows_settled = all(
        set(_named(shared, name).statuses) <= {"COMPLETED", "SKIPPED"} for name, _, _ in lows
    )
    correct = (
        each_once_completed(alone_runs, high_runs)
        and high_alone.statuses == high.statuses == {"COMPLETED": high_runs}
        and each_once_completed(shared_runs, high_runs + low_completed)
        and lows_settled
    )
    high_last = max(run.created for run in shared_runs if '"high"' in run.params)
    throttled = alone_429 + shared_429
    return {
        "case": "W4c_high_priority_last",
        "workload": "W4",
        "batches": 3,
        "runs": high_runs + low_completed,
        "throttled_429": throttled,
        "high_runs": high_runs,
        "low_runs": low_runs,
        "high_alone_s": round(high_alone.makespan, 3),
        "high_shared_s": round(high.makespan, 3),
        "high_priority_ratio": round(ratio, 4),
        "low_triggers_before_high": sum(1 for run in shared_runs if run.created < high_start),
        "low_triggers_while_high_ran": sum(
            1
            for run in shared_runs
            if '"high"' not in run.params and high_start <= run.created <= high_last
        ),
        "tightest_span_s": tightest_spans(shared_runs, _counted(time_scale)),
        "quota_wait_s": {r.name: round(r.quota_wait_s, 2) for r in shared},
        "correct": correct,
        "ok": correct and throttled == 0 and ratio <= PRIORITY_TARGET,
    }


def _named(results: Sequence[BatchResult], name: str) -> BatchResult:
    return next(result for result in results if result.name == name)


def main(time_scale: float = TIME_SCALE) -> Iterator[dict[str, Any]]:
    """Yield W4a, W4b and W4c."""
    for letter in "abc":
        yield part(letter, time_scale)


def part(name: str, time_scale: float = TIME_SCALE) -> dict[str, Any]:
    """One part of W4 by letter: ``a`` (two batches), ``b`` (three) or ``c`` (priority)."""
    if name == "c":
        return priority(time_scale=time_scale)
    return together({"a": 2, "b": 3}[name], time_scale=time_scale)


if __name__ == "__main__":
    import json

    for letter in sys.argv[1:] or ["a", "b", "c"]:
        print(json.dumps(part(letter)), flush=True)
