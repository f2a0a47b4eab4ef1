"""The PostgreSQL backend's own edges: passwords, the driver extra, its schema and migrations."""

from __future__ import annotations

import datetime as dt
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from hexbatch.cli.main import cli
from hexbatch.state import StateError, StateStore, postgres_schema
from tests.postgres_server import PostgresRole, PostgresServer
from tests.state.conftest import new_batch, planned

if TYPE_CHECKING:
    import psycopg

pytestmark = pytest.mark.postgres


# What each schema upgrade added, undone newest first: (the version it leaves, statements).
_UNDO: tuple[tuple[int, tuple[str, ...]], ...] = (
    (9, ("ALTER TABLE hexbatch.batches DROP COLUMN stopped_at",)),
    (8, ("ALTER TABLE hexbatch.runs DROP COLUMN rerun_after",)),
    (7, ("ALTER TABLE hexbatch.batches DROP COLUMN selection",)),
    (6, ("ALTER TABLE hexbatch.batches DROP COLUMN as_of",)),
    (
        5,
        (
            *(
                f"DROP TABLE hexbatch.{table}"
                for table in ("quota_slots", "quota_waiters", "quota_locks", "store_keys")
            ),
            "ALTER TABLE hexbatch.attempts DROP COLUMN quota_wait_ms",
        ),
    ),
)


def _downgrade_to(server: PostgresServer, database: str, version: int) -> None:
    """Turn a current database back into the layout of schema ``version`` (5 to 9)."""
    for leaves, statements in _UNDO:
        if leaves < version:
            break
        for statement in statements:
            server.sql(database, statement)
    server.sql(database, f"UPDATE hexbatch.meta SET schema_version = {int(version)}")  # noqa: S608


def test_the_password_may_come_from_pgpassword(
    postgres_server: PostgresServer, postgres_role: PostgresRole, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL without a password works with PGPASSWORD, as with psql."""
    url = postgres_server.url_without_password(postgres_role.dbname, role=postgres_role)
    monkeypatch.setenv("PGPASSWORD", postgres_role.password)

    with StateStore(url) as store:
        new_batch(store)
        assert len(store.batches()) == 1
        assert postgres_role.password not in store.where


def test_the_password_may_come_from_a_pgpass_file(
    postgres_server: PostgresServer,
    postgres_role: PostgresRole,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """libpq's .pgpass (here through PGPASSFILE) supplies it too."""
    pgpass = tmp_path / "pgpass"
    line = f"{postgres_server.host}:{postgres_server.port}:*:{postgres_role.name}:"
    pgpass.write_text(line + postgres_role.password + "\n", "utf-8")
    pgpass.chmod(0o600)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))

    url = postgres_server.url_without_password(postgres_role.dbname, role=postgres_role)
    with StateStore(url) as store:
        assert store.batches() == []


def test_a_refused_login_is_one_clear_error_without_the_password(
    postgres_server: PostgresServer, postgres_role: PostgresRole
) -> None:
    """A wrong password: a StateError naming the masked URL and the server's reason."""
    wrong = PostgresRole(postgres_role.name, "n0t-the-Passw0rd", postgres_role.dbname)
    url = postgres_server.url(postgres_role.dbname, role=wrong)

    with pytest.raises(StateError) as caught:
        StateStore(url)

    message = str(caught.value)
    assert "n0t-the-Passw0rd" not in message
    assert f"postgresql://{wrong.name}:***@" in message
    assert "cannot be opened" in message
    assert "password authentication failed" in message


def test_without_the_driver_the_error_names_the_extra(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hexbatch without hexbatch[postgres] says what to install, and the CLI exits 2."""
    monkeypatch.setitem(sys.modules, "psycopg", None)

    with pytest.raises(StateError, match=r"pip install 'hexbatch\[postgres\]'"):
        StateStore(postgres_url)
    result = CliRunner().invoke(cli, ["history", postgres_url])
    assert result.exit_code == 2
    assert "hexbatch[postgres]" in result.output


def test_tables_live_in_a_schema_of_their_own(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """A database shared with other applications keeps its public schema untouched."""
    with StateStore(postgres_url):
        pass
    database = postgres_url.rsplit("/", 1)[1]

    rows = postgres_server.sql(
        database,
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 2",
    )

    assert {schema for schema, _ in rows} == {"hexbatch"}
    assert [name for _, name in rows] == [
        "attempts",
        "batches",
        "leases",
        "meta",
        "quota_locks",
        "quota_slots",
        "quota_waiters",
        "rate_limits",
        "requests",
        "runs",
        "store_keys",
    ]
    assert postgres_server.sql(database, "SELECT schema_version FROM hexbatch.meta") == [
        (postgres_schema.SCHEMA_VERSION,)
    ]


def test_a_database_without_hexbatch_state_is_not_created_by_reading_commands(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """history on an empty database says so (exit 2) and leaves it empty."""
    result = CliRunner().invoke(cli, ["history", postgres_url])
    database = postgres_url.rsplit("/", 1)[1]

    assert result.exit_code == 2
    assert "holds no hexbatch state" in result.output
    assert postgres_server.sql(
        database, "SELECT count(*) FROM pg_namespace WHERE nspname = 'hexbatch'"
    ) == [(0,)]


def test_a_foreign_hexbatch_schema_is_refused(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """Someone else's tables in a schema named hexbatch are never written to."""
    database = postgres_url.rsplit("/", 1)[1]
    postgres_server.sql(database, "CREATE SCHEMA hexbatch")
    postgres_server.sql(database, "CREATE TABLE hexbatch.customers (id int)")

    with pytest.raises(StateError, match="not a hexbatch state store"):
        StateStore(postgres_url)


def test_a_newer_schema_is_refused(postgres_server: PostgresServer, postgres_url: str) -> None:
    """A store a newer hexbatch wrote is refused with advice to upgrade."""
    StateStore(postgres_url).close()
    database = postgres_url.rsplit("/", 1)[1]
    postgres_server.sql(database, "UPDATE hexbatch.meta SET schema_version = 99")

    with pytest.raises(StateError, match=r"newer hexbatch \(state schema 99"):
        StateStore(postgres_url)


def test_migrations_run_once_in_order_and_keep_the_data(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An older store is upgraded step by step under the advisory lock; data survives."""
    with StateStore(postgres_url) as store:
        batch = new_batch(store)
    steps: list[int] = []

    def add_a_column(connection: psycopg.Connection[tuple[object, ...]]) -> None:
        steps.append(postgres_schema.SCHEMA_VERSION)
        connection.execute("ALTER TABLE batches ADD COLUMN note TEXT")

    current = postgres_schema.SCHEMA_VERSION
    monkeypatch.setattr(postgres_schema, "SCHEMA_VERSION", current + 1)
    monkeypatch.setattr(postgres_schema, "MIGRATIONS", {current: add_a_column})
    with StateStore(postgres_url) as store:
        assert store.batch(batch.id).name == "sweep"
    with StateStore(postgres_url) as store:
        assert store.database.fetch("SELECT schema_version FROM meta") == [(current + 1,)]
        assert store.database.fetch("SELECT note FROM batches") == [(None,)]
    assert steps == [current + 1]


def test_processes_opening_a_new_database_together_create_it_once(postgres_url: str) -> None:
    """Eight stores opening one empty database at the same moment all succeed."""
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            StateStore(postgres_url).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    with StateStore(postgres_url) as store:
        assert store.batches() == []


def test_a_broken_connection_is_opened_again_for_the_next_statement(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """A server that drops the connection (a restart, a failover) fails the statement that met
    the break, one clear StateError, and the next statement runs on a new connection."""
    database = postgres_url.rsplit("/", 1)[1]
    with StateStore(postgres_url) as store:
        batch = new_batch(store)
        postgres_server.sql(
            "postgres",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )

        with pytest.raises(StateError, match="failed while trying to"):
            store.finish_batch(batch.id, batch.started_at)
        store.finish_batch(batch.id, batch.started_at)

        assert store.batch(batch.id).finished


def test_a_version_6_database_keeps_its_batches_with_no_recorded_today(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """Schema 6 to 7 adds each batch's as-of date: unknown for the batches before, which
    keep their data, and recorded for the batches created after."""
    with StateStore(postgres_url) as store:
        batch = new_batch(store)
    database = postgres_url.rsplit("/", 1)[1]
    _downgrade_to(postgres_server, database, 6)

    with StateStore(postgres_url) as store:
        assert (store.batch(batch.id).name, store.batch(batch.id).as_of) == ("sweep", None)
        later = new_batch(store, as_of=dt.date(2025, 3, 1))
        assert store.batch(later.id).as_of == dt.date(2025, 3, 1)

    assert postgres_server.sql(database, "SELECT schema_version FROM hexbatch.meta") == [
        (postgres_schema.SCHEMA_VERSION,)
    ]


def test_a_version_5_database_gains_the_quota_ledger(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """The first PostgreSQL migration: schema 5 to 6 adds the ledger and keeps the data."""
    with StateStore(postgres_url) as store:
        batch = new_batch(store)
    database = postgres_url.rsplit("/", 1)[1]
    _downgrade_to(postgres_server, database, 5)

    with StateStore(postgres_url) as store:
        assert store.batch(batch.id).name == "sweep"
        keys = store.database.fetch("SELECT name FROM store_keys")

    assert keys == [("fingerprint",)]
    assert postgres_server.sql(database, "SELECT schema_version FROM hexbatch.meta") == [
        (postgres_schema.SCHEMA_VERSION,)
    ]


def test_a_version_7_database_keeps_each_batchs_selection_from_then_on(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """Schema 7 to 8 adds the batches' pinned selection: none for the batches before."""
    with StateStore(postgres_url) as store:
        before = new_batch(store)
    database = postgres_url.rsplit("/", 1)[1]
    _downgrade_to(postgres_server, database, 7)

    with StateStore(postgres_url) as store:
        assert store.selection(before.id) is None
        after = new_batch(store, selection='{"entries": []}')
        assert store.selection(after.id) == '{"entries": []}'

    assert postgres_server.sql(database, "SELECT schema_version FROM hexbatch.meta") == [
        (postgres_schema.SCHEMA_VERSION,)
    ]


def test_a_version_8_database_keeps_a_rerun_asked_until_it_starts(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """Schema 8 to 9 adds each run's pending rerun: none for the runs before."""
    with StateStore(postgres_url) as store:
        batch = new_batch(store, planned(1))
        store.record_final(batch.id, "k0", "ERRORED")
    database = postgres_url.rsplit("/", 1)[1]
    _downgrade_to(postgres_server, database, 8)

    with StateStore(postgres_url) as store:
        assert store.runs(batch.id)[0].rerun_after is None
        store.clear_final(batch.id, ["k0"])
        assert store.runs(batch.id)[0].rerun_after == 0
        assert store.runs(batch.id)[0].rerun_pending

    assert postgres_server.sql(database, "SELECT schema_version FROM hexbatch.meta") == [
        (postgres_schema.SCHEMA_VERSION,)
    ]


def test_a_version_9_database_learns_when_a_driver_stops(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """Schema 9 to 10 adds when a batch's driver stopped: unknown for the batches before."""
    with StateStore(postgres_url) as store:
        batch = new_batch(store, planned(1))
    database = postgres_url.rsplit("/", 1)[1]
    _downgrade_to(postgres_server, database, 9)

    with StateStore(postgres_url) as store:
        assert store.batch(batch.id).stopped_at is None
        store.record_stopped(batch.id, batch.started_at)
        assert store.batch(batch.id).stopped_at == batch.started_at

    assert postgres_server.sql(database, "SELECT schema_version FROM hexbatch.meta") == [
        (postgres_schema.SCHEMA_VERSION,)
    ]
