"""Unit tests of every StateStore method."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from hexbatch.state import PLANNED, BatchInfo, StateError, StateStore
from tests.state.conftest import MANIFEST, T0, at, new_batch, planned


def test_creates_parent_folders_and_file(state_path: Path) -> None:
    """Opening a store in a missing folder creates the folder and the file."""
    with StateStore(state_path):
        pass
    assert state_path.is_file()


def test_uses_wal_journal(state_path: Path) -> None:
    """An SQLite store runs in WAL mode so readers never block the writer."""
    StateStore(state_path).close()
    with sqlite3.connect(state_path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_create_batch_returns_header(batch: BatchInfo) -> None:
    """The new batch's header holds what it was created with and is unfinished."""
    assert (batch.manifest, batch.plan_hash, batch.token_env) == (
        MANIFEST,
        "p-hash",
        "HEX_API_TOKEN",
    )
    assert batch.started_at == T0
    assert batch.finished_at is None
    assert not batch.finished


def test_a_batch_keeps_the_today_it_was_planned_on(store: StateStore) -> None:
    """The as-of date a batch is created with comes back with it, from every lookup, and
    a batch whose dates did not depend on today has none."""
    dated = new_batch(store, as_of=dt.date(2025, 3, 1))
    fixed = new_batch(store, manifest="/data/fixed.yaml")

    assert dated.as_of == store.batch(dated.id).as_of == dt.date(2025, 3, 1)
    latest = store.latest_batch("sweep")
    assert latest is not None
    assert latest.as_of == dt.date(2025, 3, 1)
    assert fixed.as_of is None


def test_create_batch_stores_plan_in_order(store: StateStore, batch: BatchInfo) -> None:
    """Every planned run comes back in plan order with its params and no attempts."""
    runs = store.runs(batch.id)
    assert [run.key for run in runs] == ["k0", "k1", "k2"]
    assert runs[1].params == {"run_date": "2025-01-02", "n": 1}
    assert all(run.status == PLANNED and run.attempts == [] for run in runs)


def test_create_batch_refuses_duplicate_keys(store: StateStore) -> None:
    """A plan with a key twice is refused and leaves no half-made batch behind."""
    runs = planned(2)
    with pytest.raises(StateError, match="cannot create the batch"):
        new_batch(store, [runs[0], runs[0]])
    assert store.batches() == []


def test_batch_ids_increase(store: StateStore) -> None:
    """Each new batch gets a larger id."""
    first = new_batch(store)
    second = new_batch(store)
    assert second.id > first.id


def test_batch_unknown_id(store: StateStore) -> None:
    """Asking for a batch that does not exist is a StateError naming it."""
    with pytest.raises(StateError, match="no batch 42"):
        store.batch(42)


def test_latest_batch_of_manifest(store: StateStore) -> None:
    """latest_batch gives the newest batch of that manifest only."""
    first = new_batch(store)
    new_batch(store, manifest="/other.yaml")
    assert store.latest_batch("sweep") == first
    newer = new_batch(store)
    assert store.latest_batch("sweep") == newer  # named by MANIFEST's file name
    assert store.latest_batch("never") is None


def test_latest_batch_id_of_any_manifest(store: StateStore) -> None:
    """latest_batch_id gives the newest batch whatever its manifest, or None when empty."""
    assert store.latest_batch_id() is None
    new_batch(store)
    other = new_batch(store, manifest="/other.yaml")
    assert store.latest_batch_id() == other.id


def test_update_manifest_hash(store: StateStore, batch: BatchInfo) -> None:
    """The manifest hash can change after execution settings did."""
    store.update_manifest_hash(batch.id, "new-hash")
    assert store.batch(batch.id).manifest_hash == "new-hash"


def test_update_manifest_hash_unknown_batch(store: StateStore) -> None:
    """Updating a batch that does not exist is an error."""
    with pytest.raises(StateError, match="no batch 9"):
        store.update_manifest_hash(9, "x")


def test_finish_batch(store: StateStore, batch: BatchInfo) -> None:
    """finish_batch stores the end time."""
    store.finish_batch(batch.id, at(90))
    assert store.batch(batch.id).finished_at == at(90)


def test_finish_unknown_batch(store: StateStore) -> None:
    """Finishing a batch that does not exist is an error."""
    with pytest.raises(StateError, match="no batch 5"):
        store.finish_batch(5, at(1))


def test_intent_makes_an_unresolved_attempt(store: StateStore, batch: BatchInfo) -> None:
    """An intent alone is an attempt without run id whose outcome must be reconciled."""
    store.record_intent(batch.id, "k0", 1, at(1))
    run = store.runs(batch.id)[0]
    assert run.unresolved
    assert run.last_intent_at == at(1)
    assert run.attempts[0].run_id is None
    assert run.attempts[0].triggered_at == at(1)
    assert run.next_attempt == 2


def test_intent_for_unknown_run(store: StateStore, batch: BatchInfo) -> None:
    """An intent for a key the plan does not have is refused."""
    with pytest.raises(StateError, match="run nope"):
        store.record_intent(batch.id, "nope", 1, at(1))


def test_attempt_numbers_start_at_one(store: StateStore, batch: BatchInfo) -> None:
    """Attempt number 0 is refused."""
    with pytest.raises(StateError):
        store.record_intent(batch.id, "k0", 0, at(1))


def test_triggered_records_run_id(store: StateStore, batch: BatchInfo) -> None:
    """After the trigger the attempt has its run id, URL and trigger time and is in flight."""
    store.record_intent(batch.id, "k0", 1, at(1))
    store.record_triggered(batch.id, "k0", 1, "run-1", "https://hex/run-1", at(2))
    run = store.runs(batch.id)[0]
    attempt = run.attempts[0]
    assert (attempt.run_id, attempt.run_url, attempt.triggered_at) == (
        "run-1",
        "https://hex/run-1",
        at(2),
    )
    assert run.last_intent_at == at(1)
    assert not run.unresolved
    assert run.in_flight is attempt


def test_status_updates_attempt(store: StateStore, batch: BatchInfo) -> None:
    """record_status sets the attempt's status, end, elapsed time and error."""
    store.record_intent(batch.id, "k0", 1, at(1))
    store.record_triggered(batch.id, "k0", 1, "run-1", None, at(2))
    store.record_status(batch.id, "k0", 1, "RUNNING")
    store.record_status(
        batch.id, "k0", 1, "ERRORED", finished_at=at(9), elapsed_ms=7000.0, error="boom"
    )
    run = store.runs(batch.id)[0]
    attempt = run.attempts[0]
    assert (attempt.status, attempt.finished_at, attempt.elapsed_ms, attempt.error) == (
        "ERRORED",
        at(9),
        7000.0,
        "boom",
    )
    assert run.status == "ERRORED"
    assert run.in_flight is None


def test_status_keeps_earlier_fields(store: StateStore, batch: BatchInfo) -> None:
    """A later status without an end time keeps the end time recorded before."""
    store.record_triggered(batch.id, "k0", 1, "run-1", None, at(2))
    store.record_status(batch.id, "k0", 1, "COMPLETED", finished_at=at(5), elapsed_ms=3000.0)
    store.record_status(batch.id, "k0", 1, "COMPLETED")
    assert store.runs(batch.id)[0].attempts[0].finished_at == at(5)


def test_status_without_run_id_is_resolved(store: StateStore, batch: BatchInfo) -> None:
    """A refused trigger (status, no run id) is neither in flight nor unresolved."""
    store.record_intent(batch.id, "k0", 1, at(1))
    store.record_status(batch.id, "k0", 1, "TRIGGER_FAILED", error="422")
    run = store.runs(batch.id)[0]
    assert not run.unresolved
    assert run.in_flight is None
    assert run.status == "TRIGGER_FAILED"


def test_attempts_are_kept_in_order(store: StateStore, batch: BatchInfo) -> None:
    """Several attempts of one run come back numbered in order."""
    for number in (1, 2, 3):
        store.record_intent(batch.id, "k1", number, at(number))
        store.record_triggered(batch.id, "k1", number, f"run-{number}", None, at(number))
    run = store.runs(batch.id)[1]
    assert [attempt.run_id for attempt in run.attempts] == ["run-1", "run-2", "run-3"]
    assert run.next_attempt == 4


def test_final_status_wins(store: StateStore, batch: BatchInfo) -> None:
    """A final status overrides the last attempt's status and ends the flight."""
    store.record_triggered(batch.id, "k0", 1, "run-1", None, at(2))
    store.record_status(batch.id, "k0", 1, "RUNNING")
    store.record_final(batch.id, "k0", "TIMED_OUT", "ran past 30m")
    run = store.runs(batch.id)[0]
    assert (run.status, run.final_status, run.error) == ("TIMED_OUT", "TIMED_OUT", "ran past 30m")
    assert run.in_flight is None


def test_final_for_unknown_run(store: StateStore, batch: BatchInfo) -> None:
    """A final status for a key the batch does not have is an error."""
    with pytest.raises(StateError, match="no run zz"):
        store.record_final(batch.id, "zz", "SKIPPED")


def test_clear_final_reopens_runs_and_batch(store: StateStore, batch: BatchInfo) -> None:
    """clear_final makes the named runs pending again and the batch unfinished."""
    store.record_final(batch.id, "k0", "ERRORED", "bad")
    store.record_final(batch.id, "k1", "COMPLETED")
    store.finish_batch(batch.id, at(50))
    store.clear_final(batch.id, ["k0"])
    runs = store.runs(batch.id)
    assert (runs[0].final_status, runs[0].error) == (None, None)
    assert runs[1].final_status == "COMPLETED"
    assert store.batch(batch.id).finished_at is None


def test_record_requests_adds_up(store: StateStore, batch: BatchInfo) -> None:
    """Request counts add to the stored totals."""
    store.record_requests(batch.id, {"trigger": 3, "status": 10})
    store.record_requests(batch.id, {"status": 5, "throttled": 1})
    assert store.requests(batch.id) == {"status": 15, "throttled": 1, "trigger": 3}


def test_runs_of_unknown_batch(store: StateStore) -> None:
    """Listing the runs of a batch that does not exist is an error."""
    with pytest.raises(StateError, match="no batch 3"):
        store.runs(3)


def test_to_outcome_uses_last_attempt_status(store: StateStore, batch: BatchInfo) -> None:
    """Without a final, the outcome's status is the last attempt's status."""
    store.record_triggered(batch.id, "k2", 1, "run-9", "u", at(2))
    store.record_status(batch.id, "k2", 1, "RUNNING")
    outcome = store.runs(batch.id)[2].to_outcome()
    assert (outcome.status, outcome.run_id, outcome.params["n"]) == ("RUNNING", "run-9", 2)


def test_report_of_finished_batch(store: StateStore, batch: BatchInfo) -> None:
    """The report holds every run, the batch times and the request totals."""
    store.record_triggered(batch.id, "k0", 1, "run-1", "u1", at(1))
    store.record_status(batch.id, "k0", 1, "COMPLETED", finished_at=at(4), elapsed_ms=3000.0)
    store.record_final(batch.id, "k0", "COMPLETED")
    store.record_final(batch.id, "k1", "ERRORED", "bad input")
    store.record_final(batch.id, "k2", "SKIPPED")
    store.record_requests(batch.id, {"trigger": 1, "status": 4})
    store.finish_batch(batch.id, at(10))
    report = store.report(batch.id).to_json()
    assert report["duration_s"] == 10.0
    assert report["counts"] == {"COMPLETED": 1, "ERRORED": 1, "SKIPPED": 1}
    assert report["requests"]["status"] == 4
    assert report["runs"][0]["attempts"][0]["elapsed_ms"] == 3000.0
    assert report["ok"] is False


def test_report_of_unfinished_batch_ends_at_last_event(store: StateStore, batch: BatchInfo) -> None:
    """An unfinished batch's report ends at the latest moment it recorded."""
    store.record_triggered(batch.id, "k0", 1, "run-1", None, at(3))
    store.record_status(batch.id, "k0", 1, "COMPLETED", finished_at=at(8))
    report = store.report(batch.id)
    assert report.finished_at == at(8)
    assert [run.status for run in report.runs] == ["COMPLETED", PLANNED, PLANNED]


def test_durations_newest_completed_wins(store: StateStore) -> None:
    """durations gives each key's last COMPLETED attempt, newest batch first."""
    old = new_batch(store)
    store.record_triggered(old.id, "k0", 1, "a", None, at(0))
    store.record_status(old.id, "k0", 1, "COMPLETED", elapsed_ms=5000.0)
    store.record_triggered(old.id, "k1", 1, "b", None, at(0))
    store.record_status(old.id, "k1", 1, "COMPLETED", finished_at=at(12))
    new = new_batch(store)
    store.record_triggered(new.id, "k0", 1, "c", None, at(0))
    store.record_status(new.id, "k0", 1, "COMPLETED", elapsed_ms=2500.0)
    store.record_triggered(new.id, "k1", 1, "d", None, at(0))
    store.record_status(new.id, "k1", 1, "ERRORED", elapsed_ms=1.0)
    assert store.durations() == {"k0": 2.5, "k1": 12.0}


def test_durations_come_from_any_manifest_by_run_key(store: StateStore) -> None:
    """A run key names a project and its params, so another manifest's run of it counts;
    the newest batch's duration wins."""
    older = new_batch(store)
    store.record_triggered(older.id, "k0", 1, "a", None, at(0))
    store.record_status(older.id, "k0", 1, "COMPLETED", elapsed_ms=9000.0)
    other = new_batch(store, manifest="/elsewhere/other.yaml")
    store.record_triggered(other.id, "k0", 1, "b", None, at(0))
    store.record_status(other.id, "k0", 1, "COMPLETED", elapsed_ms=5000.0)
    store.record_triggered(other.id, "k1", 1, "c", None, at(0))
    store.record_status(other.id, "k1", 1, "ERRORED", elapsed_ms=1000.0)
    assert store.durations() == {"k0": 5.0}


def test_batches_summarise_counts_and_duration(store: StateStore) -> None:
    """batches lists each batch with counts per status (failures first) and its duration."""
    done = new_batch(store)
    store.record_final(done.id, "k0", "COMPLETED")
    store.record_final(done.id, "k1", "ERRORED")
    store.record_final(done.id, "k2", "COMPLETED")
    store.finish_batch(done.id, at(30))
    running = new_batch(store, started_at=at(40))
    store.record_triggered(running.id, "k0", 1, "r", None, at(41))
    store.record_status(running.id, "k0", 1, "RUNNING")
    first, second = store.batches()
    assert (first.id, first.counts, first.duration_s, first.total) == (
        done.id,
        {"ERRORED": 1, "COMPLETED": 2},
        30.0,
        3,
    )
    assert list(first.counts) == ["ERRORED", "COMPLETED"]
    assert second.counts == {PLANNED: 2, "RUNNING": 1}
    assert second.duration_s is None


def test_naive_times_are_taken_as_utc(store: StateStore, batch: BatchInfo) -> None:
    """A naive datetime is stored as UTC."""
    store.finish_batch(batch.id, at(5).replace(tzinfo=None))
    assert store.batch(batch.id).finished_at == at(5)


def test_closed_store_refuses_work(state: str) -> None:
    """Using a closed store raises a StateError, not a bare driver error."""
    store = StateStore(state)
    store.close()
    with pytest.raises(StateError):
        store.batches()


def test_timelines_versions_and_rate_limits_round_trip(store: StateStore) -> None:
    """An attempt's start, version and state events, and the batch's rate-limit headers,
    come back from the store as written; later rate-limit figures replace earlier ones."""
    from hexbatch.limits_seen import LimitsSeen

    batch = new_batch(store)
    events = ({"type": "STATUS", "value": "RUNNING", "timestamp": "2025-03-01T12:00:01.500Z"},)
    store.record_triggered(batch.id, "k0", 1, "r0", None, T0, project_version="7")
    store.record_status(batch.id, "k0", 1, "RUNNING", started_at=at(1), state_events=events)
    store.record_status(batch.id, "k0", 1, "COMPLETED", finished_at=at(5))
    old = LimitsSeen(limit=30, remaining=1, seen_at="2025-01-01T00:00:00.000Z")
    new = LimitsSeen(limit=30, remaining=29, seen_at="2025-01-01T00:01:00.000Z")
    store.record_rate_limits(batch.id, {"status": new})
    store.record_rate_limits(batch.id, {"status": old})

    attempt = store.runs(batch.id)[0].attempts[0]
    assert (attempt.project_version, attempt.started_at, attempt.state_events) == (
        "7",
        at(1),
        events,
    )
    report = store.report(batch.id)
    assert report.rate_limits == {"status": new}
    # The RUNNING event (1.5 s) wins over the start time (1 s).
    assert report.runs[0].attempts[0].to_json()["run_ms"] == 3500
