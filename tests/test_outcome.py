"""Outcome records and the hexbatch.report/1 serialisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hexbatch import status
from hexbatch.api.limits_seen import LimitsSeen
from hexbatch.outcome import Attempt, BatchReport, RunOutcome, iso

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def _outcome(key: str, final: str, *attempt_statuses: str) -> RunOutcome:
    attempts = [
        Attempt(triggered_at=T0, run_id=f"{key}-{n}", run_url=f"https://x/{key}/{n}", status=s)
        for n, s in enumerate(attempt_statuses)
    ]
    return RunOutcome(key, "p-id", "proj", {"d": key}, final, attempts)


def test_iso_uses_z_and_milliseconds() -> None:
    """Timestamps render in UTC with a Z suffix, as Hex writes them."""
    assert iso(T0) == "2025-01-01T12:00:00.000Z"
    assert iso(None) is None


def test_report_json_follows_the_contract() -> None:
    """The report has the contract's keys, counts per status and the last attempt's run id."""
    runs = [
        _outcome("a", status.COMPLETED, status.COMPLETED),
        _outcome("b", status.ERRORED, status.UNABLE_TO_ALLOCATE_KERNEL, status.ERRORED),
        RunOutcome("c", "p-id", "proj", {}, status.SKIPPED),
    ]
    report = BatchReport("m.yaml", T0, T0 + timedelta(seconds=1.5), runs, {"trigger": 3})

    body = report.to_json()

    assert body["schema"] == "hexbatch.report/1"
    assert body["ok"] is False
    assert body["duration_s"] == 1.5
    assert body["counts"] == {"COMPLETED": 1, "ERRORED": 1, "SKIPPED": 1}
    assert body["requests"] == {
        "trigger": 3,
        "status": 0,
        "list": 0,
        "cancel": 0,
        "throttled": 0,
        "rate_limits": {},
    }
    assert body["runs"][1]["run_id"] == "b-1"
    assert len(body["runs"][1]["attempts"]) == 2
    assert body["runs"][2]["run_id"] is None


def test_report_is_ok_only_when_every_run_completed() -> None:
    """A batch is ok when all runs completed, and not otherwise."""
    good = BatchReport("m", T0, T0, [_outcome("a", status.COMPLETED, status.COMPLETED)])
    assert good.ok

    assert status.is_terminal(status.KILLED)
    assert not status.is_terminal("SOMETHING_NEW")


def test_elapsed_time_is_whole_milliseconds() -> None:
    """Hex's fractional elapsedTime is reported as an integer number of milliseconds."""
    attempt = Attempt(triggered_at=T0, run_id="r", status=status.COMPLETED, elapsed_ms=1234.6)

    assert attempt.to_json()["elapsed_ms"] == 1235


def _event(value: str, at: datetime, kind: str = "STATUS") -> dict[str, object]:
    return {"type": kind, "value": value, "timestamp": iso(at)}


def test_queue_and_run_time_come_from_state_events() -> None:
    """Queued is from the first event to the first RUNNING one, run from there to the end;
    an event of an unknown type is kept in the report and does not disturb the split."""
    events = (
        _event("PENDING", T0),
        _event("ALLOCATED", T0 + timedelta(seconds=2), kind="KERNEL"),
        _event("RUNNING", T0 + timedelta(seconds=3)),
        _event("COMPLETED", T0 + timedelta(seconds=10)),
    )
    attempt = Attempt(
        triggered_at=T0 - timedelta(seconds=1),
        run_id="r",
        status=status.COMPLETED,
        started_at=T0 + timedelta(seconds=4),  # events win over startTime
        finished_at=T0 + timedelta(seconds=10),
        project_version="12",
        state_events=events,
    )

    body = attempt.to_json()

    assert (body["queued_ms"], body["run_ms"]) == (3000, 7000)
    assert body["project_version"] == "12"
    assert body["state_events"][1] == {
        "type": "KERNEL",
        "value": "ALLOCATED",
        "timestamp": "2025-01-01T12:00:02.000Z",
    }


def test_without_events_queue_time_runs_from_the_trigger_to_start_time() -> None:
    """With no events, Hex's startTime splits the attempt; a run that never ran was
    queued all along; a run still pending has no figures yet."""
    ran = Attempt(
        triggered_at=T0,
        run_id="r",
        status=status.COMPLETED,
        started_at=T0 + timedelta(seconds=1.5),
        finished_at=T0 + timedelta(seconds=4),
    )
    never_ran = Attempt(
        triggered_at=T0,
        run_id="r2",
        status=status.UNABLE_TO_ALLOCATE_KERNEL,
        finished_at=T0 + timedelta(seconds=9),
    )
    pending = Attempt(triggered_at=T0, run_id="r3", status=status.PENDING)

    assert (ran.to_json()["queued_ms"], ran.to_json()["run_ms"]) == (1500, 2500)
    assert (never_ran.to_json()["queued_ms"], never_ran.to_json()["run_ms"]) == (9000, 0)
    assert (pending.to_json()["queued_ms"], pending.to_json()["run_ms"]) == (None, None)


def test_rate_limits_seen_are_reported_per_kind() -> None:
    """The rate-limit headers Hex last sent sit in the requests block, per kind."""
    seen = LimitsSeen(limit=30, remaining=4, reset_s=12.5, seen_at="2025-01-01T12:00:00.000Z")
    report = BatchReport("m", T0, T0, [], {"status": 9}, {"status": seen})

    block = report.to_json()["requests"]["rate_limits"]

    assert block == {
        "status": {
            "limit": 30,
            "remaining": 4,
            "reset_s": 12.5,
            "seen_at": "2025-01-01T12:00:00.000Z",
            "retry_after_s": None,
            "retry_after_at": None,
        }
    }
