"""W1, W2 and W3 of the performance issue, with the fixed-interval baselines beside hexbatch.

Every figure comes from one invocation, so ratios compare like with like:

* ``W1_naive`` / ``W2_naive``: one run at a time, status every 5 s (Hex time).
  It takes minutes of wall time, so it runs in a child process alongside the
  others (it is idle nearly all the time).
* ``W1_pool10`` / ``W2_pool10``: ten loops, each polling its own run every 3 s.
* ``W1_hexbatch`` / ``W2_hexbatch``: a first batch in manifest order, then
  ``..._hexbatch_lpt``: a second batch given the first one's durations, so it
  starts the longest runs first.
* ``W3_hexbatch``: 10,000 short runs over 20 projects, in a fresh child process
  so that its peak RSS is its own.

Run ``python -m bench workloads`` (or ``make bench`` for every benchmark).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench._baseline import fixed_interval_loop
from bench._measure import Observed, finish_times, runs_in_order, summarize
from bench._workloads import Workload, backfill, many_short_runs
from hexbatch.batch import BatchOptions, run_batch
from hexbatch.engine import EngineSettings
from hexbatch.manifest import Manifest, load_manifest
from hexbatch.outcome import BatchReport
from hexbatch.simulator import Ledger, Scenario, run_simulator

NAIVE_INTERVAL = 5.0  # Hex seconds between polls of the sequential loop
POOL_INTERVAL = 3.0  # Hex seconds between polls of each of the pool's loops
POOL_WORKERS = 10


def _manifest(workload: Workload, directory: Path) -> Manifest:
    path = directory / f"{workload.name.lower()}.yaml"
    path.write_text(workload.manifest_text(), encoding="utf-8")
    return load_manifest(path, env={})


def _expected_statuses(ledger: Ledger, workload: Workload) -> list[str]:
    return [run.status_at(math.inf) for run in runs_in_order(ledger, workload.runs)]


def durations_of(report: BatchReport) -> dict[str, float]:
    """Seconds per run key from a report (Hex's elapsed time), for longest-first ordering."""
    durations: dict[str, float] = {}
    for outcome in report.runs:
        last = outcome.last_attempt
        if last is not None and last.elapsed_ms is not None:
            durations[outcome.key] = last.elapsed_ms / 1000
    return durations


async def hexbatch_batch(
    workload: Workload, durations: Mapping[str, float] | None = None, runner: str = "hexbatch"
) -> tuple[dict[str, Any], BatchReport]:
    """Run the workload with hexbatch against a fresh simulator and state store; measure it.

    The batch keeps its state in a fresh SQLite store, as ``hexbatch run`` does,
    so the figures include the cost of recording every intent and status.
    """
    with tempfile.TemporaryDirectory() as directory:
        return await _measured_batch(workload, durations, runner, Path(directory))


async def _measured_batch(
    workload: Workload, durations: Mapping[str, float] | None, runner: str, directory: Path
) -> tuple[dict[str, Any], BatchReport]:
    manifest = _manifest(workload, directory)
    async with run_simulator(Scenario.from_mapping(workload.scenario)) as simulator:
        options = BatchOptions(
            base_url=simulator.base_url,
            env={"HEX_API_TOKEN": simulator.token},
            state=directory / "state.db",
        )
        settings = EngineSettings(durations=dict(durations or {}))
        with finish_times() as seen:
            started = time.monotonic()
            report = await run_batch(manifest, options, settings=settings)
            makespan = time.monotonic() - started
        expected = _expected_statuses(simulator.ledger, workload)
        observed = Observed(
            runner=runner,
            makespan=makespan,
            detected=dict(seen),
            statuses=report.counts(),
            correct=[run.status for run in report.runs] == expected,
        )
        figures = summarize(
            workload.name, observed, simulator.ledger, workload.runs, workload.max_in_flight
        )
    figures["report_requests"] = report.requests
    return figures, report


async def baseline(
    workload: Workload, runner: str, workers: int, interval: float
) -> dict[str, Any]:
    """Run the workload with a fixed-interval loop against a fresh simulator; measure it."""
    async with run_simulator(Scenario.from_mapping(workload.scenario)) as simulator:
        result = await fixed_interval_loop(
            simulator.base_url,
            simulator.token,
            workload.runs,
            workers=workers,
            interval=workload.hex_seconds(interval),
        )
        runs = runs_in_order(simulator.ledger, workload.runs)
        observed = Observed(
            runner=runner,
            makespan=result.finished - result.started,
            detected=result.detected,
            statuses=dict(Counter(result.statuses.values())),
            correct=[result.statuses.get(run.run_id) for run in runs]
            == _expected_statuses(simulator.ledger, workload),
        )
        return summarize(
            workload.name, observed, simulator.ledger, workload.runs, workload.max_in_flight
        )


async def first_and_second_batch(workload: Workload) -> list[dict[str, Any]]:
    """hexbatch twice: manifest order, then longest-first from the first batch's durations."""
    first, report = await hexbatch_batch(workload)
    second, _ = await hexbatch_batch(workload, durations_of(report), runner="hexbatch_lpt")
    return [first, second]


async def backfill_figures(workload: Workload) -> list[dict[str, Any]]:
    """The pool baseline and both hexbatch batches on one backfill workload."""
    pool = await baseline(workload, "pool10", POOL_WORKERS, POOL_INTERVAL)
    figures = [pool, *await first_and_second_batch(workload)]
    for entry in figures[1:]:
        entry["makespan_vs_pool10"] = round(entry["makespan_s"] / pool["makespan_s"], 4)
        entry["requests_per_run_vs_pool10"] = round(
            entry["requests_per_run"] / pool["requests_per_run"], 4
        )
    return figures


async def _naive_both(dates: int, time_scale: float) -> list[dict[str, Any]]:
    workloads = [
        backfill("W1", dates=dates, time_scale=time_scale),
        backfill("W2", dates=dates, enforce_limits=True, time_scale=time_scale),
    ]
    return list(await asyncio.gather(*(baseline(w, "naive", 1, NAIVE_INTERVAL) for w in workloads)))


def naive_figures(dates: int = 60, time_scale: float = 0.01) -> list[dict[str, Any]]:
    """The naive sequential loop on W1 and W2 (run concurrently: each is idle almost always)."""
    return asyncio.run(_naive_both(dates, time_scale))


def peak_rss_kib() -> int:
    """This process's peak resident set in KiB.

    Linux's ``VmHWM`` belongs to the current program image, while ``ru_maxrss``
    survives ``exec`` and so can report the parent's peak in a spawned child.
    """
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def short_runs_figures(runs: int = 10_000, max_in_flight: int = 100) -> dict[str, Any]:
    """W3: wall time, runs per second and the peak RSS of this process (run it in a fresh one)."""
    workload = many_short_runs(runs, max_in_flight=max_in_flight)
    figures, report = asyncio.run(hexbatch_batch(workload))
    peak_kib = peak_rss_kib()
    return {
        "case": "W3_hexbatch",
        "runs": runs,
        "projects": len(workload.projects),
        "max_in_flight": max_in_flight,
        "statuses": report.counts(),
        "correct": figures["correct"],
        "wall_s": figures["makespan_s"],
        "runs_per_s": round(runs / figures["makespan_s"], 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "requests": figures["requests"],
        "requests_per_run": figures["requests_per_run"],
    }


def _child_pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def main(dates: int = 60, short_runs: int = 10_000) -> Iterator[dict[str, Any]]:
    """Yield one measurement per workload and runner."""
    with _child_pool() as naive_pool:
        naive: Future[list[dict[str, Any]]] = naive_pool.submit(naive_figures, dates)
        unlimited = asyncio.run(backfill_figures(backfill("W1", dates=dates)))
        yield from unlimited
        limited = asyncio.run(backfill_figures(backfill("W2", dates=dates, enforce_limits=True)))
        for w2, w1 in zip(limited[1:], unlimited[1:], strict=True):
            w2["makespan_vs_W1"] = round(w2["makespan_s"] / w1["makespan_s"], 4)
        yield from limited
        with _child_pool() as w3_pool:
            yield w3_pool.submit(short_runs_figures, short_runs).result()
        yield from naive.result()


if __name__ == "__main__":
    import json

    for measurement in main(*(int(arg) for arg in sys.argv[1:3])):
        print(json.dumps(measurement), flush=True)
