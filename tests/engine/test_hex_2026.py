"""Batches against today's Hex: the 30/min read group, busy schedules, timelines, re-publishes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hexbatch import status
from hexbatch.manifest.loader import DEFAULT_POLL
from hexbatch.manifest.model import DEFAULT_LIMITS
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
from tests.engine.test_batches import assert_ledger_matches

TIME_SCALE = 0.01


def _scaled(seconds: float) -> str:
    return f"{seconds * TIME_SCALE * 1000:g}ms"


def _default_limits_scaled() -> dict[str, Any]:
    """hexbatch's default limits on the simulator's time scale (the test stays seconds long)."""
    return {
        kind: [{"count": w.count, "per": _scaled(w.per)} for w in windows]
        for kind, windows in (
            ("requests", DEFAULT_LIMITS.requests),
            ("triggers", DEFAULT_LIMITS.triggers),
        )
    }


def _today_hex(projects: list[dict[str, Any]]) -> dict[str, Any]:
    """A scenario with Hex's default 2026 limits (no limits key: the simulator's defaults)."""
    sim = scenario(projects)
    del sim["limits"]
    return sim


async def test_default_limits_get_no_429_from_a_busy_2026_hex(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """28 runs, 14 in flight, default limits, Hex enforcing 30 reads a minute and 1,800 an
    hour plus RunProject's 20 and 60, scheduled runs arriving every second: every run
    completes, no 429, no scheduled run taken for one of ours, every list read filtered."""
    busy = {"schedules": [{"trigger": "SCHEDULED", "every": "1s", "duration": 5}]}
    sim = _today_hex([project(P1, **busy), project(P2, **busy)])
    poll = {
        "initial": _scaled(DEFAULT_POLL.initial),
        "max": _scaled(DEFAULT_POLL.max),
        "multiplier": DEFAULT_POLL.multiplier,
    }
    path = manifest(
        tmp_path,
        [
            {"id": P1, "runs": [{"n": n} for n in range(14)]},
            {"id": P2, "runs": [{"n": n} for n in range(14)]},
        ],
        defaults={"max_in_flight": 14, "poll": poll},
        limits=_default_limits_scaled(),
    )
    harness: Harness = harness_factory(sim)

    report = await harness.run(path)

    assert report.counts() == {"COMPLETED": 28}
    ledger = harness.ledger
    assert ledger is not None
    assert ledger.total_throttled == 0
    assert report.requests.get("throttled", 0) == 0
    assert len(ledger.scheduled) > 100  # Hex's own runs kept arriving meanwhile
    scheduled_ids = {run.run_id for run in ledger.scheduled}
    ours = {a.run_id for run in report.runs for a in run.attempts}
    assert not ours & scheduled_ids
    assert_ledger_matches(report, ledger)
    assert ledger.list_filters
    assert set(ledger.list_filters) == {"API"}
    # What Hex announced is kept per kind (the simulator names its tightest window).
    assert {"trigger", "list", "status"} <= set(report.rate_limits)
    assert {seen.limit for seen in report.rate_limits.values()} <= {20, 30}
    with_events = 0
    for run in report.runs:
        (attempt,) = run.attempts
        assert attempt.project_version == "1"
        # The split is known for every run: from its events when its end was confirmed
        # by its own read (when the budget had room), else from Hex's startTime.
        assert attempt.phases.queued_ms is not None
        assert attempt.phases.run_ms is not None
        if attempt.state_events is not None:
            with_events += 1
            assert [e["value"] for e in attempt.state_events][-1] == status.COMPLETED
    assert with_events > 0


def _republished(policy: str, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    """Six runs one at a time; the project is re-published (1 -> 2) during the batch."""
    sim = scenario([project(P1, republish=[{"at": 45}])])
    path = manifest(
        tmp_path,
        [
            {
                "id": P1,
                "max_in_flight": 1,
                "on_version_change": policy,
                "runs": [{"n": n} for n in range(6)],
            }
        ],
    )
    return sim, path


async def test_a_republish_is_recorded_and_the_batch_goes_on_by_default(tmp_path: Path) -> None:
    """With warn (the default) and continue, every run completes on whichever version was
    published when it was triggered, and each attempt says which."""
    for policy in ("warn", "continue"):
        sim, path = _republished(policy, tmp_path)
        harness = InProcessHarness(sim)

        report = await harness.run(path)

        assert report.counts() == {"COMPLETED": 6}
        versions = [run.attempts[0].project_version for run in report.runs]
        known = [version for version in versions if version is not None]
        assert known == versions
        assert known[0] == "1"
        assert known[-1] == "2"
        assert known == sorted(known)


async def test_stop_withholds_the_projects_remaining_triggers(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """With stop, the trigger that revealed the new version is the project's last: the
    runs not yet triggered end SKIPPED, saying why, and the stored report agrees."""
    sim, path = _republished("stop", tmp_path)
    harness: Harness = harness_factory(sim)

    report = await harness.run(path, state=tmp_path / "stop.db")

    triggered = [run for run in report.runs if run.attempts]
    versions = [run.attempts[0].project_version for run in triggered]
    assert versions[-1] == "2"
    assert versions.count("2") == 1
    skipped = [run for run in report.runs if not run.attempts]
    assert skipped
    for run in skipped:
        assert run.status == status.SKIPPED
        assert run.error is not None
        assert "re-published during the batch (version 1 -> 2)" in run.error
        assert run.settled  # decided, not left for the next run to trigger
    assert harness.ledger is not None
    assert len(harness.ledger.runs) == len(triggered)
