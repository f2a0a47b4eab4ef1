"""The throwaway PostgreSQL server the state-store tests run against, and its fixtures."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest

from tests import postgres_server as pgmod
from tests.postgres_server import PostgresRole, PostgresServer, find_binaries

try:
    import psycopg
except ImportError:
    pgmod.unavailable(pgmod.DRIVER_MISSING, allow_module_level=True)

USER_TABLES = (
    "SELECT count(*) FROM information_schema.tables"
    " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
)


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _no_password_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither PGPASSWORD nor a ~/.pgpass of this machine may supply a password."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))


def test_a_test_database_answers_queries(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT 1").fetchall() == [(1,)]
        (database,) = conn.execute("SELECT current_database()").fetchone() or ("",)
    assert database == _dbname(postgres_url)
    assert database.startswith("t_")


_databases_seen: list[str] = []


@pytest.mark.parametrize("turn", ["first", "second"])
def test_each_test_gets_a_fresh_empty_database(
    turn: str, postgres_url: str, postgres_server: PostgresServer
) -> None:
    dbname = _dbname(postgres_url)
    assert dbname not in _databases_seen
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute(USER_TABLES).fetchone() == (0,)
        # Leave something behind: the next test's database must not see it.
        conn.execute("CREATE TABLE left_behind (turn text)")
        conn.execute("INSERT INTO left_behind VALUES (%s)", [turn])
    existing = {
        name for (name,) in postgres_server.sql("postgres", "SELECT datname FROM pg_database")
    }
    assert dbname in existing
    # The databases of earlier tests were dropped when they ended.
    assert not existing.intersection(_databases_seen)
    _databases_seen.append(dbname)


def test_a_wrong_password_is_refused_over_tcp(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    wrong = PostgresRole(postgres_server.user, postgres_server.password + "x")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_server.url(_dbname(postgres_url), wrong), connect_timeout=10)


def test_no_password_is_refused_over_tcp(
    postgres_server: PostgresServer,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _no_password_file(monkeypatch, tmp_path)
    url = postgres_server.url_without_password(_dbname(postgres_url))
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(url, connect_timeout=10)


def test_pgpassword_supplies_the_password(
    postgres_server: PostgresServer,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _no_password_file(monkeypatch, tmp_path)
    monkeypatch.setenv("PGPASSWORD", postgres_server.password)
    url = postgres_server.url_without_password(_dbname(postgres_url))
    assert ":" + postgres_server.password not in url
    with psycopg.connect(url, connect_timeout=10) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (postgres_server.user,)


def test_a_password_file_supplies_the_password(
    postgres_server: PostgresServer,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    dbname = _dbname(postgres_url)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(
        f"{postgres_server.host}:{postgres_server.port}:{dbname}:"
        f"{postgres_server.user}:{postgres_server.password}\n"
    )
    # libpq ignores a password file that others can read.
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    with psycopg.connect(postgres_server.url_without_password(dbname), connect_timeout=10) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (dbname,)


def test_a_second_role_logs_in_with_its_own_password(
    postgres_server: PostgresServer, postgres_role: PostgresRole
) -> None:
    assert postgres_role.name != postgres_server.user
    with psycopg.connect(postgres_server.url(postgres_role.dbname, postgres_role)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (postgres_role.name,)
        # It owns its database, so it may create tables there.
        conn.execute("CREATE TABLE mine (x int)")
    other_password = PostgresRole(postgres_role.name, postgres_server.password)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_server.url(postgres_role.dbname, other_password))


def test_dropping_a_role_drops_what_it_owns(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    role = postgres_server.create_role("r_dropped", "s3cret pass")
    own_db = postgres_server.create_database(owner=role.name)
    shared_db = _dbname(postgres_url)
    postgres_server.sql(shared_db, "GRANT CREATE ON SCHEMA public TO r_dropped")
    with psycopg.connect(postgres_server.url(shared_db, role)) as conn:
        conn.execute("CREATE TABLE owned_elsewhere (x int)")
    postgres_server.drop_role(role.name)
    assert (
        postgres_server.sql("postgres", "SELECT 1 FROM pg_roles WHERE rolname = 'r_dropped'") == []
    )
    assert (
        postgres_server.sql("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", [own_db])
        == []
    )
    assert postgres_server.sql(shared_db, USER_TABLES) == [(0,)]


def test_the_server_listens_on_loopback_only_and_skips_durability(
    postgres_server: PostgresServer,
) -> None:
    settings = dict(
        postgres_server.sql(
            "postgres",
            "SELECT name, setting FROM pg_settings WHERE name IN"
            " ('listen_addresses', 'fsync', 'port', 'server_encoding')",
        )
    )
    assert settings == {
        "listen_addresses": "127.0.0.1",
        "fsync": "off",
        "port": str(postgres_server.port),
        "server_encoding": "UTF8",
    }


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has to hand the server to postgres")
def test_as_root_the_server_runs_as_the_postgres_user(postgres_server: PostgresServer) -> None:
    owner = pwd.getpwuid(postgres_server.data_dir.stat().st_uid).pw_name
    assert owner == "postgres"
    pid = int((postgres_server.data_dir / "postmaster.pid").read_text().split()[0])
    assert pwd.getpwuid(Path(f"/proc/{pid}").stat().st_uid).pw_name == "postgres"


def test_tests_using_the_server_are_marked_postgres(
    request: pytest.FixtureRequest, postgres_url: str
) -> None:
    assert request.node.get_closest_marker("postgres") is not None


# -- finding PostgreSQL, and what happens without it ------------------------------------


def _fake_bindir(root: Path, version: str, tools: tuple[str, ...] = pgmod._TOOLS) -> Path:
    bindir = root / version / "bin"
    bindir.mkdir(parents=True)
    for tool in tools:
        (bindir / tool).write_text("#!/bin/sh\n")
        (bindir / tool).chmod(stat.S_IRWXU)
    return bindir


def test_the_highest_complete_debian_version_is_chosen(tmp_path: Path) -> None:
    root = tmp_path / "postgresql"
    _fake_bindir(root, "9.6")
    expected = _fake_bindir(root, "15")
    _fake_bindir(root, "16", tools=("initdb", "pg_ctl"))  # no postgres: unusable
    empty_path = tmp_path / "empty"
    empty_path.mkdir()
    found = find_binaries(path=str(empty_path), debian_glob=f"{root}/*/bin")
    assert found is not None
    assert found.bindir == expected


def test_initdb_on_path_wins_and_its_symlink_is_followed(tmp_path: Path) -> None:
    root = tmp_path / "postgresql"
    target = _fake_bindir(root, "14")
    _fake_bindir(root, "17")
    local_bin = tmp_path / "local-bin"
    local_bin.mkdir()
    (local_bin / "initdb").symlink_to(target / "initdb")
    found = find_binaries(path=str(local_bin), debian_glob=f"{root}/*/bin")
    assert found is not None
    assert found.bindir == target


def _without_postgresql(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pgmod, "DEBIAN_BIN_GLOB", str(tmp_path / "none" / "*" / "bin"))


def _use_a_server() -> None:
    with pgmod.throwaway_server():
        raise AssertionError("a server started without the PostgreSQL binaries")


def test_without_postgresql_the_server_tests_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _without_postgresql(monkeypatch, tmp_path)
    monkeypatch.delenv(pgmod.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is not installed"):
        _use_a_server()


def test_without_postgresql_the_server_tests_fail_when_it_is_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _without_postgresql(monkeypatch, tmp_path)
    monkeypatch.setenv(pgmod.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"not installed.*HEXBATCH_REQUIRE_POSTGRES=1"):
        _use_a_server()


def test_root_without_a_postgres_account_cannot_run_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(pgmod, "SERVER_ACCOUNT", "no-such-account-for-postgres")
    with pytest.raises(pgmod.PostgresUnavailable, match="refuses to run as root"):
        pgmod._server_account()


def test_other_users_run_the_server_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert pgmod._server_account() is None
