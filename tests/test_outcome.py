"""Outcome records and the hexbatch.report/1 serialisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hexbatch import status
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
    assert body["requests"] == {"trigger": 3, "status": 0, "list": 0, "cancel": 0, "throttled": 0}
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
