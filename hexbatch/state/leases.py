"""Leases: one driver per batch name, however many processes and machines share a store.

A process that drives a batch holds the lease of the batch's name: a row naming its
host, pid, when it took the lease and when it last renewed it (its heartbeat), and a
random holder id only it knows. The lease is taken before the batch is found or
created, so two runs that start together create one batch and one driver.

A held lease is taken over when its holder is presumed dead: on the same host, at
once when its process is gone; anywhere, when its heartbeat is older than the TTL
(the holder may be alive behind a network partition; it notices at its next renewal,
and the store refuses its next intent before that, because every intent is written
only while its lease is still held).

Times come from :meth:`Database.now`: PostgreSQL's clock, so hosts whose own clocks
disagree still agree on a lease's age.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from hexbatch.state.database import Database, Row
from hexbatch.state.errors import StateError, StateLockedError

DEFAULT_TTL_S: Final = 30.0

# The holder ids of the leases this process holds now: a lease that names this very
# process but is not among them was left behind by an earlier batch of it.
_HELD_HERE: set[str] = set()

_COLUMNS: Final = "holder, host, pid, started_at, heartbeat_at, ttl_s"


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds (or last held) a batch name's lease."""

    name: str
    holder: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    ttl_s: float
    """How long its holder promised it may go without renewing it."""

    def describe(self) -> str:
        """The holder as a person reads it: ``process 42 on host ci-7``."""
        return f"process {self.pid} on host {self.host}"


class LeaseHeldError(StateLockedError):
    """Another live process holds the batch's lease.

    Attributes:
        lease: the lease as the store holds it (holder, host, pid, heartbeat).
    """

    def __init__(self, message: str, lease: Lease) -> None:
        super().__init__(message, pid=lease.pid)
        self.lease = lease


class LeaseLostError(StateError):
    """This process no longer holds the lease it drove the batch under."""


def this_host() -> str:
    """The name this process's host goes by in leases."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    return True


@dataclass(slots=True)
class Claimant:
    """The process asking for a lease, and how it judges another holder's life."""

    host: str
    pid: int
    ttl: timedelta
    alive: Callable[[int], bool] = pid_alive

    @classmethod
    def here(cls, ttl_s: float = DEFAULT_TTL_S) -> Claimant:
        """This process on this host."""
        return cls(this_host(), os.getpid(), timedelta(seconds=ttl_s))

    def may_take_over(self, lease: Lease, now: datetime) -> str | None:
        """Why ``lease``'s holder is presumed dead (so it may be taken over), or None."""
        if lease.host == self.host and not self.alive(lease.pid):
            return "its process is gone"
        if (lease.host, lease.pid) == (self.host, os.getpid()) and lease.holder not in _HELD_HERE:
            return "this process left it behind"
        silent = now - lease.heartbeat_at
        # The holder's own TTL: it promised to renew within that, whatever ours is.
        if silent > timedelta(seconds=lease.ttl_s):
            return f"it has not renewed its lease for {_span(silent)}"
        return None


def _lease(name: str, row: Row) -> Lease:
    return Lease(
        name,
        str(row[0]),
        str(row[1]),
        int(row[2]),
        datetime.fromisoformat(row[3]),
        datetime.fromisoformat(row[4]),
        float(row[5]),
    )


def _span(delta: timedelta) -> str:
    seconds = max(0, round(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def read(db: Database, name: str) -> Lease | None:
    """The lease of batch name ``name``, if any process holds (or last held) it."""
    rows = db.fetch(f"SELECT {_COLUMNS} FROM leases WHERE name = ?", (name,))  # noqa: S608
    return _lease(name, rows[0]) if rows else None


def take(db: Database, name: str, claimant: Claimant) -> tuple[Lease, Lease | None]:
    """Take the lease of ``name``; return it and the dead holder's lease it replaced.

    Atomic: among processes that ask together, exactly one gets it.

    Raises:
        LeaseHeldError: a live process holds it; the message names it and when it was
            last seen.
    """
    holder = uuid.uuid4().hex
    with db.transaction(durable=True, doing=f"take the lease of batch {name!r}") as session:
        now = db.now()
        stamp = now.isoformat()
        ttl_s = claimant.ttl.total_seconds()
        mine = (holder, claimant.host, claimant.pid, stamp, stamp, ttl_s)
        inserted = session.execute(
            f"INSERT INTO leases (name, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
            " ON CONFLICT (name) DO NOTHING",
            (name, *mine),
        )
        if inserted:
            _HELD_HERE.add(holder)
            return _lease(name, mine), None
        rows = session.fetch(
            f"SELECT {_COLUMNS} FROM leases WHERE name = ?{db.lock_rows}",  # noqa: S608
            (name,),
        )
        held = _lease(name, rows[0])
        why = claimant.may_take_over(held, now)
        if why is None:
            raise LeaseHeldError(_held_message(held, now), held)
        session.execute(
            "UPDATE leases SET holder = ?, host = ?, pid = ?, started_at = ?, heartbeat_at = ?,"
            " ttl_s = ? WHERE name = ?",
            (*mine, name),
        )
    _HELD_HERE.add(holder)
    return _lease(name, mine), held


def _held_message(held: Lease, now: datetime) -> str:
    seen = _span(now - held.heartbeat_at)
    return (
        f"batch {held.name!r} is being driven by {held.describe()} (holding it since "
        f"{held.started_at:%Y-%m-%d %H:%M:%S} UTC, last seen {seen} ago); wait for it to "
        "finish or stop it. A holder that stops renewing its lease is taken over after "
        "the lease TTL"
    )


def renew(db: Database, lease: Lease) -> bool:
    """Renew the heartbeat of a lease this process holds; False when it was taken over."""
    changed = db.execute(
        "UPDATE leases SET heartbeat_at = ? WHERE name = ? AND holder = ?",
        (db.now().isoformat(), lease.name, lease.holder),
        durable=False,
        doing=f"renew the lease of batch {lease.name!r}",
    )
    return changed > 0


def release(db: Database, lease: Lease) -> None:
    """Give the lease up (nothing happens when it was taken over meanwhile)."""
    _HELD_HERE.discard(lease.holder)
    db.execute(
        "DELETE FROM leases WHERE name = ? AND holder = ?",
        (lease.name, lease.holder),
        durable=True,
        doing=f"release the lease of batch {lease.name!r}",
    )


def lost_message(name: str, now_held: Lease | None) -> str:
    """Why a process stopped driving ``name``: who holds its lease now, if anyone."""
    who = f"{now_held.describe()} took it over" if now_held else "it was released"
    return f"the lease of batch {name!r} is no longer this process's: {who}"
