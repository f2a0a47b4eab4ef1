"""The token-wide quota ledger: every trigger and request any batch sends on a token.

Hex counts a token's triggers and reads over its own windows, whichever process sends
them. Each process keeps its own windows in memory too, but those forget a restart and
cannot see another batch. So before a request leaves, its slot is reserved here, in the
state store every batch on the token shares, under the same rule as the in-memory
windows (no span of ``per`` seconds ever holds more than ``count``), atomically across
processes. A restarted or a second process sees every slot already spent.

The token is identified by a keyed fingerprint (HMAC-SHA256 under a random key kept in
the store), never by the token itself.

When slots are scarce the highest-priority waiter goes first: no slot goes to a batch
while one of higher rank is in line. Among batches of one rank, the one waiting longest
goes first. Waiting raises a batch one priority level every :data:`AGING_S` seconds, so
a low-priority backfill waiting behind a stream of high-priority batches gets its turn
after at most twenty minutes.

A batch joins the line of a kind of slot (triggers, requests) when it is told to wait,
and is due back when that wait ends, or after :data:`~hexbatch.api.limits.QUOTA_STEP` at
most. It holds its place while it comes back when due (within :data:`PRESENT_S`), and
after getting a slot it keeps it (at the back of its rank) for as long: at a
window's turn the slots free one after another, faster than one process sends, and a
high-priority batch with more to send takes every one. It leaves the line when it does
not come back in time (its next request came later, or its process ended). The reads a
batch makes while its next trigger waits neither take it out of the trigger line nor
stand in it. A waiter that gives way to one of its rank is told to come back when the
slot after those ahead of it frees, not later: slots spent a moment apart free up a
moment apart.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from hexbatch.api.limits import QUOTA_STEP, Want
from hexbatch.state.database import Database, Session
from hexbatch.state.errors import StateError

PRIORITIES: Final = {"low": 0, "normal": 1, "high": 2}
AGING_S: Final = 600.0
"""Seconds of waiting that raise a waiter one priority level."""
STALE_S: Final = 30.0
"""A waiter this long overdue has gone (its process died): its row is removed."""
PRESENT_S: Final = 0.25
"""How long past its due time a waiter still holds its place in line: a batch with more
to send asks for its next slot within milliseconds of getting one."""
RECHECK_S: Final = 1.0
"""How soon a waiter asks again after giving way to a higher rank, or when the waiters
ahead of it could fill a whole window."""
MIN_RETENTION_S: Final = 25 * 3600.0
"""Slots are kept at least this long, whatever windows this process uses: another
process may count over a longer one."""


@dataclass(frozen=True, slots=True)
class _Place:
    """A place in line: waiting since ``since`` (its rank), due back by ``due``."""

    since: float
    due: float


@dataclass(frozen=True, slots=True)
class Waiter:
    """Who asks: a batch of some priority, waiting since some moment."""

    id: str
    batch: str
    priority: int


def fingerprint(key: str, token: str) -> str:
    """The token's keyed fingerprint (hex, 32 characters): the same token, the same store."""
    return hmac.new(key.encode(), token.encode(), hashlib.sha256).hexdigest()[:32]


def fingerprint_key(db: Database) -> str:
    """The store's fingerprint key.

    Raises:
        StateError: the store has none (it is damaged).
    """
    rows = db.fetch("SELECT value FROM store_keys WHERE name = 'fingerprint'")
    if not rows:
        raise StateError(f"{db.where} has no fingerprint key: it is damaged")
    return str(rows[0][0])


class Ledger:
    """Reservations for one token in one store's ledger (thread-safe; one connection).

    Args:
        db: a connection of its own (reservations run in worker threads).
        token: the Hex token (only its fingerprint is used or stored).
        waiter: the batch asking, with its priority.
        clock: seconds since the epoch on the clock every process shares (the
            database's; virtual in tests).
    """

    def __init__(
        self, db: Database, token: str, waiter: Waiter, clock: Callable[[], float]
    ) -> None:
        self._db = db
        self.token = fingerprint(fingerprint_key(db), token)
        self.waiter = waiter
        self._clock = clock
        self._lock = threading.Lock()
        self._places: dict[str, _Place] = {}
        """This batch's place in the line of each kind of slot it waits for."""

    def reserve(self, wants: Sequence[Want]) -> float:
        """Reserve every slot of ``wants`` at one instant, or none of them.

        The first want's kind is the line this batch waits in: the waiters ahead of it
        in that line get the free slots first, and while one of higher rank is in line,
        no slot goes to this batch at all.

        Returns:
            0 when the slots are reserved; otherwise the seconds to wait before asking
            again (the waiter holds its place meanwhile, if it asks again within
            :data:`~hexbatch.api.limits.QUOTA_STEP`).
        """
        with (
            self._lock,
            self._db.transaction(durable=False, doing="reserve quota") as session,
        ):
            now = self._clock()
            self._lock_token(session)
            if not wants:
                return 0.0
            kind = wants[0].kind
            higher, ahead = self._ahead(session, kind, now)
            wait = own = self._wait(session, wants, now, 0)
            if higher:
                # Every slot goes to the higher rank first, for as long as it is in line.
                wait = max(own, RECHECK_S)
            elif ahead:
                # After those ahead, or once a batch just served (which holds its place
                # for a moment, but may have nothing more to send) has let it go.
                wait = min(self._wait(session, wants, now, ahead), max(own, PRESENT_S))
            place = self._places.get(kind)
            if wait > 0:
                since = place.since if place is not None else now
                self._hold(session, kind, _Place(since, now + min(wait, QUOTA_STEP)))
                return wait
            self._take(session, wants, now)
            if place is not None and now <= place.due + PRESENT_S:
                # Back when due: its next request may follow at once, so it keeps its place.
                self._hold(session, kind, _Place(now, now))
            elif self._places.pop(kind, None) is not None:
                session.execute("DELETE FROM quota_waiters WHERE id = ?", (self._row(kind),))
            return 0.0

    def forget(self) -> None:
        """Stop waiting (the batch ends): leave every line."""
        with self._lock:
            kinds, self._places = list(self._places), {}
            for kind in kinds:
                self._db.execute(
                    "DELETE FROM quota_waiters WHERE id = ?",
                    (self._row(kind),),
                    durable=False,
                    doing="leave the quota line",
                )

    def spent(self, kind: str, span: float) -> int:
        """Slots of ``kind`` every process spent on this token in the last ``span`` seconds."""
        rows = self._db.fetch(
            "SELECT COUNT(*) FROM quota_slots WHERE token = ? AND kind = ? AND at > ?",
            (self.token, kind, self._clock() - span),
        )
        return int(rows[0][0])

    def _lock_token(self, session: Session) -> None:
        # One row per token, locked for the transaction: reservations on one token take
        # turns on PostgreSQL (SQLite's BEGIN IMMEDIATE already takes turns).
        session.execute(
            "INSERT INTO quota_locks (token) VALUES (?) ON CONFLICT (token) DO NOTHING",
            (self.token,),
        )
        session.fetch(
            f"SELECT token FROM quota_locks WHERE token = ?{self._db.lock_rows}",  # noqa: S608
            (self.token,),
        )

    def _wait(self, session: Session, wants: Sequence[Want], now: float, ahead: int) -> float:
        """Seconds until every want fits, the first one beside the slots of the ``ahead``
        waiters that go before it (0: they all fit now)."""
        wait = recheck = 0.0
        for index, want in enumerate(wants):
            for allowed, span in want.windows:
                count = min(want.count, allowed)
                if index == 0 and ahead:
                    if count + ahead > allowed:
                        recheck = RECHECK_S  # those ahead could fill the whole window
                    else:
                        count += ahead
                rows = session.fetch(
                    "SELECT at FROM quota_slots WHERE token = ? AND kind = ? AND at > ?"
                    " ORDER BY at DESC LIMIT ?",
                    (self.token, want.kind, now - span, allowed),
                )
                if len(rows) + count > allowed:
                    # The slot that must leave the window before ours fits in it.
                    oldest_that_counts = rows[allowed - count][0]
                    wait = max(wait, float(oldest_that_counts) + span - now)
        # A hair more than the exact wait, so float rounding cannot ask a moment too soon.
        return max(wait + 1e-6 if wait > 0 else 0.0, recheck)

    def _ahead(self, session: Session, kind: str, now: float) -> tuple[int, int]:
        """Waiters in line for ``kind`` of higher rank than this one, and all those that go
        before it (higher rank, or as high and waiting longer)."""
        # The column ``seen`` holds when the waiter is due back.
        session.execute("DELETE FROM quota_waiters WHERE seen < ?", (now - STALE_S,))
        place = self._places.get(kind)
        since = place.since if place is not None else now
        mine = _rank(self.waiter.priority, since, now)
        higher = ahead = 0
        for priority, their_since in session.fetch(
            "SELECT priority, since FROM quota_waiters"
            " WHERE token = ? AND kind = ? AND id <> ? AND seen >= ?",
            (self.token, kind, self._row(kind), now - PRESENT_S),
        ):
            theirs = _rank(int(priority), float(their_since), now)
            higher += theirs > mine
            ahead += (theirs, -float(their_since)) > (mine, -since)
        return higher, ahead

    def _row(self, kind: str) -> str:
        """This waiter's place in the line for ``kind``."""
        return f"{self.waiter.id}:{kind}"

    def _hold(self, session: Session, kind: str, place: _Place) -> None:
        """Put this batch in the line for ``kind``, or keep it there, at ``place``."""
        self._places[kind] = place
        session.execute(
            "INSERT INTO quota_waiters (id, token, kind, priority, since, seen, batch)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET seen = excluded.seen, since = excluded.since",
            (
                self._row(kind),
                self.token,
                kind,
                self.waiter.priority,
                place.since,
                place.due,
                self.waiter.batch,
            ),
        )

    def _take(self, session: Session, wants: Sequence[Want], now: float) -> None:
        session.executemany(
            "INSERT INTO quota_slots (token, kind, at, batch) VALUES (?, ?, ?, ?)",
            [
                (self.token, want.kind, now, self.waiter.batch)
                for want in wants
                for _ in range(want.count)
            ],
        )
        longest = max((span for want in wants for _, span in want.windows), default=0.0)
        session.execute(
            "DELETE FROM quota_slots WHERE token = ? AND at < ?",
            (self.token, now - max(MIN_RETENTION_S, 2 * longest)),
        )


def _rank(priority: int, since: float, now: float) -> float:
    """A waiter's priority raised one level per :data:`AGING_S` seconds of waiting."""
    return priority + int(max(0.0, now - since) // AGING_S)


def new_waiter(batch: str, priority: str) -> Waiter:
    """A waiter for a batch of priority ``high``, ``normal`` or ``low``."""
    return Waiter(uuid.uuid4().hex, batch, PRIORITIES[priority])
