"""Files that are not usable stores: each gives one clear StateError, never a raw sqlite error."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

import pytest

from hexbatch.state import SCHEMA_VERSION, StateError, StateStore
from hexbatch.state.schema import APPLICATION_ID, create_schema
from tests.state.conftest import T0, new_batch, planned


def test_open_existing_missing_file(tmp_path: Path) -> None:
    """open_existing refuses a path with no file and does not create one."""
    path = tmp_path / "absent.db"
    with pytest.raises(StateError, match="does not exist"):
        StateStore.open_existing(path)
    assert not path.exists()


def test_open_existing_empty_file(tmp_path: Path) -> None:
    """open_existing refuses an empty file."""
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(StateError, match="is empty"):
        StateStore.open_existing(path)


def test_random_bytes(tmp_path: Path) -> None:
    """A file of random bytes is not a state store."""
    path = tmp_path / "noise.db"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(StateError, match="not a hexbatch state store"):
        StateStore(path)


def test_foreign_sqlite_database(tmp_path: Path) -> None:
    """An SQLite database with unrelated tables is refused and left untouched."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    before = path.read_bytes()
    with pytest.raises(StateError, match="another program"):
        StateStore(path)
    assert path.read_bytes() == before


def test_newer_schema(tmp_path: Path) -> None:
    """A store written by a newer hexbatch is refused with advice to upgrade."""
    path = tmp_path / "state.db"
    StateStore(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StateError, match=r"newer hexbatch.*upgrade"):
        StateStore.open_existing(path)


def test_older_schema_without_migration(tmp_path: Path) -> None:
    """A store with a schema version this hexbatch cannot upgrade is refused."""
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE batches (id INTEGER)")
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute("PRAGMA user_version = 0")
    with pytest.raises(StateError, match="cannot upgrade"):
        StateStore(path)


def test_missing_tables(tmp_path: Path) -> None:
    """A store of ours with tables dropped is reported as damaged."""
    path = tmp_path / "state.db"
    StateStore(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE requests")
    with pytest.raises(StateError, match=r"damaged.*requests"):
        StateStore(path)


def test_truncated_store(tmp_path: Path) -> None:
    """A store cut short after its header fails with a StateError when read."""
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        new_batch(store)
    with path.open("r+b") as handle:
        handle.truncate(1024)
    with pytest.raises(StateError), StateStore.open_existing(path) as store:
        store.batches()


def test_directory_instead_of_file(tmp_path: Path) -> None:
    """A directory at the state path gives a StateError."""
    with pytest.raises(StateError, match="cannot be opened"):
        StateStore(tmp_path)


def test_reopening_keeps_data(state_path: Path) -> None:
    """A store closed and opened again keeps its batches."""
    with StateStore(state_path) as store:
        batch = new_batch(store)
    with StateStore.open_existing(state_path) as store:
        assert store.batch(batch.id) == batch


def test_schema_created_once(state_path: Path) -> None:
    """Creating the schema where another process just created it is a no-op, not an error."""
    StateStore(state_path).close()
    connection = sqlite3.connect(state_path, isolation_level=None)
    try:
        assert create_schema(connection) is False
    finally:
        connection.close()
    with StateStore.open_existing(state_path) as store:
        assert store.batches() == []


# What each schema upgrade added, undone newest first: (the version it leaves, statements).
_UNDO: list[tuple[int, tuple[str, ...]]] = [
    (9, ("ALTER TABLE batches DROP COLUMN stopped_at",)),
    (8, ("ALTER TABLE runs DROP COLUMN rerun_after",)),
    (7, ("ALTER TABLE batches DROP COLUMN selection",)),
    (6, ("ALTER TABLE batches DROP COLUMN as_of",)),
    (
        5,
        (
            *(f"DROP TABLE {t}" for t in ("quota_slots", "quota_waiters", "quota_locks")),
            "DROP TABLE store_keys",
            "ALTER TABLE attempts DROP COLUMN quota_wait_ms",
        ),
    ),
    (
        4,
        (
            "DROP TABLE leases",
            "DROP INDEX attempts_by_key",
            "DROP INDEX attempts_by_run_id",
            "CREATE TABLE holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL,"
            " since TEXT NOT NULL)",
        ),
    ),
    (3, ("DROP INDEX batches_by_name", "ALTER TABLE batches DROP COLUMN name")),
    (
        2,
        (
            *(
                f"ALTER TABLE attempts DROP COLUMN {column}"
                for column in ("started_at", "project_version", "state_events")
            ),
            "DROP TABLE rate_limits",
        ),
    ),
    (
        1,
        (
            "ALTER TABLE attempts DROP COLUMN base_url",
            "ALTER TABLE attempts DROP COLUMN seen_before",
            "DROP TABLE holder",
        ),
    ),
]


def _downgrade_to(path: Path, version: int) -> None:
    """Turn a current store back into the layout of schema ``version`` (1 to 9)."""
    with sqlite3.connect(path) as connection:
        for leaves, statements in _UNDO:
            if leaves < version:
                break
            for statement in statements:
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {version}")


def test_a_version_6_store_keeps_its_batches_with_no_recorded_today(tmp_path: Path) -> None:
    """Upgrading schema 6 adds each batch's as-of date: unknown (None) for the batches
    before, which keep every record, and recorded for the batches created after."""
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        batch = new_batch(store)
        store.record_triggered(batch.id, "k0", 1, "r0", None, T0)
    _downgrade_to(path, 6)
    with StateStore(path) as store:
        assert store.batch(batch.id).as_of is None
        assert store.runs(batch.id)[0].attempts[0].run_id == "r0"
        later = new_batch(store, as_of=dt.date(2025, 3, 1))
        assert store.batch(later.id).as_of == dt.date(2025, 3, 1)


def test_a_version_7_store_keeps_each_batchs_selection_from_then_on(tmp_path: Path) -> None:
    """Upgrading schema 7 adds the batches' pinned selection: none for the batches before,
    kept for the new ones."""
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        before = new_batch(store)
    _downgrade_to(path, 7)
    with StateStore(path) as store:
        assert store.selection(before.id) is None
        after = new_batch(store, selection='{"schema": "hexbatch.selection/1"}')
        assert store.selection(after.id) == '{"schema": "hexbatch.selection/1"}'
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_version_8_store_upgraded_asks_no_rerun_until_one_is_asked(tmp_path: Path) -> None:
    """Upgrading schema 8 adds each run's pending rerun: none for the runs before; a rerun
    asked after the upgrade is kept until a new attempt is recorded."""
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        batch = new_batch(store, planned(1))
        store.record_triggered(batch.id, "k0", 1, "r0", None, T0)
        store.record_final(batch.id, "k0", "ERRORED")
    _downgrade_to(path, 8)
    with StateStore(path) as store:
        assert store.runs(batch.id)[0].rerun_after is None
        store.clear_final(batch.id, ["k0"])
        assert store.runs(batch.id)[0].rerun_pending
        store.record_intent(batch.id, "k0", 2, T0)
        assert not store.runs(batch.id)[0].rerun_pending
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_version_9_store_keeps_its_batches_and_learns_when_a_driver_stops(
    tmp_path: Path,
) -> None:
    """Upgrading schema 9 adds when a batch's driver stopped: unknown for the batches before
    (their reports end at their latest record, as before), kept from then on."""
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        batch = new_batch(store, planned(1))
        store.record_triggered(batch.id, "k0", 1, "r0", None, T0)
    _downgrade_to(path, 9)
    with StateStore(path) as store:
        assert store.batch(batch.id).stopped_at is None
        assert store.report(batch.id).finished_at == T0
        store.record_stopped(batch.id, T0.replace(minute=59))
        assert store.report(batch.id).finished_at == T0.replace(minute=59)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_version_5_store_gains_the_quota_ledger(tmp_path: Path) -> None:
    """Upgrading schema 5 adds the quota ledger with a fingerprint key of its own, and an
    unknown quota wait for the attempts recorded before."""
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        batch = new_batch(store)
        store.record_triggered(batch.id, "k0", 1, "r0", None, T0)
    _downgrade_to(path, 5)
    with StateStore(path) as store:
        assert store.runs(batch.id)[0].attempts[0].run_id == "r0"
        (key,) = store.database.fetch("SELECT value FROM store_keys WHERE name = 'fingerprint'")
    assert len(key[0]) == 64
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert connection.execute("SELECT quota_wait_ms FROM attempts").fetchall() == [(None,)]


def test_a_version_4_store_trades_its_store_lock_for_leases(tmp_path: Path) -> None:
    """Upgrading schema 4 drops the store-wide holder, adds per-batch leases and the
    indexes that keep years of history fast, and keeps every record."""
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        batch = new_batch(store)
        store.record_triggered(batch.id, "k0", 1, "r0", None, T0)
    _downgrade_to(path, 4)
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO holder (id, pid, since) VALUES (1, 7, '2026-01-01')")
    with StateStore(path) as store:
        assert store.runs(batch.id)[0].attempts[0].run_id == "r0"
        lease, replaced = store.take_lease("sweep")
        assert (store.lease("sweep"), replaced) == (lease, None)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema")}
    assert "holder" not in names
    assert {"leases", "attempts_by_key", "attempts_by_run_id"} <= names


def test_a_version_3_store_names_its_batches_by_their_manifests_file_name(
    tmp_path: Path,
) -> None:
    """Upgrading schema 3 names each batch as a manifest without name: would be named,
    so the same manifest, read from anywhere, resumes it."""
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        batch = new_batch(store)
    _downgrade_to(path, 3)
    with StateStore(path) as store:
        found = store.latest_batch("sweep")
        assert found is not None
        assert (found.id, found.name) == (batch.id, "sweep")
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_version_2_store_gains_timelines_and_rate_limits(tmp_path: Path) -> None:
    """Upgrading schema 2 keeps every record; what version 2 never recorded (start time,
    project version, state events, rate-limit headers) reads as not known, and can be
    recorded from then on."""
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        batch = new_batch(store)
        store.record_triggered(batch.id, "k0", 1, "r0", None, T0)
        store.record_status(batch.id, "k0", 1, "COMPLETED", finished_at=T0, elapsed_ms=5.0)
    _downgrade_to(path, 2)
    with StateStore(path) as store:
        (run, *_) = store.runs(batch.id)
        attempt = run.attempts[0]
        assert (attempt.run_id, attempt.status, attempt.elapsed_ms) == ("r0", "COMPLETED", 5.0)
        assert (attempt.started_at, attempt.project_version, attempt.state_events) == (
            None,
            None,
            None,
        )
        assert store.rate_limits(batch.id) == {}
        store.record_status(batch.id, "k0", 1, "COMPLETED", project_version="4")
        assert store.runs(batch.id)[0].attempts[0].project_version == "4"
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_version_1_store_is_upgraded_with_each_attempts_url(tmp_path: Path) -> None:
    """Upgrading schema 1 gives every recorded attempt its batch's URL, the best knowledge
    of where it was sent, and keeps every record."""
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        batch = new_batch(store, base_url="https://old.example/api/v1")
        store.record_triggered(batch.id, "k0", 1, "r0", None, T0)
    _downgrade_to(path, 1)
    with StateStore(path) as store:
        runs = store.runs(batch.id)
        assert runs[0].base_urls == ["https://old.example/api/v1"]
        assert runs[0].attempts[0].run_id == "r0"
        assert runs[0].attempts[0].seen_before is None  # 0.1.0 took no snapshots
        lease, _ = store.take_lease("sweep")
        store.release_lease(lease)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
