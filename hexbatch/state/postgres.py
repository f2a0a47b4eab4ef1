"""The shared backend: a state store in a PostgreSQL database, through psycopg 3.

Selected by a ``postgresql://`` URL. psycopg runs on libpq, so the password comes
from where every PostgreSQL tool takes it: the URL, ``PGPASSWORD`` or a ``.pgpass``
file (and ``PGSSLMODE``, service files and the other ``PG*`` variables apply as
usual). The URL is only ever shown with its password masked, and a driver message
that quotes the password has it replaced.

Every commit is durable (``synchronous_commit`` as the server sets it, on by
default): a status write costs one round trip, which a batch waiting on Hex never
notices. The connection is opened with keepalives and a TCP user timeout so a lost
network fails a write within seconds instead of hanging the batch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from hexbatch.state import postgres_schema
from hexbatch.state.database import Row
from hexbatch.state.errors import StateError

if TYPE_CHECKING:
    import psycopg

EXTRA: Final = "hexbatch[postgres]"
# Connection settings a URL may override: fail fast on a dead server or network.
_CONNECTION_DEFAULTS: Final = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "15000",
    "application_name": "hexbatch",
}


def _driver(where: str) -> Any:
    try:
        # An optional extra, imported only when a store needs it.
        import psycopg
    except ImportError:
        raise StateError(
            f"the state store {where} is a PostgreSQL database, which needs the PostgreSQL "
            f"driver: pip install '{EXTRA}'"
        ) from None
    return psycopg


@lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    """The store's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresSession:
    """Statements inside one PostgreSQL transaction."""

    def __init__(self, cursor: psycopg.Cursor[tuple[Any, ...]]) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cursor.execute(_placeholders(sql), params)
        return self._cursor.rowcount

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cursor.execute(_placeholders(sql), params)
        return self._cursor.fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._cursor.executemany(_placeholders(sql), rows)


class PostgresDatabase:
    """A state store in the PostgreSQL database ``url`` names (``where`` is how it is shown).

    ``create`` makes hexbatch's schema when the database has none; otherwise such a
    database holds no batches and is refused, as a missing SQLite file is.

    Raises:
        StateError: psycopg is not installed, the server cannot be reached or refuses
            the login, or the database's ``hexbatch`` schema is not a usable store.
    """

    lock_rows = " FOR UPDATE"
    note: str | None = None

    def __init__(self, url: str, where: str, *, create: bool = True) -> None:
        self.where = where
        self._url = url
        self._psycopg = _driver(where)
        self._secret = _password_in(url, self._psycopg)
        self._connection = self._connect(url)
        try:
            with self._guard("open the store"):
                self._open(create)
        except BaseException:
            self._connection.close()
            raise

    def _connect(self, url: str) -> psycopg.Connection[tuple[Any, ...]]:
        conninfo = self._psycopg.conninfo
        try:
            settings = conninfo.conninfo_to_dict(url)
        except self._psycopg.Error:
            # The driver's message quotes the URL, password and all: say it in our words.
            raise StateError(f"{self.where} is not a valid PostgreSQL URL") from None
        for name, value in _CONNECTION_DEFAULTS.items():
            settings.setdefault(name, value)
        try:
            connection: psycopg.Connection[tuple[Any, ...]] = self._psycopg.connect(
                conninfo.make_conninfo(**settings), autocommit=True
            )
        except self._psycopg.Error as error:
            raise StateError(f"{self.where} cannot be opened: {self._clean(error)}") from None
        return connection

    def _open(self, create: bool) -> None:
        if create:
            postgres_schema.prepare(self._connection, self.where)
        else:
            version = postgres_schema.stored_version(self._connection, self.where)
            if version is None:
                raise StateError(
                    f"{self.where} holds no hexbatch state: no batch has been run with it"
                )
            if version < postgres_schema.SCHEMA_VERSION:
                postgres_schema.prepare(self._connection, self.where)
        self._connection.execute(f"SET search_path TO {postgres_schema.SCHEMA}")

    def _ready(self) -> psycopg.Connection[tuple[Any, ...]]:
        """The connection, opened again if the last one broke (a server restart, a failover,
        a network cut): the statement that met the break failed; the next ones need not."""
        if self._connection.broken:
            old = self._connection
            self._connection = self._connect(self._url)
            old.close()
            with self._guard("open the store again"):
                self._connection.execute(f"SET search_path TO {postgres_schema.SCHEMA}")
        return self._connection

    def _clean(self, error: BaseException) -> str:
        """The driver's message, first line only, with the password (if it quotes it) masked."""
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return text.replace(self._secret, "***") if self._secret else text

    @contextlib.contextmanager
    def _guard(self, doing: str = "") -> Iterator[None]:
        try:
            yield
        except self._psycopg.IntegrityError as error:
            raise StateError(f"{self.where}: cannot {doing}: {self._clean(error)}") from None
        except self._psycopg.Error as error:
            action = f" while trying to {doing}" if doing else ""
            raise StateError(f"{self.where} failed{action}: {self._clean(error)}") from None

    def execute(self, sql: str, params: Sequence[Any] = (), *, durable: bool, doing: str) -> int:
        del durable  # every PostgreSQL commit is durable (see the module's note)
        connection = self._ready()
        with self._guard(doing):
            return connection.execute(_placeholders(sql), params).rowcount

    @contextlib.contextmanager
    def transaction(self, *, durable: bool, doing: str) -> Iterator[PostgresSession]:
        del durable
        connection = self._ready()
        with (
            self._guard(doing),
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            yield PostgresSession(cursor)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        connection = self._ready()
        with self._guard("read"):
            return connection.execute(_placeholders(sql), params).fetchall()

    def now(self) -> datetime:
        # The server's clock: hosts whose own clocks disagree still agree on a lease's age.
        connection = self._ready()
        with self._guard("read the time"):
            row = connection.execute("SELECT clock_timestamp()").fetchone()
        if row is None:  # pragma: no cover - SELECT always yields a row
            raise StateError(f"{self.where} did not tell the time")
        moment: datetime = row[0]
        return moment

    def close(self) -> None:
        self._connection.close()


def _password_in(url: str, driver: Any) -> str:
    """The password the connection uses, from the URL or ``PGPASSWORD`` (to mask it in
    driver messages), or empty."""
    try:
        given = driver.conninfo.conninfo_to_dict(url).get("password")
    except driver.Error:
        given = None
    return str(given or os.environ.get("PGPASSWORD") or "")
