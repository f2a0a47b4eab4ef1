"""Whole batches against the simulator: outcomes, retries, limits, faults.

The engine's own decisions (outcomes, retries, timeouts, caps, the kernel gate,
fail-fast, dry runs) run in process, in virtual time; the faults the HTTP layer
handles (5xx, garbled bodies, resets, 429s, the client's budgets) run over real
loopback HTTP. The simulator's ledger is the witness: it proves that every
planned run was triggered exactly as often as the report says (no duplicates) and
that every outcome reached the report (nothing lost).
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

from hexbatch import status
from hexbatch.outcome import BatchReport
from hexbatch.simulator import Ledger
from hexbatch.simulator.inprocess import ORIGIN
from tests.engine.conftest import (
    P1,
    P2,
    Harness,
    HarnessFactory,
    InProcessHarness,
    manifest,
    project,
    scenario,
)


def assert_ledger_matches(report: BatchReport, ledger: Ledger) -> None:
    """Every run id in the report exists in Hex once, and Hex has no run the report lacks."""
    reported = [a.run_id for run in report.runs for a in run.attempts if a.run_id]
    created = [run.run_id for run in ledger.runs]
    assert sorted(reported) == sorted(created)
    assert len(set(created)) == len(created)
    for run in report.runs:
        made = ledger.runs_for(run.project_id, run.params)
        assert len(made) == len([a for a in run.attempts if a.run_id]), run


async def test_sweep_with_mixed_outcomes(tmp_path: Path) -> None:
    """A matrix sweep reports each combination's own outcome, in plan order."""
    sim = scenario(
        [
            project(
                outcome={
                    "default": "COMPLETED",
                    "rules": [
                        {"when": {"tier": "free", "region": "eu"}, "status": "ERRORED"},
                        {"when": {"tier": "pro", "region": "apac"}, "status": "KILLED"},
                    ],
                }
            )
        ]
    )
    path = manifest(
        tmp_path,
        [
            {
                "id": P1,
                "name": "sweep",
                "matrix": {"region": ["us", "eu", "apac"], "tier": ["free", "pro"]},
            }
        ],
    )
    harness = InProcessHarness(sim)

    report = await harness.run(path)

    assert [r.params for r in report.runs][:2] == [
        {"region": "us", "tier": "free"},
        {"region": "us", "tier": "pro"},
    ]
    assert report.counts() == {"COMPLETED": 4, "ERRORED": 1, "KILLED": 1}
    assert not report.ok
    errored = next(r for r in report.runs if r.status == status.ERRORED)
    assert errored.params == {"region": "eu", "tier": "free"}
    assert (errored.run_url or "").startswith(ORIGIN)
    assert_ledger_matches(report, harness.ledger)
    assert report.requests["trigger"] == 6


async def test_backfill_with_one_bad_date(tmp_path: Path) -> None:
    """A date backfill completes every day but the one the scenario breaks."""
    sim = scenario(
        [project(outcome={"rules": [{"when": {"run_date": "2025-01-05"}, "status": "ERRORED"}]})]
    )
    path = manifest(
        tmp_path,
        [{"id": P1, "dates": {"param": "run_date", "start": "2025-01-01", "end": "2025-01-10"}}],
    )
    harness = InProcessHarness(sim)

    report = await harness.run(path)

    assert len(report.runs) == 10
    bad = [r.params["run_date"] for r in report.runs if r.status != status.COMPLETED]
    assert bad == ["2025-01-05"]
    assert_ledger_matches(report, harness.ledger)


async def test_unable_to_allocate_kernel_is_retried(tmp_path: Path) -> None:
    """A run ending UNABLE_TO_ALLOCATE_KERNEL is triggered again and every attempt is kept."""
    sim = scenario(
        [
            project(
                outcome={
                    "rules": [
                        {
                            "when": {"n": 1},
                            "status": "UNABLE_TO_ALLOCATE_KERNEL",
                            "first_attempts": 1,
                        },
                        {"when": {"n": 2}, "status": "UNABLE_TO_ALLOCATE_KERNEL"},
                    ]
                }
            )
        ]
    )
    path = manifest(
        tmp_path,
        [{"id": P1, "runs": [{"n": 1}, {"n": 2}, {"n": 3}]}],
        defaults={"retries": {"attempts": 2}},
    )
    harness = InProcessHarness(sim)

    report = await harness.run(path)

    first, second, third = report.runs
    assert (first.status, [a.status for a in first.attempts]) == (
        status.COMPLETED,
        [status.UNABLE_TO_ALLOCATE_KERNEL, status.COMPLETED],
    )
    assert second.status == status.UNABLE_TO_ALLOCATE_KERNEL
    assert len(second.attempts) == 3  # the first try and two retries
    assert len(third.attempts) == 1
    assert_ledger_matches(report, harness.ledger)


async def test_timeout_cancels_the_run_in_hex(tmp_path: Path) -> None:
    """A run past its timeout is cancelled (DELETE), confirmed KILLED, and ends TIMED_OUT."""
    sim = scenario([project(duration=600)])
    path = manifest(tmp_path, [{"id": P1, "timeout": "300ms"}])
    harness = InProcessHarness(sim)

    report = await harness.run(path)

    (run,) = report.runs
    assert run.status == status.TIMED_OUT
    assert run.attempts[0].status == status.KILLED
    assert "timeout" in (run.error or "")
    assert report.requests["cancel"] == 1
    assert harness.ledger.requests["CancelRun"] == 1


async def test_failed_status_reads_are_retried_without_losing_the_run(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """500s and garbled bodies on status reads are retried; every run still completes."""
    faults = [
        {"operation": "GetRunStatus", "kind": "error", "status": 500, "every_nth": 3},
        {"operation": "GetRunStatus", "kind": "malformed", "every_nth": 4},
        {"operation": "GetProjectRuns", "kind": "error", "status": 502, "every_nth": 2},
    ]
    sim = scenario([project()], faults=faults)
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(6)]}])
    harness: Harness = harness_factory(sim)

    report = await harness.run(path)

    assert report.counts() == {"COMPLETED": 6}
    assert harness.ledger is not None
    assert harness.ledger.faults
    assert_ledger_matches(report, harness.ledger)


async def test_connection_reset_after_create_is_reconciled_not_duplicated(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """A trigger whose connection dropped after Hex created the run adopts that run."""
    faults = [{"operation": "RunProject", "kind": "reset", "every_nth": 2}]
    sim = scenario([project()], faults=faults)
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(6)]}])
    harness: Harness = harness_factory(sim)

    report = await harness.run(path)

    assert report.counts() == {"COMPLETED": 6}
    assert harness.ledger is not None
    assert len(harness.ledger.runs) == 6
    assert_ledger_matches(report, harness.ledger)


async def test_gateway_error_before_create_is_retriggered_once(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """A 502 that created nothing is settled by the run list, then the trigger is resent."""
    faults = [{"operation": "RunProject", "kind": "error", "status": 502, "every_nth": 3}]
    sim = scenario([project()], faults=faults)
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(5)]}])
    harness: Harness = harness_factory(sim)

    report = await harness.run(path)

    assert report.counts() == {"COMPLETED": 5}
    assert harness.ledger is not None
    assert harness.ledger.requests["RunProject"] > 5
    assert len(harness.ledger.runs) == 5
    assert_ledger_matches(report, harness.ledger)


async def test_server_rate_limits_throttle_without_losing_anything(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """With client budgets looser than the server's, 429s slow the batch but lose nothing."""
    limits = {"requests": {"count": 8, "per": 30}, "run_project": {"count": 3, "per": 30}}
    sim = scenario([project(), project(P2)], limits=limits)
    path = manifest(
        tmp_path,
        [
            {"id": P1, "runs": [{"n": n} for n in range(4)]},
            {"id": P2, "runs": [{"n": 9}, {"n": 8}]},
        ],
    )
    harness: Harness = harness_factory(sim)

    report = await harness.run(path)

    assert report.counts() == {"COMPLETED": 6}
    assert report.requests["throttled"] > 0
    assert harness.ledger is not None
    assert harness.ledger.total_throttled == report.requests["throttled"]
    assert_ledger_matches(report, harness.ledger)


async def test_matching_client_budgets_get_no_429(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """When the manifest's limits match the server's, the server never has to say 429."""
    limits = {"requests": {"count": 10, "per": 20}, "run_project": {"count": 3, "per": 20}}
    sim = scenario([project()], limits=limits)
    path = manifest(
        tmp_path,
        [{"id": P1, "runs": [{"n": n} for n in range(5)]}],
        limits={
            "requests": {"count": 10, "per": "200ms"},
            "triggers": [{"count": 3, "per": "200ms"}],
        },
    )
    harness: Harness = harness_factory(sim)

    report = await harness.run(path)

    assert report.counts() == {"COMPLETED": 5}
    assert report.requests.get("throttled", 0) == 0
    assert harness.ledger is not None
    assert harness.ledger.total_throttled == 0


async def test_kernel_limit_pauses_triggering(tmp_path: Path) -> None:
    """Past Hex's kernel limit the batch waits for kernels instead of failing runs."""
    generous = scenario([])["limits"]  # no 429: waiting out a 429 is the client's, over HTTP
    sim = scenario([project()], limits={**generous, "kernel_limit": 2})
    path = manifest(
        tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(6)]}], defaults={"max_in_flight": 5}
    )
    harness = InProcessHarness(sim)

    report = await harness.run(path)

    assert report.counts() == {"COMPLETED": 6}
    assert harness.ledger.unavailable > 0
    assert harness.ledger.peak_live <= 2
    assert_ledger_matches(report, harness.ledger)


async def test_in_flight_caps_hold_globally_and_per_project(tmp_path: Path) -> None:
    """No more runs are alive than max_in_flight, nor per project than its own cap."""
    sim = scenario([project(), project(P2)])
    path = manifest(
        tmp_path,
        [
            {"id": P1, "max_in_flight": 1, "runs": [{"n": n} for n in range(3)]},
            {"id": P2, "runs": [{"n": n} for n in range(5)]},
        ],
        defaults={"max_in_flight": 3},
    )
    harness = InProcessHarness(sim)

    report = await harness.run(path)

    assert report.counts() == {"COMPLETED": 8}
    assert harness.ledger.peak_live <= 3
    p1_runs = sorted(harness.ledger.runs_for(P1), key=lambda r: r.created_at)
    assert len(p1_runs) == 3
    for earlier, later in itertools.pairwise(p1_runs):
        ended_at = earlier.timeline(later.created_at)[-1]
        assert ended_at[0] == status.COMPLETED  # P1's cap of 1: the next began after
        assert ended_at[1] <= later.created_at


async def test_an_entry_keeps_its_cap_when_another_entry_names_the_same_project(
    tmp_path: Path,
) -> None:
    """max_in_flight belongs to the entry: a second entry of the project cannot lift it."""
    sim = scenario([project(duration=20)])
    path = manifest(
        tmp_path,
        [
            {"id": P1, "name": "heavy", "max_in_flight": 1, "runs": [{"n": n} for n in range(4)]},
            {"id": P1, "name": "light", "runs": [{"m": 1}]},
        ],
        defaults={"max_in_flight": 10},
    )
    harness = InProcessHarness(sim)

    report = await harness.run(path)

    assert report.counts() == {"COMPLETED": 5}
    heavy = sorted(
        (r for r in harness.ledger.runs_for(P1) if "n" in r.params), key=lambda r: r.created_at
    )
    assert len(heavy) == 4
    for earlier, later in itertools.pairwise(heavy):
        ended_at = earlier.timeline(later.created_at)[-1]
        assert ended_at[0] == status.COMPLETED  # one heavy run at a time
        assert ended_at[1] <= later.created_at


async def test_fail_fast_skips_the_rest(tmp_path: Path) -> None:
    """After the first failure nothing new starts; the unstarted runs end SKIPPED."""
    sim = scenario(
        [project(duration=5, outcome={"rules": [{"when": {"n": 0}, "status": "ERRORED"}]})]
    )
    path = manifest(
        tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(8)]}], defaults={"max_in_flight": 1}
    )
    harness = InProcessHarness(sim)

    report = await harness.run(path, fail_fast=True)

    counts = Counter(r.status for r in report.runs)
    assert counts == {status.ERRORED: 1, status.SKIPPED: 7}
    assert all("fail-fast" in (r.error or "") for r in report.runs[1:])
    assert len(harness.ledger.runs) == 1


async def test_dry_run_creates_no_runs(tmp_path: Path) -> None:
    """--dry-run sends every trigger with dryRun: Hex validates, nothing runs."""
    sim = scenario([project()])
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}])
    harness = InProcessHarness(sim)

    report = await harness.run(path, dry_run=True)

    assert report.counts() == {"COMPLETED": 2}
    assert harness.ledger.runs == []
    assert report.requests.get("status", 0) == 0
