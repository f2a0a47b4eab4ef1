"""The embedded backend: a state store in one SQLite file, in WAL mode.

The writes a crash must never lose (the intent recorded just before a trigger, the run
id right after it) are committed with ``synchronous=FULL`` (fsynced) before their call
returns. Status updates are committed at once too, without waiting for the disk: a
killed process keeps them (they sit in the WAL in the OS cache); only a power cut can
drop them, and the next poll writes them again.

Many processes may share one file: WAL lets readers go on while one writes, and a
writer waits up to :data:`BUSY_TIMEOUT_S` for another's transaction to end.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from hexbatch.state import files
from hexbatch.state.database import Row
from hexbatch.state.errors import StateError
from hexbatch.state.schema import check_readable, prepare

# Long enough for another process's transaction (a batch's plan, thousands of rows) to end.
BUSY_TIMEOUT_S: Final = 30.0


class SqliteSession:
    """Statements inside one SQLite transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._connection.execute(sql, params).rowcount

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows: list[Row] = self._connection.execute(sql, params).fetchall()
        return rows

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._connection.executemany(sql, rows)


class SqliteDatabase:
    """A state store's SQLite file at ``path``, created (with its parent folders) when absent.

    ``path`` is kept as given for messages; SQLite opens the resolved file (symlinks
    and ``..`` followed) so its WAL and shared-memory files always sit beside the real
    file. A store hexbatch creates is private: the file 0600 (SQLite gives its WAL
    and shared-memory files the same mode) in folders it creates 0700, a
    ``.hexbatch`` folder with a ``.gitignore`` that ignores everything.

    ``read_only`` (for ``history``, ``report`` and ``status``) opens a store that
    cannot be written (read-only media, folder or file) without writing to it;
    :attr:`note` then says so.

    Raises:
        StateError: the file exists but is not a usable hexbatch store, is hard-linked,
            or (unless ``read_only``) cannot be written.
    """

    lock_rows = ""  # BEGIN IMMEDIATE already keeps every other writer out

    def __init__(self, path: Path, *, create: bool = True, read_only: bool = False) -> None:
        self.path = path
        self.where = str(path)
        self.note: str | None = None
        if create:
            files.make_private_folders(path.parent)
        elif not path.is_file():
            raise StateError(f"{path} does not exist: no batch has been run with this state")
        elif path.stat().st_size == 0:
            raise StateError(f"{path} is empty, not a hexbatch state store")
        self.resolved = path.resolve()
        if create:
            files.create_private_file(self.resolved, path)
        files.refuse_hard_links(self.resolved, path)
        self.mode = files.open_mode(self.resolved)
        if self.mode != files.READ_WRITE:
            if not read_only:
                raise StateError(
                    f"{path} cannot be written ({files.why_read_only(self.resolved)}); "
                    "hexbatch records every trigger in it, so choose a writable --state path"
                )
            self.note = (
                f"{path} cannot be written ({files.why_read_only(self.resolved)}); "
                "opened it read-only"
            )
        self._connection = self._connect()
        self._durable: bool | None = None

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                files.sqlite_uri(self.resolved, self.mode),
                uri=True,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_S,
                check_same_thread=False,
            )
        except sqlite3.Error as error:
            raise StateError(f"{self.path} cannot be opened: {error}") from error
        try:
            if self.mode == files.READ_WRITE:
                prepare(connection, self.path)
                connection.execute("PRAGMA foreign_keys = ON")
                connection.execute("PRAGMA journal_mode = WAL")
            else:
                check_readable(connection, self.path)
        except sqlite3.DatabaseError as error:
            connection.close()
            if getattr(error, "sqlite_errorname", "") == "SQLITE_CANTOPEN":
                raise StateError(f"{self.path} cannot be opened: {error}") from error
            raise StateError(
                f"{self.path} is not a hexbatch state store ({error}); "
                "choose another --state path or move the file aside"
            ) from error
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        self._connection.close()

    def now(self) -> datetime:
        # One file is shared only by processes that see one clock (one machine or NFS
        # clients kept in step): the local clock is the shared one.
        return datetime.now(UTC)

    def _set_durable(self, durable: bool) -> None:
        """Choose whether the next commits wait for the disk (FULL) or only for the OS."""
        if self._durable is durable:
            return
        level = "FULL" if durable else "NORMAL"
        with self._guard():
            self._connection.execute(f"PRAGMA synchronous = {level}")
        self._durable = durable

    @contextlib.contextmanager
    def _guard(self, doing: str = "") -> Iterator[None]:
        """Turn SQLite's errors into a StateError that names the file and what failed."""
        try:
            yield
        except sqlite3.IntegrityError as error:
            raise StateError(f"{self.path}: cannot {doing}: {error}") from error
        except sqlite3.Error as error:
            action = f" while trying to {doing}" if doing else ""
            raise StateError(f"{self.path} failed{action}: {error}") from error

    def execute(self, sql: str, params: Sequence[Any] = (), *, durable: bool, doing: str) -> int:
        self._set_durable(durable)
        with self._guard(doing):
            return self._connection.execute(sql, params).rowcount

    @contextlib.contextmanager
    def transaction(self, *, durable: bool, doing: str) -> Iterator[SqliteSession]:
        self._set_durable(durable)
        connection = self._connection
        with self._guard(doing):
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteSession(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._guard("read"):
            rows: list[Row] = self._connection.execute(sql, params).fetchall()
            return rows
