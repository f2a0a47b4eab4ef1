"""The on-disk layout of a state store, how a file is recognised, and schema upgrades.

A hexbatch store is an SQLite file whose ``application_id`` is :data:`APPLICATION_ID`
and whose ``user_version`` is its schema version. Any other SQLite file is foreign
and is never written to; a file with a newer version was written by a newer hexbatch
and is refused rather than guessed at.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Final

from hexbatch.state.errors import StateError

# "HXBT" in ASCII: marks the file as ours for `file(1)` and for the check below.
APPLICATION_ID: Final = 0x48584254
SCHEMA_VERSION: Final = 10

# The token-wide quota ledger (schema 6), the same statements on both backends.
QUOTA_TABLES: Final = (
    "CREATE TABLE quota_slots (token TEXT NOT NULL, kind TEXT NOT NULL, at REAL NOT NULL,"
    " batch TEXT NOT NULL)",
    "CREATE INDEX quota_slots_by_time ON quota_slots (token, kind, at)",
    "CREATE TABLE quota_waiters (id TEXT PRIMARY KEY, token TEXT NOT NULL, kind TEXT NOT NULL,"
    " priority INTEGER NOT NULL, since REAL NOT NULL, seen REAL NOT NULL, batch TEXT NOT NULL)",
    "CREATE TABLE quota_locks (token TEXT PRIMARY KEY)",
    "CREATE TABLE store_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "ALTER TABLE attempts ADD COLUMN quota_wait_ms REAL",
)
# Schema 7, the same statement on both backends.
ADD_AS_OF: Final = "ALTER TABLE batches ADD COLUMN as_of TEXT"
# Each batch's pinned selection of projects (schema 8), the same statement on both backends.
ADD_SELECTION: Final = "ALTER TABLE batches ADD COLUMN selection TEXT"
# A rerun asked for and not yet started (schema 9), the same statement on both backends.
ADD_RERUN_AFTER: Final = "ALTER TABLE runs ADD COLUMN rerun_after INTEGER"
# When the last driver of a batch left unfinished stopped (schema 10), on both backends.
ADD_STOPPED_AT: Final = "ALTER TABLE batches ADD COLUMN stopped_at TEXT"
_QUOTA_TABLE_NAMES: Final = frozenset({"quota_slots", "quota_waiters", "quota_locks", "store_keys"})


def new_fingerprint_key() -> str:
    """A random key that makes this store's token fingerprints its own."""
    return secrets.token_hex(32)


# The latest schema, as a new store gets it (older stores are upgraded by MIGRATIONS).
_SCHEMA: Final = """
CREATE TABLE batches (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    manifest         TEXT NOT NULL,
    manifest_hash    TEXT NOT NULL,
    plan_hash        TEXT NOT NULL,
    base_url         TEXT NOT NULL,
    token_env        TEXT NOT NULL,
    hexbatch_version TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    name             TEXT NOT NULL DEFAULT '',
    as_of            TEXT,
    selection        TEXT,
    stopped_at       TEXT
);
CREATE INDEX batches_by_manifest ON batches (manifest, id);
CREATE INDEX batches_by_name ON batches (name, id);

CREATE TABLE runs (
    batch_id     INTEGER NOT NULL REFERENCES batches (id),
    key          TEXT NOT NULL,
    position     INTEGER NOT NULL,
    project_id   TEXT NOT NULL,
    project      TEXT NOT NULL,
    params       TEXT NOT NULL,
    final_status TEXT,
    error        TEXT,
    rerun_after  INTEGER,
    PRIMARY KEY (batch_id, key)
) WITHOUT ROWID;

CREATE TABLE attempts (
    batch_id     INTEGER NOT NULL,
    key          TEXT NOT NULL,
    attempt      INTEGER NOT NULL CHECK (attempt >= 1),
    intent_at    TEXT,
    run_id       TEXT,
    run_url      TEXT,
    triggered_at TEXT,
    status       TEXT,
    finished_at  TEXT,
    elapsed_ms   REAL,
    error        TEXT,
    base_url     TEXT,
    seen_before  TEXT,
    started_at   TEXT,
    project_version TEXT,
    state_events TEXT,
    PRIMARY KEY (batch_id, key, attempt),
    FOREIGN KEY (batch_id, key) REFERENCES runs (batch_id, key)
) WITHOUT ROWID;

CREATE TABLE requests (
    batch_id INTEGER NOT NULL REFERENCES batches (id),
    kind     TEXT NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (batch_id, kind)
) WITHOUT ROWID;

CREATE TABLE rate_limits (
    batch_id INTEGER NOT NULL REFERENCES batches (id),
    kind     TEXT NOT NULL,
    seen     TEXT NOT NULL,
    PRIMARY KEY (batch_id, kind)
) WITHOUT ROWID;

CREATE INDEX attempts_by_key ON attempts (key, status);
CREATE INDEX attempts_by_run_id ON attempts (run_id) WHERE run_id IS NOT NULL;

CREATE TABLE leases (
    name         TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    ttl_s        REAL NOT NULL
) WITHOUT ROWID;
""" + "\n".join(f"{statement};" for statement in QUOTA_TABLES)

_TABLES: Final = (
    frozenset({"batches", "runs", "attempts", "requests", "rate_limits", "leases"})
    | _QUOTA_TABLE_NAMES
)


def _v1_to_v2(connection: sqlite3.Connection) -> None:
    """Each attempt records the Hex URL it was triggered at and the run ids listed right
    before its trigger (a JSON array; never adopted as its run); the lock holder is
    named inside.

    Version 1 kept one base URL per batch; it is the best knowledge of where the
    attempts it already holds were sent.
    """
    connection.execute("ALTER TABLE attempts ADD COLUMN base_url TEXT")
    connection.execute("ALTER TABLE attempts ADD COLUMN seen_before TEXT")
    connection.execute(
        "UPDATE attempts SET base_url ="
        " (SELECT b.base_url FROM batches AS b WHERE b.id = attempts.batch_id)"
    )
    connection.execute(
        "CREATE TABLE holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL,"
        " since TEXT NOT NULL)"
    )


def _v2_to_v3(connection: sqlite3.Connection) -> None:
    """Each attempt records when its run started running, the project version it ran and
    Hex's state events (a JSON array); each batch keeps the rate-limit headers Hex last
    sent per request kind.

    Attempts recorded by version 2 know none of these; they stay NULL ("not known").
    """
    for column in ("started_at", "project_version", "state_events"):
        connection.execute(f"ALTER TABLE attempts ADD COLUMN {column} TEXT")
    connection.execute(
        "CREATE TABLE rate_limits (batch_id INTEGER NOT NULL REFERENCES batches (id),"
        " kind TEXT NOT NULL, seen TEXT NOT NULL, PRIMARY KEY (batch_id, kind)) WITHOUT ROWID"
    )


def _v3_to_v4(connection: sqlite3.Connection) -> None:
    """Batches are found by the manifest's name, not its path: each gets a name.

    Version 3 knew only the manifest's path; a manifest without ``name:`` is named by
    its file name without the extension, so that is the name of the batches before.
    """
    connection.execute("ALTER TABLE batches ADD COLUMN name TEXT NOT NULL DEFAULT ''")
    rows = connection.execute("SELECT id, manifest FROM batches").fetchall()
    connection.executemany(
        "UPDATE batches SET name = ? WHERE id = ?",
        ((batch_name_of_path(manifest), batch_id) for batch_id, manifest in rows),
    )
    connection.execute("CREATE INDEX batches_by_name ON batches (name, id)")


def _v4_to_v5(connection: sqlite3.Connection) -> None:
    """Each batch name has a lease (one driver per batch) instead of one lock for the
    whole store, and the lookups by run key and by run id have indexes (a store keeps
    years of attempts).

    The store-wide holder's name goes: it named a process holding a lock that no
    longer exists.
    """
    connection.execute("DROP TABLE holder")
    connection.execute(
        "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL,"
        " pid INTEGER NOT NULL, started_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL,"
        " ttl_s REAL NOT NULL)"
        " WITHOUT ROWID"
    )
    connection.execute("CREATE INDEX attempts_by_key ON attempts (key, status)")
    connection.execute(
        "CREATE INDEX attempts_by_run_id ON attempts (run_id) WHERE run_id IS NOT NULL"
    )


def _v5_to_v6(connection: sqlite3.Connection) -> None:
    """A token-wide quota ledger: the trigger and request slots every batch on a token
    spent, the batches waiting for one, and the key of the store's token fingerprints.
    Attempts record how long their trigger waited for quota (unknown before)."""
    for statement in QUOTA_TABLES:
        connection.execute(statement)
    connection.execute(
        "INSERT INTO store_keys (name, value) VALUES ('fingerprint', ?)", (new_fingerprint_key(),)
    )


def _v6_to_v7(connection: sqlite3.Connection) -> None:
    """Each batch records the day that was "today" for its dates relative to today, so a
    batch resumed after midnight plans the same runs (NULL: none, or not recorded)."""
    connection.execute(ADD_AS_OF)


def _v7_to_v8(connection: sqlite3.Connection) -> None:
    """Each batch keeps the projects its ``select:`` entries chose (hexbatch.selection/1
    JSON), so resuming it never chooses again (NULL: a batch without ``select:``)."""
    connection.execute(ADD_SELECTION)


def _v8_to_v9(connection: sqlite3.Connection) -> None:
    """A run made pending again by ``--rerun`` keeps how many attempts it had then: until
    a new attempt is recorded, whoever drives the batch next starts one, even in another
    process (NULL: no rerun asked)."""
    connection.execute(ADD_RERUN_AFTER)


def _v9_to_v10(connection: sqlite3.Connection) -> None:
    """An unfinished batch keeps when its last driver stopped, so its report ends where the
    driver's report did (NULL: finished, never stopped, or stopped before version 10)."""
    connection.execute(ADD_STOPPED_AT)


def batch_name_of_path(manifest: str) -> str:
    """The batch name of a manifest without ``name:``: its file name, extension dropped."""
    return PurePath(manifest).stem


# Upgrades from version N to N + 1, keyed by N. Each runs inside one transaction.
MIGRATIONS: Final[dict[int, Callable[[sqlite3.Connection], None]]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
    6: _v6_to_v7,
    7: _v7_to_v8,
    8: _v8_to_v9,
    9: _v9_to_v10,
}


def prepare(connection: sqlite3.Connection, path: Path) -> None:
    """Create the schema in an empty file, upgrade an older one, or refuse a file not ours.

    Raises:
        StateError: the file is not an SQLite database, is another program's
            database, is damaged, or was written by a newer hexbatch.
    """
    if _is_blank(connection) and create_schema(connection):
        return
    version = _schema_version(connection, path, advice="; choose another --state path")
    if version < SCHEMA_VERSION:
        _migrate(connection, version, path)
    _check_tables(connection, path, advice="; move it aside to start afresh")


def check_readable(connection: sqlite3.Connection, path: Path) -> None:
    """Check, without writing anything, that a store opened read-only can be read.

    Raises:
        StateError: not a hexbatch store, damaged, newer, or older than this hexbatch
            reads (an upgrade needs a writable file).
    """
    version = _schema_version(connection, path)
    if version < SCHEMA_VERSION:
        raise StateError(
            f"{path} has state schema {version}, which this hexbatch upgrades before reading, "
            "but it cannot be written here: copy it to a writable folder and read the copy"
        )
    _check_tables(connection, path)


def _schema_version(connection: sqlite3.Connection, path: Path, *, advice: str = "") -> int:
    """The store's schema version, once its marks show it is ours and not too new."""
    if _pragma_int(connection, "application_id") != APPLICATION_ID:
        raise StateError(
            f"{path} is an SQLite database of another program, not a hexbatch state store{advice}"
        )
    version = _pragma_int(connection, "user_version")
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{path} was written by a newer hexbatch (state schema {version}; this version "
            f"reads up to {SCHEMA_VERSION}): upgrade hexbatch to use it"
        )
    return version


def _check_tables(connection: sqlite3.Connection, path: Path, *, advice: str = "") -> None:
    missing = _TABLES - _table_names(connection)
    if missing:
        raise StateError(
            f"{path} is a damaged hexbatch state store (missing tables: "
            f"{', '.join(sorted(missing))}){advice}"
        )


def _is_blank(connection: sqlite3.Connection) -> bool:
    """True for a file with no tables and no hexbatch marks: a new store to create."""
    return (
        _pragma_int(connection, "application_id") == 0
        and _pragma_int(connection, "user_version") == 0
        and not _table_names(connection)
    )


def create_schema(connection: sqlite3.Connection) -> bool:
    """Create the tables and marks in a blank file, in one transaction.

    Returns:
        False when another process created them first (two runs starting on a new
        store at once); the caller then validates what that process wrote.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        if not _is_blank(connection):
            connection.execute("ROLLBACK")
            return False
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(
            "INSERT INTO store_keys (name, value) VALUES ('fingerprint', ?)",
            (new_fingerprint_key(),),
        )
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return True


def _migrate(connection: sqlite3.Connection, version: int, path: Path) -> None:
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise StateError(
                f"{path} has state schema {version}, which this hexbatch cannot upgrade"
            )
        connection.execute("BEGIN IMMEDIATE")
        try:
            step(connection)
            version += 1
            connection.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def _pragma_int(connection: sqlite3.Connection, name: str) -> int:
    row = connection.execute(f"PRAGMA {name}").fetchone()
    return int(row[0])


def _table_names(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'").fetchall()
    return {str(row[0]) for row in rows}
