"""Time as a dependency: one :class:`TimeSource` carries every way code reads or spends time.

Production code uses :data:`TimeSource()`: the monotonic clock, ``anyio.sleep``, a
fresh random generator, the UTC wall clock and ``anyio.move_on_after``. Tests pass a
virtual one: :meth:`VirtualClock.source` (a sleep advances time at once, for code
that waits in one task) or :meth:`SteppingClock.source` (sleepers wake in order of
their end, for a whole batch of concurrent tasks), so backoff, limits, timeouts and
grace periods are tested in virtual time.

The state store's lease heartbeat (``hexbatch.state.heartbeat``) keeps the real
clock on purpose: other processes judge a lease by their own clocks, so its
renewals must follow real seconds whatever time source the batch runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio
import anyio.lowlevel

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
WallClock = Callable[[], datetime]
MoveOnAfter = Callable[[float], contextlib.AbstractContextManager[anyio.CancelScope]]

VIRTUAL_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
"""The wall-clock time a virtual time source starts at, unless told otherwise."""


def monotonic() -> float:
    """Seconds on a clock that never goes backwards."""
    return time.monotonic()


async def real_sleep(seconds: float) -> None:
    """Sleep for real (a cancellation point even for zero seconds)."""
    await anyio.sleep(max(0.0, seconds))


def utc_now() -> datetime:
    """The current wall-clock time in UTC."""
    return datetime.now(UTC)


def real_move_on_after(seconds: float) -> contextlib.AbstractContextManager[anyio.CancelScope]:
    """A cancel scope that ends its block after ``seconds`` of real time."""
    return anyio.move_on_after(seconds)


@dataclass(frozen=True, slots=True)
class TimeSource:
    """Every way code reads or spends time, and its randomness, as one object.

    Attributes:
        clock: monotonic seconds (durations, deadlines).
        sleep: waits ``seconds`` on that clock.
        rng: the random generator for jitter.
        now: the wall clock (timestamps, dates relative to today).
        move_on_after: a cancel scope ending its block after ``seconds`` on the clock
            (bounds waits that are not sleeps, such as a request's answer).
    """

    clock: Clock = monotonic
    sleep: Sleep = real_sleep
    rng: random.Random = field(default_factory=random.Random)
    now: WallClock = utc_now
    move_on_after: MoveOnAfter = real_move_on_after


class VirtualClock:
    """A clock that only moves when someone sleeps on it.

    ``sleep`` advances the time by the requested amount and yields to the event
    loop once, so concurrent tasks still interleave (each one's sleep moves the
    clock for all: for several tasks waiting together, use :class:`SteppingClock`).
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._deadlines: dict[anyio.CancelScope, float] = {}

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward without sleeping (ending the scopes whose time is up)."""
        self.now += max(0.0, seconds)
        for scope, deadline in list(self._deadlines.items()):
            if self.now >= deadline:
                scope.cancel()

    async def sleep(self, seconds: float) -> None:
        """Record the sleep, move time forward, and let other tasks run."""
        self.slept.append(seconds)
        self.advance(seconds)
        await anyio.lowlevel.checkpoint()

    @contextlib.contextmanager
    def move_on_after(self, seconds: float) -> Iterator[anyio.CancelScope]:
        """A cancel scope that ends its block once the clock has moved ``seconds`` on."""
        with anyio.CancelScope() as scope:
            self._deadlines[scope] = self.now + seconds
            try:
                yield scope
            finally:
                del self._deadlines[scope]

    def source(self, wall: datetime = VIRTUAL_EPOCH, *, seed: int = 0) -> TimeSource:
        """A time source on this clock, its wall clock ``wall`` at reading zero."""
        return _virtual_source(self, self.sleep, self.move_on_after, wall, seed)


def _virtual_source(
    clock: Clock, sleep: Sleep, move_on_after: MoveOnAfter, wall: datetime, seed: int
) -> TimeSource:
    return TimeSource(
        clock=clock,
        sleep=sleep,
        rng=random.Random(seed),
        now=lambda: wall + timedelta(seconds=clock()),
        move_on_after=move_on_after,
    )


@dataclass(order=True, slots=True)
class _Timer:
    at: float
    order: int
    fire: Callable[[], None] = field(compare=False)
    live: bool = field(default=True, compare=False)


class SteppingClock:
    """Virtual time for many tasks: each sleep ends when the clock reaches its end.

    While :meth:`run` drives it, the clock stands still as long as any task can
    run, and jumps to the earliest pending end once every task waits, so
    concurrent tasks see time pass exactly as their sleeps say, in no real time.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self._timers: list[_Timer] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def _at(self, seconds: float, fire: Callable[[], None]) -> _Timer:
        timer = _Timer(self.now + max(0.0, seconds), next(self._order), fire)
        heapq.heappush(self._timers, timer)
        return timer

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has moved ``seconds`` on (a checkpoint for zero)."""
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        woken = anyio.Event()
        timer = self._at(seconds, woken.set)
        try:
            await woken.wait()
        finally:
            timer.live = False

    @contextlib.contextmanager
    def move_on_after(self, seconds: float) -> Iterator[anyio.CancelScope]:
        """A cancel scope that ends its block once the clock has moved ``seconds`` on."""
        with anyio.CancelScope() as scope:
            timer = self._at(seconds, scope.cancel)
            try:
                yield scope
            finally:
                timer.live = False

    def source(self, wall: datetime = VIRTUAL_EPOCH, *, seed: int = 0) -> TimeSource:
        """A time source on this clock, its wall clock ``wall`` at reading zero."""
        return _virtual_source(self, self.sleep, self.move_on_after, wall, seed)

    async def run(self) -> None:
        """Move the clock whenever every other task waits (run it beside them, cancel it
        when they are done)."""
        while True:
            await _all_tasks_wait()
            while self._timers and not self._timers[0].live:
                heapq.heappop(self._timers)
            if not self._timers:
                # Nothing is due on this clock: someone waits for something else.
                await anyio.sleep(0.001)
                continue
            timer = heapq.heappop(self._timers)
            self.now = max(self.now, timer.at)
            timer.fire()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[SteppingClock]:
        """Drive the clock for the duration of the block."""
        async with anyio.create_task_group() as group:
            group.start_soon(self.run)
            try:
                yield self
            finally:
                group.cancel_scope.cancel()


async def _all_tasks_wait() -> None:
    """Return once no other task can run (every one waits on an event, a lock, a sleep)."""
    loop = asyncio.get_running_loop()
    ready = getattr(loop, "_ready", None)  # asyncio's queue of callbacks due to run now
    if ready is None:
        await anyio.wait_all_tasks_blocked()
        return
    await anyio.lowlevel.checkpoint()
    while ready:
        await anyio.lowlevel.checkpoint()
