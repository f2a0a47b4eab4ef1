"""What a state store needs of a database: the seam between the store and its backends.

The store's SQL is written once, with ``?`` placeholders, in the subset SQLite and
PostgreSQL share (``ON CONFLICT … DO UPDATE``, ``RETURNING``, ``COALESCE``); each
backend runs it on its own driver and turns that driver's errors into a
:class:`~hexbatch.state.errors.StateError` that names the store and what failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

Row = tuple[Any, ...]


class Session(Protocol):
    """Statements inside one transaction (committed when the transaction's block ends)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        ...

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one query (or a statement with ``RETURNING``) and return its rows."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters."""
        ...


class Database(Protocol):
    """One connection to a state store's database."""

    where: str
    """The store as messages name it: a path, or a URL with its password masked."""

    note: str | None
    """Something the user should know about how the store was opened, if anything."""

    lock_rows: str
    """What to append to a ``SELECT`` to lock the rows it reads until the transaction
    ends (PostgreSQL's ``FOR UPDATE``; empty where a transaction already excludes
    every other writer, as SQLite's ``BEGIN IMMEDIATE`` does)."""

    def execute(self, sql: str, params: Sequence[Any] = (), *, durable: bool, doing: str) -> int:
        """Run one statement as its own committed transaction; return the rows it changed.

        ``durable`` asks for the commit to reach the disk before this returns.
        """
        ...

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one read-only query."""
        ...

    def transaction(self, *, durable: bool, doing: str) -> AbstractContextManager[Session]:
        """Run several statements as one transaction, committed when the block ends."""
        ...

    def now(self) -> datetime:
        """The time by the clock every process using the store shares (timezone-aware)."""
        ...

    def close(self) -> None:
        """Close the connection; the database cannot be used afterwards."""
        ...
