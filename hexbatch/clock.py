"""Time as a dependency: every component that waits takes a clock and a sleep.

Production code uses the event loop's monotonic clock and ``anyio.sleep``;
tests pass a :class:`VirtualClock`, whose ``sleep`` advances time instantly, so
backoff, limits and timeouts are tested in virtual time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def monotonic() -> float:
    """Seconds on a clock that never goes backwards."""
    return time.monotonic()


async def real_sleep(seconds: float) -> None:
    """Sleep for real (a cancellation point even for zero seconds)."""
    await anyio.sleep(max(0.0, seconds))


class VirtualClock:
    """A clock that only moves when someone sleeps on it.

    ``sleep`` advances the time by the requested amount and yields to the event
    loop once, so concurrent tasks still interleave.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward without sleeping."""
        self.now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        """Record the sleep, move time forward, and let other tasks run."""
        self.slept.append(seconds)
        self.advance(seconds)
        await anyio.lowlevel.checkpoint()
