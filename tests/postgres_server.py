"""A throwaway PostgreSQL server for the tests.

One server serves the whole test session: `initdb` into a fresh temporary directory, start it
on a free loopback port with password authentication over TCP, stop it and delete the
directory at the end. Each test that needs a database gets a fresh empty one.

The binaries come from PATH or from Debian's /usr/lib/postgresql/<version>/bin. PostgreSQL
refuses to run as root, so as root the server runs as the `postgres` user (which Debian's
package creates) through `runuser`.

When the machine cannot run the server, the tests that need it skip, unless
HEXBATCH_REQUIRE_POSTGRES=1, where they fail: CI sets it so that PostgreSQL tests can never
be skipped without anyone noticing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, LiteralString, NoReturn
from urllib.parse import quote

import pytest

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql as pgsql

    # What psycopg's execute() takes: a literal, or SQL composed with quoted identifiers.
    Statement = LiteralString | pgsql.SQL | pgsql.Composed

REQUIRE_ENV = "HEXBATCH_REQUIRE_POSTGRES"
SUPERUSER = "postgres"
# The OS account that runs the server when the tests run as root.
SERVER_ACCOUNT = "postgres"
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
HOST = "127.0.0.1"
_TOOLS = ("initdb", "pg_ctl", "postgres")
_COMMAND_TIMEOUT = 60.0
_PORT_ATTEMPTS = 3


class PostgresUnavailable(Exception):
    """This machine cannot run the throwaway server: no binaries, no driver, or no account."""


class PostgresStartError(RuntimeError):
    """The binaries are there but the server did not initialise, start or stop."""


def unavailable(reason: str, *, allow_module_level: bool = False) -> NoReturn:
    """Skip the requesting test (or module), or fail it when PostgreSQL is required."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1, so PostgreSQL tests may not skip)")
    pytest.skip(reason, allow_module_level=allow_module_level)


@dataclass(frozen=True)
class PostgresBinaries:
    """A directory holding initdb, pg_ctl and postgres of one PostgreSQL version."""

    bindir: Path

    def tool(self, name: str) -> str:
        return str(self.bindir / name)


@dataclass(frozen=True)
class PostgresRole:
    """A login role: its name, its password, and a database it owns."""

    name: str
    password: str
    dbname: str = "postgres"


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))


def _has_tools(bindir: Path) -> bool:
    return all(os.access(bindir / tool, os.X_OK) for tool in _TOOLS)


def find_binaries(
    path: str | None = None, debian_glob: str | None = None
) -> PostgresBinaries | None:
    """initdb, pg_ctl and postgres from one directory: initdb's on PATH (`path`, default the
    environment's), else the highest version under Debian's /usr/lib/postgresql/*/bin.

    The three must come from the same directory: pg_ctl of one version cannot start a data
    directory that initdb of another made."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb", path=path)
    if on_path is not None:
        # /usr/local/bin/initdb may be a symlink into the version's own bin directory.
        candidates.append(Path(on_path).resolve().parent)
    debian = [Path(found) for found in glob.glob(debian_glob or DEBIAN_BIN_GLOB)]
    candidates.extend(sorted(debian, key=_version_key, reverse=True))
    for bindir in candidates:
        if _has_tools(bindir):
            return PostgresBinaries(bindir)
    return None


DRIVER_MISSING = "psycopg is not installed; install the extra: pip install -e '.[postgres]'"


def _require_driver() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise PostgresUnavailable(f"{DRIVER_MISSING} ({exc})") from exc


def _server_account() -> pwd.struct_passwd | None:
    """The account to run the server as: None for the current user, `postgres` for root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        raise PostgresUnavailable(
            f"the tests run as root, PostgreSQL refuses to run as root, and there is no "
            f"{SERVER_ACCOUNT!r} user to run it as (Debian's postgresql package creates one)"
        ) from None


def _runuser() -> str:
    found = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise PostgresUnavailable(
            f"the tests run as root and runuser is missing, so the server cannot run as "
            f"{SERVER_ACCOUNT!r}"
        )
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


class PostgresServer:
    """A running throwaway server. Use `start()` and `stop()`, or `throwaway_server()`."""

    host = HOST
    user = SUPERUSER

    def __init__(self, base: Path, binaries: PostgresBinaries, run_as: Sequence[str]) -> None:
        self._base = base
        self._binaries = binaries
        self._run_as = list(run_as)
        self.data_dir = base / "data"
        self.socket_dir = base / "sock"
        self.log_file = base / "postgres.log"
        self.password = secrets.token_urlsafe(24)
        self.port = 0
        self.startup_seconds = 0.0

    @property
    def superuser(self) -> PostgresRole:
        return PostgresRole(self.user, self.password)

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    def start(cls) -> PostgresServer:
        """Initialise and start a server; PostgresUnavailable when this machine cannot."""
        began = time.monotonic()
        _require_driver()
        binaries = find_binaries()
        if binaries is None:
            raise PostgresUnavailable(
                "PostgreSQL is not installed: no initdb, pg_ctl and postgres on PATH or under "
                f"{DEBIAN_BIN_GLOB} (Debian: apt-get install postgresql)"
            )
        account = _server_account()
        run_as = [] if account is None else [_runuser(), "-u", account.pw_name, "--"]
        base = Path(tempfile.mkdtemp(prefix="hexbatch-pg-"))
        server = cls(base, binaries, run_as)
        try:
            server._initdb(account)
            server._start()
        except BaseException:
            server._stop_quietly()
            shutil.rmtree(base, ignore_errors=True)
            raise
        server.startup_seconds = time.monotonic() - began
        return server

    def stop(self) -> None:
        """Stop the server at once and delete its files; the data is thrown away anyway."""
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self._base, ignore_errors=True)

    def _initdb(self, account: pwd.struct_passwd | None) -> None:
        self.socket_dir.mkdir()
        pwfile = self._base / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.password + "\n")
        if account is not None:
            for owned in (self._base, self.socket_dir, pwfile):
                os.chown(owned, account.pw_uid, account.pw_gid)
        self._command(
            self._binaries.tool("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            # Local socket connections are trusted (only this account can reach the 0700
            # socket directory); TCP, which the tests and hexbatch use, needs the password.
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            # Test data is thrown away: no need to wait for the disk, here or below.
            "--no-sync",
        )
        pwfile.unlink()

    def _start(self) -> None:
        for _ in range(_PORT_ATTEMPTS):
            # Another process may take the port between probing and binding: try again.
            self.port = _free_port()
            try:
                self._pg_ctl("start", "-l", str(self.log_file), "-o", self._server_options())
            except PostgresStartError:
                if "already in use" not in _tail(self.log_file, 200):
                    raise
                continue
            return
        raise PostgresStartError(f"no free port after {_PORT_ATTEMPTS} attempts")

    def _server_options(self) -> str:
        options = [
            f"-p {self.port}",
            f"-k {shlex.quote(str(self.socket_dir))}",
            "-c listen_addresses=127.0.0.1",
            # Durability is pointless for throwaway test data, and waiting for the disk on
            # every commit would make the state-store tests slow on a shared machine. A crash
            # of this server only loses data that is deleted at the end anyway.
            "-c fsync=off",
            "-c full_page_writes=off",
            "-c synchronous_commit=off",
        ]
        return " ".join(options)

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._command(
            self._binaries.tool("pg_ctl"),
            action,
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            str(int(_COMMAND_TIMEOUT)),
            *args,
        )

    def _command(self, *argv: str) -> None:
        command = [*self._run_as, *argv]
        try:
            # The server's own output goes to its log file (pg_ctl -l), so the captured pipes
            # close when pg_ctl returns even though the server keeps running.
            done = subprocess.run(
                command,
                cwd=self._base,
                capture_output=True,
                text=True,
                timeout=_COMMAND_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresStartError(f"{shlex.join(command)} timed out") from exc
        if done.returncode != 0:
            raise PostgresStartError(
                f"{shlex.join(command)} exited {done.returncode}\n{done.stdout}{done.stderr}"
                f"\nserver log:\n{_tail(self.log_file)}"
            )

    def _stop_quietly(self) -> None:
        with contextlib.suppress(PostgresStartError):
            if (self.data_dir / "postmaster.pid").exists():
                self._pg_ctl("stop", "-m", "immediate")

    # -- URLs and administration ------------------------------------------------------

    def url(self, dbname: str = "postgres", role: PostgresRole | None = None) -> str:
        """postgresql://USER:PASSWORD@127.0.0.1:PORT/DBNAME, the superuser's by default."""
        role = role or self.superuser
        return self._url(f"{quote(role.name, safe='')}:{quote(role.password, safe='')}", dbname)

    def url_without_password(
        self, dbname: str = "postgres", role: PostgresRole | None = None
    ) -> str:
        """postgresql://USER@127.0.0.1:PORT/DBNAME, for libpq to find the password in
        PGPASSWORD or a password file (PGPASSFILE, ~/.pgpass)."""
        role = role or self.superuser
        return self._url(quote(role.name, safe=""), dbname)

    def _url(self, userinfo: str, dbname: str) -> str:
        return f"postgresql://{userinfo}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
        """A superuser connection over TCP in autocommit mode; close it (use `with`)."""
        import psycopg

        return psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=10)

    def sql(
        self, dbname: str, statement: Statement, params: Sequence[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one statement as the superuser in `dbname` (autocommit, so CREATE DATABASE
        works) and return its rows, [] for a statement without any."""
        with self.connect(dbname) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description is not None else []

    def create_database(self, owner: str | None = None) -> str:
        """A fresh empty database `t_<hex>`, owned by `owner` (default the superuser)."""
        from psycopg import sql

        name = f"t_{uuid.uuid4().hex}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if owner is not None:
            statement = sql.SQL("{} OWNER {}").format(statement, sql.Identifier(owner))
        self.sql("postgres", statement)
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database even while connections to it are still open."""
        from psycopg import sql

        self.sql(
            "postgres",
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        )

    def create_role(self, name: str, password: str, *, createdb: bool = True) -> PostgresRole:
        """A login role with its own password (CREATEDB unless told otherwise)."""
        from psycopg import sql

        statement = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}{}").format(
            sql.Identifier(name),
            sql.Literal(password),
            sql.SQL(" CREATEDB" if createdb else ""),
        )
        self.sql("postgres", statement)
        return PostgresRole(name, password)

    def drop_role(self, name: str) -> None:
        """Drop a role with the databases it owns and whatever it owns or was granted in the
        others (roles belong to the whole server, so a test's role must not outlive it)."""
        from psycopg import sql

        owned = self.sql(
            "postgres",
            "SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba"
            " WHERE r.rolname = %s",
            [name],
        )
        for (dbname,) in owned:
            self.drop_database(dbname)
        if not self.sql("postgres", "SELECT 1 FROM pg_roles WHERE rolname = %s", [name]):
            return
        others = self.sql(
            "postgres", "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
        )
        for (dbname,) in others:
            self.sql(dbname, sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        self.sql("postgres", sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@contextlib.contextmanager
def throwaway_server() -> Iterator[PostgresServer]:
    """A started server, stopped and deleted on exit; skips (or fails) when unavailable."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()
