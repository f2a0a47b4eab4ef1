"""Request and trigger budgets over any number of time windows.

Hex enforces fixed windows that start at the first request (by default 30
requests a minute and 1,800 an hour; 20 triggers a minute and 60 an hour). A
client that only counts per fixed window of its own can still burst across the
server's window boundary,
and a leaky bucket sized ``N per minute`` lets ``N`` through at once and then
more. :class:`WindowLimiter` keeps, per window, the times of the last ``count``
acquisitions and admits a new one only when fewer than ``count`` fall within
the last ``per`` seconds: no interval of length ``per``, however aligned,
ever holds more than ``count``, so no server window can be exceeded.

When the server still answers 429 (another client shares the token, or its
window differs), :meth:`WindowLimiter.penalize` pauses every caller until the
advised time (never longer than the longest window: a bogus ``Retry-After`` of
weeks must not freeze a batch) and shrinks the budget; it grows back after a
quiet window. Every wait longer than :data:`LOGGED_WAIT` seconds is logged with
its length and reason.

A trigger counts against two budgets, the trigger budget and the request budget.
:func:`acquire_together` admits it under both at one and the same instant, right
before it is sent: a trigger admitted by one budget and then held back by the
other would otherwise be sent later than its recorded time, and delayed triggers
could bunch into one server window.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import anyio
import structlog

from hexbatch.clock import Clock, Sleep, monotonic, real_sleep

log = structlog.get_logger("hexbatch.api.limits")

SAFETY: Final = 0.02
"""How much :func:`limiter` stretches every window: network jitter between this machine
and Hex must never squeeze admitted requests into one server window."""

LOGGED_WAIT: Final = 5.0
"""Waits for a budget longer than this many seconds are logged (length and reason)."""

QUOTA_STEP: Final = 10.0
"""The longest a budget sleeps between two asks of the token's shared ledger. Each ask
keeps the batch's place in the ledger's line, and a waiter silent for half a minute is
taken for gone (:data:`hexbatch.state.ledger.STALE_S`): a batch waiting an hour for its
next trigger must not lose its priority on the way."""


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``count`` events in any ``per`` seconds."""

    count: int
    per: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.per <= 0:
            raise ValueError(f"a limit needs count >= 1 and per > 0, got {self.count}/{self.per}s")


@dataclass(frozen=True, slots=True)
class Want:
    """Slots of one kind (``trigger`` or ``request``) to reserve, under windows of
    ``(allowed count, span in seconds)``."""

    kind: str
    windows: tuple[tuple[int, float], ...]
    count: int = 1


class SharedQuota(Protocol):
    """Slots shared with every other process on the token (the state store's ledger)."""

    async def reserve(self, wants: Sequence[Want]) -> float:
        """Reserve every want at one instant and return 0, or reserve none and return the
        seconds to wait before asking again."""
        ...


# Smallest share of a window's count the adaptive slow-down may shrink to.
_MIN_SCALE = 0.25
_PENALTY_FACTOR = 0.75
_EPSILON = 1e-9


class WindowLimiter:
    """Admit events so that no window's count is ever exceeded.

    Args:
        windows: the limits to respect together.
        clock, sleep: time sources (virtual in tests).
        safety: stretch every window by this fraction, so that network latency
            jitter between here and the server cannot squeeze admitted events
            into one server window.
        name: what the budget counts, for log lines ("requests", "triggers").
        shared: the token's ledger: every admission is also reserved there, so other
            processes on the token (and this one after a restart) count it too.
    """

    def __init__(
        self,
        windows: Iterable[Window],
        *,
        clock: Clock = monotonic,
        sleep: Sleep = real_sleep,
        safety: float = 0.0,
        name: str = "requests",
        shared: SharedQuota | None = None,
    ) -> None:
        self.windows: tuple[Window, ...] = tuple(windows)
        self.name = name
        self.shared = shared
        self._warned_unpredicted = False
        self._spans = tuple(w.per * (1.0 + safety) for w in self.windows)
        self._history = tuple(deque[float](maxlen=w.count) for w in self.windows)
        self._clock = clock
        self._sleep = sleep
        self._lock = anyio.Lock()
        self._blocked_until = -math.inf
        self.advised_until = -math.inf
        """When the server's last Retry-After ends (uncapped, on this limiter's clock)."""
        self._scale = 1.0
        self._last_penalty = -math.inf
        self.waited = 0.0
        self.penalties = 0

    def __repr__(self) -> str:
        limits = ", ".join(f"{w.count}/{w.per:g}s" for w in self.windows)
        return f"<WindowLimiter [{limits}] scale={self._scale:.2f}>"

    @property
    def scale(self) -> float:
        """The share of each window's count currently allowed (1.0 unless penalised)."""
        return self._scale

    def rate(self) -> float:
        """The sustained events per second the tightest window allows."""
        if not self.windows:
            return math.inf
        return min(
            w.count * self._scale / span for w, span in zip(self.windows, self._spans, strict=True)
        )

    def headroom(self, now: float) -> float:
        """The share of the fullest window still unused now (1.0: all free, 0.0: spent)."""
        share = 1.0
        for window, span, history in zip(self.windows, self._spans, self._history, strict=True):
            allowed = self._allowed(window)
            # The history is in time order: count the events still inside the window
            # by bisection, not by a scan (a large window keeps a long history).
            used = len(history) - bisect.bisect_right(history, now - span)
            share = min(share, max(0, allowed - used) / allowed)
        return share

    def _allowed(self, window: Window) -> int:
        return max(1, math.floor(window.count * self._scale))

    def delay(self, now: float, count: int = 1) -> float:
        """Seconds until ``count`` more events may be admitted (0 when they may be now).

        ``count`` is clamped to what the tightest window allows at all.
        """
        if now - self._last_penalty > min(self._spans, default=0.0):
            self._scale = 1.0  # a quiet spell as long as the shortest window: back to full
        wait = self._blocked_until - now
        for window, span, history in zip(self.windows, self._spans, self._history, strict=True):
            allowed = self._allowed(window)
            wanted = min(count, allowed)
            if len(history) + wanted > allowed:
                oldest_that_counts = history[len(history) + wanted - 1 - allowed]
                wait = max(wait, span - (now - oldest_that_counts))
        # A hair more than the exact wait, so float rounding can never admit an
        # event a few ulps inside the window.
        return wait + _EPSILON if wait > 0 else 0.0

    def advised_wait(self, now: float) -> float:
        """Seconds the server's last ``Retry-After`` still asks for (0 when none)."""
        return max(0.0, self.advised_until - now)

    def why(self, now: float) -> str:
        """What the current wait is for, in words, for log lines and errors."""
        if self._blocked_until > now:
            return f"Hex asked to wait (HTTP 429 Retry-After) before more {self.name}"
        limits = ", ".join(f"{w.count} per {w.per:g}s" for w in self.windows)
        return f"the {self.name} budget ({limits}) is spent"

    def _record(self, now: float, count: int = 1) -> None:
        for history in self._history:
            for _ in range(count):
                history.append(now)

    async def _wait_until_free(self, count: int = 1) -> float:
        """Sleep until ``count`` events fit; return the instant they do. Caller holds the lock."""
        logged = False
        while True:
            now = self._clock()
            wait = self.delay(now, count)
            if wait <= 0:
                return now
            if wait > LOGGED_WAIT and not logged:
                log.info(
                    "budget_waiting", budget=self.name, wait_s=round(wait, 1), reason=self.why(now)
                )
                logged = True
            self.waited += wait
            await self._sleep(wait)

    def want(self, count: int = 1) -> Want:
        """This budget's slots for ``count`` events, as the shared ledger counts them."""
        kind = "trigger" if self.name == "triggers" else "request"
        windows = tuple(
            (self._allowed(window), span)
            for window, span in zip(self.windows, self._spans, strict=True)
        )
        return Want(kind, windows, count)

    async def acquire(self, count: int = 1) -> None:
        """Wait until ``count`` events are allowed under every window (here and, with a
        shared ledger, for every process on the token), then record them."""
        async with self._lock:
            waiting = _QuotaWait(self)
            while True:
                await self._wait_until_free(count)
                shared = self.shared
                wait = await shared.reserve([self.want(count)]) if shared is not None else 0.0
                if wait <= 0:
                    # Recorded as of now, after the ledger answered: the request leaves now,
                    # and a window must count from when it really left.
                    self._record(self._clock(), count)
                    return
                await waiting.sleep(wait)

    def penalize(self, retry_after: float | None) -> None:
        """React to a 429: pause everyone until ``retry_after`` and shrink the budget.

        The pause never exceeds the longest window: whatever the server says, no
        window of ours can need longer to empty, and a later 429 pauses again.
        """
        now = self._clock()
        longest = max(self._spans, default=1.0)
        pause = retry_after if retry_after is not None else longest / 10
        self.advised_until = max(self.advised_until, now + pause)
        self._blocked_until = max(self._blocked_until, now + min(pause, longest))
        self._scale = max(_MIN_SCALE, self._scale * _PENALTY_FACTOR)
        self._last_penalty = now
        self.penalties += 1
        if self.shared is not None and not self._warned_unpredicted:
            # The ledger counts every process that shares this store: a 429 it did not
            # foresee comes from a client that does not.
            self._warned_unpredicted = True
            log.warning(
                "quota_429_unpredicted",
                budget=self.name,
                reason="Hex refused although the token's ledger had room: another client "
                "(or a batch using another state store) is spending this token's quota",
            )


class _QuotaWait:
    """One acquisition's wait for the token's shared quota: logged once with its length,
    slept in steps of at most :data:`QUOTA_STEP` (each followed by a new ask)."""

    def __init__(self, budget: WindowLimiter) -> None:
        self._budget = budget
        self._logged = False

    async def sleep(self, wait: float) -> None:
        budget = self._budget
        if wait > LOGGED_WAIT and not self._logged:
            self._logged = True
            log.info(
                "budget_waiting",
                budget=budget.name,
                wait_s=round(wait, 1),
                reason="the token's quota is spent by the batches sharing it, or a batch of "
                "higher priority goes first",
            )
        step = min(wait, QUOTA_STEP)
        budget.waited += step
        await budget._sleep(step)


async def acquire_together(
    first: WindowLimiter | None, second: WindowLimiter | None, *, second_count: int = 1
) -> None:
    """Admit one event under ``first`` and ``second_count`` under ``second`` at one instant.

    ``first`` is the scarce budget (triggers: waits of minutes), ``second`` the busy
    one (requests, shared with every status read). The first is waited for while
    holding only its own lock, so reads go on; then the second is taken and the
    first checked again at that very instant, and both record the same moment.
    """
    if first is None or second is None:
        if first is not None:
            await first.acquire()
        if second is not None:
            await second.acquire(second_count)
        return
    async with first._lock:
        waiting = _QuotaWait(first)
        while True:
            await first._wait_until_free()
            async with second._lock:
                now = await second._wait_until_free(second_count)
                if first.delay(now) > 0:  # a 429 arrived while waiting for the second
                    continue
                wants = [first.want(), second.want(second_count)]
                if first.shared is None:
                    wait = 0.0
                else:
                    wait = await first.shared.reserve(wants)
                    now = first._clock()  # the trigger leaves after the ledger answered
                if wait <= 0:
                    first._record(now)
                    second._record(now, second_count)
                    return
            # Outside the request budget's lock: reads go on while the trigger waits.
            await waiting.sleep(wait)


def limiter(
    windows: Sequence[Window],
    *,
    clock: Clock = monotonic,
    sleep: Sleep = real_sleep,
    name: str = "requests",
    shared: SharedQuota | None = None,
) -> WindowLimiter | None:
    """A limiter for these windows, or None when there are none to respect.

    Each window is stretched by two percent, which absorbs network jitter between
    this machine and Hex.
    """
    if not windows:
        return None
    return WindowLimiter(windows, clock=clock, sleep=sleep, safety=SAFETY, name=name, shared=shared)
