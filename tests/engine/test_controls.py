"""Stopping and watching a batch: fail-fast with cancel, progress output, the library entry."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

from rich.console import Console

import hexbatch
from hexbatch import status
from hexbatch.cli.progress import describe, show_progress
from hexbatch.clock import VirtualClock
from hexbatch.engine import Snapshot
from tests.engine.conftest import (
    P1,
    P2,
    Harness,
    HarnessFactory,
    InProcessHarness,
    fast_settings,
    manifest,
    project,
    scenario,
)


async def test_fail_fast_with_cancel_cancels_the_live_runs(tmp_path: Path) -> None:
    """--cancel-on-fail-fast: the first failure cancels the other live runs in Hex."""
    failing = project(P1, duration=5, outcome={"default": "ERRORED"})
    slow = project(P2, duration=3000)
    path = manifest(
        tmp_path,
        [{"id": P1, "runs": [{"n": 0}]}, {"id": P2, "runs": [{"n": n} for n in range(1, 5)]}],
        defaults={"max_in_flight": 4},
    )
    harness = InProcessHarness(scenario([failing, slow]))

    report = await harness.run(path, fail_fast=True, cancel_on_fail_fast=True)

    counts = Counter(r.status for r in report.runs)
    assert counts == {status.ERRORED: 1, status.CANCELLED: 3, status.SKIPPED: 1}
    killed = [r for r in harness.ledger.snapshot()["runs"] if r["status"] == "KILLED"]
    assert len(killed) == 3


async def test_run_batch_is_usable_from_python(tmp_path: Path) -> None:
    """hexbatch.run_batch runs a manifest against the simulator and returns the report."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}], sim=scenario([project()]))

    report = await hexbatch.run_batch(
        path,
        hexbatch.BatchOptions(simulate=True),
        settings=fast_settings(),
    )

    assert report.ok
    assert report.to_json()["counts"] == {"COMPLETED": 1}
    assert not (tmp_path / ".hexbatch").exists()  # a simulated batch keeps no state


def _snapshot(**finished: int) -> Snapshot:
    return Snapshot(total=10, finished=Counter(finished), live=3, pending=4, elapsed=12.0)


def test_describe_counts_statuses_and_estimates_the_end() -> None:
    """The one-line progress names counts per status, work in flight and an ETA."""
    line = describe(_snapshot(COMPLETED=2, ERRORED=1))

    assert line == (
        "3/10 finished (ERRORED 1, COMPLETED 2), 3 in flight, 4 waiting, elapsed 12s, eta 28s"
    )
    assert "eta —" in describe(_snapshot())


def test_describe_says_how_long_triggers_waited_for_quota() -> None:
    """Once triggers have waited for the token's quota, the line says for how long."""
    waited = Snapshot(
        total=10, finished=Counter(), live=3, pending=4, elapsed=12.0, quota_wait=754.0
    )

    assert describe(waited).endswith(", quota wait 12m34s")
    assert "quota" not in describe(_snapshot())


async def test_progress_prints_periodic_lines_when_not_a_terminal() -> None:
    """Off a terminal, progress is a plain line every interval."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)

    clock = VirtualClock()

    with clock.move_on_after(0.35):
        await show_progress(
            lambda: _snapshot(COMPLETED=5), console, interval=0.1, time=clock.source()
        )

    lines = [line for line in out.getvalue().splitlines() if line]
    assert len(lines) == 3  # at 0.1, 0.2 and 0.3 s of the batch's own time
    assert lines[0].startswith("progress: 5/10 finished (COMPLETED 5)")


async def test_progress_is_live_on_a_terminal() -> None:
    """On a terminal, progress is one live line with counts per status."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)

    clock = VirtualClock()

    with clock.move_on_after(0.2):
        await show_progress(
            lambda: _snapshot(COMPLETED=5, ERRORED=1), console, interval=0.05, time=clock.source()
        )

    assert "6/10 finished" in out.getvalue()
    assert "ERRORED" in out.getvalue()


async def test_a_batch_stopped_before_it_starts_triggers_nothing(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """An interrupt during the preflight check leaves every run SKIPPED and Hex untouched."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}])
    harness: Harness = harness_factory(scenario([project()]))
    harness.control.stop("SIGINT received")

    report = await harness.run(path)

    assert report.counts() == {status.SKIPPED: 2}
    assert all("SIGINT" in (run.error or "") for run in report.runs)
    assert harness.ledger is not None
    assert harness.ledger.runs == []


async def test_stop_reaches_triggers_queued_behind_another(tmp_path: Path) -> None:
    """After --fail-fast stops the batch, triggers waiting for the project's turn are not sent."""
    slow_triggers = [{"operation": "RunProject", "kind": "latency", "delay": 30, "every_nth": 1}]
    sim = scenario([project(duration=1, outcome={"default": "ERRORED"})], faults=slow_triggers)
    path = manifest(
        tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(6)]}], defaults={"max_in_flight": 6}
    )
    harness = InProcessHarness(sim)

    report = await harness.run(path, fail_fast=True)

    assert len(harness.ledger.runs) <= 2  # the first, and at most the one already in flight
    assert Counter(r.status for r in report.runs)[status.SKIPPED] >= 4


async def test_a_token_without_run_scope_stops_at_the_first_trigger(tmp_path: Path) -> None:
    """A 403 on a trigger means no trigger can work: one request, then everything stops."""
    sim = scenario([project()])
    sim["tokens"].append({"value": "hxtp_reader_only", "name": "reader", "read_only": True})
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(5)]}])
    harness = InProcessHarness(sim, token="hxtp_reader_only")

    report = await harness.run(path)

    assert isinstance(harness.control.fatal, hexbatch.PermissionDeniedError)
    assert harness.ledger.runs == []
    assert harness.ledger.requests["RunProject"] == 1
    assert Counter(r.status for r in report.runs) == {
        status.TRIGGER_FAILED: 1,
        status.SKIPPED: 4,
    }


async def test_a_dry_run_keeps_no_state(tmp_path: Path, harness_factory: HarnessFactory) -> None:
    """--dry-run neither creates nor resumes a batch in the state store."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])

    await harness_factory(scenario([project()])).run(path, dry_run=True)

    assert not (tmp_path / ".hexbatch").exists()


async def test_preflight_lists_the_workspace_for_many_projects(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """A bulk refresh of many projects is checked with one ListProjects page, not one each."""
    ids = [f"99999999-9999-4999-8999-{n:012d}" for n in range(8)]
    harness: Harness = harness_factory(scenario([project(pid) for pid in ids]))
    path = manifest(tmp_path, [{"id": pid} for pid in ids], defaults={"max_in_flight": 8})

    report = await harness.run(path)

    assert report.counts() == {status.COMPLETED: 8}
    assert harness.ledger is not None
    assert harness.ledger.requests["ListProjects"] == 1
    assert harness.ledger.requests.get("GetProject", 0) == 0
