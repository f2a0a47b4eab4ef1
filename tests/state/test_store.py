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


def test_a_batch_keeps_its_selection(store: StateStore, batch: BatchInfo) -> None:
    """The projects a batch's select: entries chose are kept with it, as given."""
    chosen = new_batch(store, selection='{"schema": "hexbatch.selection/1", "entries": []}')

    assert store.selection(chosen.id) == '{"schema": "hexbatch.selection/1", "entries": []}'
    assert store.selection(batch.id) is None
    with pytest.raises(StateError, match="no batch 42"):
        store.selection(42)


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


def test_each_attempt_carries_the_number_it_was_recorded_under(
    store: StateStore, batch: BatchInfo
) -> None:
    """Numbers come from the records, not from positions: past a number never recorded, the
    next attempt and a rerun count on from the last number."""
    for number in (1, 3):
        store.record_intent(batch.id, "k1", number, at(number))
        store.record_status(batch.id, "k1", number, "ERRORED", error="Hex reported ERRORED")
    store.record_final(batch.id, "k1", "ERRORED")
    store.clear_final(batch.id, ["k1"])
    run = store.runs(batch.id)[1]
    assert [attempt.number for attempt in run.attempts] == [1, 3]
    assert run.next_attempt == 4
    assert run.rerun_pending


def test_a_run_the_batch_stopped_before_triggering_reads_skipped_until_resumed(
    store: StateStore, batch: BatchInfo
) -> None:
    """The reason a run was never triggered is kept (report and history say SKIPPED with it),
    it stays pending, and a settled run keeps its own error."""
    store.record_final(batch.id, "k0", "ERRORED", "Hex reported ERRORED")
    reason = "not triggered: --fail-fast after k0"
    store.record_unstarted(batch.id, {"k0": reason, "k1": reason})

    run = store.runs(batch.id)[1]
    outcome = store.report(batch.id).runs[0]
    (summary,) = store.batches()
    store.clear_unstarted(batch.id)

    assert (run.status, run.error, run.final_status) == ("SKIPPED", reason, None)
    assert outcome.error == "Hex reported ERRORED"
    assert summary.counts == {"ERRORED": 1, "SKIPPED": 1, "PLANNED": 1}
    assert [run.status for run in store.runs(batch.id)] == ["ERRORED", "PLANNED", "PLANNED"]


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
    assert store.durations(["k0", "k1", "k2"]) == {"k0": 2.5, "k1": 12.0}


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
    assert store.durations(["k0", "k1"]) == {"k0": 5.0}


def test_durations_are_read_only_for_the_keys_asked(store: StateStore) -> None:
    """Only the asked keys come back (the plan's), however many others the store knows;
    an asked key nobody ran is simply absent."""
    old = new_batch(store)
    for n, key in enumerate(("k0", "k1", "k2")):
        store.record_triggered(old.id, key, 1, f"r{n}", None, at(0))
        store.record_status(old.id, key, 1, "COMPLETED", elapsed_ms=1000.0 * (n + 1))
    assert store.durations(["k2", "k0", "never-ran"]) == {"k0": 1.0, "k2": 3.0}
    assert store.durations([]) == {}


def test_durations_pass_over_a_newer_attempt_without_timings(store: StateStore) -> None:
    """A COMPLETED attempt with neither an elapsed time nor both ends leaves the key's
    duration to the newest attempt that has one; a later attempt of a batch beats an
    earlier one."""
    old = new_batch(store)
    store.record_triggered(old.id, "k0", 1, "a", None, at(0))
    store.record_status(old.id, "k0", 1, "COMPLETED", elapsed_ms=7000.0)
    store.record_intent(old.id, "k1", 1, at(0))
    store.record_status(old.id, "k1", 1, "COMPLETED", elapsed_ms=1000.0)
    store.record_intent(old.id, "k1", 2, at(0))
    store.record_status(old.id, "k1", 2, "COMPLETED", elapsed_ms=2000.0)
    new = new_batch(store)
    store.record_intent(new.id, "k0", 1, at(0))
    store.record_status(new.id, "k0", 1, "COMPLETED")  # no elapsed time, no trigger time
    assert store.durations(["k0", "k1"]) == {"k0": 7.0, "k1": 2.0}


def test_durations_of_more_keys_than_one_statement_takes(store: StateStore) -> None:
    """A plan of thousands of runs is asked in several statements, all answered."""
    runs = planned(1203)
    batch = new_batch(store, runs)
    for n, run in enumerate(runs):
        store.record_intent(batch.id, run.key, 1, at(0))
        store.record_status(batch.id, run.key, 1, "COMPLETED", elapsed_ms=float(n))
    durations = store.durations(run.key for run in runs)
    assert len(durations) == 1203
    assert durations["k1202"] == 1.202


def test_claimed_names_the_run_ids_any_batch_recorded(store: StateStore) -> None:
    """claimed answers, of the ids asked, those some batch (of any manifest, finished or
    not) recorded as its run; an id only seen in a snapshot or never seen is not claimed."""
    old = new_batch(store)
    store.record_triggered(old.id, "k0", 1, "run-old", None, at(0))
    store.record_status(old.id, "k0", 1, "COMPLETED")
    store.finish_batch(old.id, at(10))
    other = new_batch(store, manifest="/elsewhere/other.yaml")
    store.record_intent(other.id, "k1", 1, at(20), seen_before={"run-foreign"})
    store.record_triggered(other.id, "k2", 1, "run-other", None, at(21))

    asked = ["run-old", "run-other", "run-foreign", "run-new", "run-old"]
    assert store.claimed(asked) == {"run-old", "run-other"}
    assert store.claimed([]) == set()


def test_claimed_of_more_ids_than_one_statement_takes(store: StateStore) -> None:
    """Asking about thousands of ids at once splits them and still finds every claimed one."""
    batch = new_batch(store)
    store.record_triggered(batch.id, "k0", 1, "run-0999", None, at(0))
    store.record_triggered(batch.id, "k1", 1, "run-1500", None, at(0))
    asked = [f"run-{n:04d}" for n in range(2000)]
    assert store.claimed(asked) == {"run-0999", "run-1500"}


def test_a_triggered_attempt_drops_its_snapshot(store: StateStore, batch: BatchInfo) -> None:
    """Once Hex gave the run id, the run ids listed before the trigger are not kept: an
    attempt without a run id still has them for its reconciliation."""
    store.record_intent(batch.id, "k0", 1, at(0), seen_before={"a", "b"})
    store.record_intent(batch.id, "k1", 1, at(0), seen_before={"c"})
    store.record_triggered(batch.id, "k0", 1, "r0", None, at(1))

    stored = store.database.fetch(
        "SELECT key, seen_before FROM attempts WHERE batch_id = ? ORDER BY key", (batch.id,)
    )
    assert stored == [("k0", None), ("k1", '["c"]')]
    assert store.runs(batch.id)[1].attempts[0].seen_before == frozenset({"c"})


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


def _five_batches(store: StateStore) -> list[int]:
    """Five batches, of two manifests; each has k0 COMPLETED and its batch number of
    attempts on k1."""
    ids = []
    for n in range(5):
        manifest = MANIFEST if n % 2 == 0 else "/data/other.yaml"
        batch = new_batch(store, manifest=manifest, started_at=at(100 * n))
        store.record_final(batch.id, "k0", "COMPLETED")
        for attempt in range(1, n + 2):
            store.record_intent(batch.id, "k1", attempt, at(100 * n + attempt))
            store.record_status(batch.id, "k1", attempt, "ERRORED")
        ids.append(batch.id)
    return ids


def test_batches_page_back_from_the_latest(store: StateStore) -> None:
    """batches(limit) gives the latest batches, oldest first; before_id pages further back;
    each page counts its own batches' runs."""
    ids = _five_batches(store)

    latest = store.batches(limit=2)
    older = store.batches(limit=2, before_id=latest[0].id)
    oldest = store.batches(limit=2, before_id=older[0].id)

    assert [b.id for b in latest] == ids[3:]
    assert [b.id for b in older] == ids[1:3]
    assert [b.id for b in oldest] == ids[:1]
    assert store.batches(limit=2, before_id=ids[0]) == []
    assert [b.manifest for b in latest] == ["/data/other.yaml", MANIFEST]
    assert all(b.counts == {"ERRORED": 1, "COMPLETED": 1, PLANNED: 1} for b in store.batches())
    assert store.batches(limit=2) == store.batches()[3:]


def test_batches_before_an_id_without_a_limit(store: StateStore) -> None:
    """before_id alone lists every batch older than it; an id past the latest lists all."""
    ids = _five_batches(store)
    assert [b.id for b in store.batches(before_id=ids[2])] == ids[:2]
    assert [b.id for b in store.batches(before_id=ids[-1] + 100)] == ids


def test_batch_count(store: StateStore) -> None:
    """batch_count counts every batch, or those older than a batch."""
    assert store.batch_count() == 0
    ids = _five_batches(store)
    assert store.batch_count() == 5
    assert store.batch_count(before_id=ids[3]) == 3
    assert store.batch_count(before_id=ids[0]) == 0


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
    from hexbatch.api.limits_seen import LimitsSeen

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
