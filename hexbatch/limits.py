"""Request and trigger budgets over any number of time windows.

Hex enforces fixed windows that start at the first request (60 requests a
minute; 20 triggers a minute and 60 an hour). A client that only counts per
fixed window of its own can still burst across the server's window boundary,
and a leaky bucket sized ``N per minute`` lets ``N`` through at once and then
more. :class:`WindowLimiter` keeps, per window, the times of the last ``count``
acquisitions and admits a new one only when fewer than ``count`` fall within
the last ``per`` seconds: no interval of length ``per``, however aligned,
ever holds more than ``count``, so no server window can be exceeded.

When the server still answers 429 (another client shares the token, or its
window differs), :meth:`WindowLimiter.penalize` pauses every caller until the
advised time and shrinks the budget; it grows back after a quiet window.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import anyio

from hexbatch.clock import Clock, Sleep, monotonic, real_sleep


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``count`` events in any ``per`` seconds."""

    count: int
    per: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.per <= 0:
            raise ValueError(f"a limit needs count >= 1 and per > 0, got {self.count}/{self.per}s")


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
    """

    def __init__(
        self,
        windows: Iterable[Window],
        *,
        clock: Clock = monotonic,
        sleep: Sleep = real_sleep,
        safety: float = 0.0,
    ) -> None:
        self.windows: tuple[Window, ...] = tuple(windows)
        self._spans = tuple(w.per * (1.0 + safety) for w in self.windows)
        self._history = tuple(deque[float](maxlen=w.count) for w in self.windows)
        self._clock = clock
        self._sleep = sleep
        self._lock = anyio.Lock()
        self._blocked_until = -math.inf
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

    def _allowed(self, window: Window) -> int:
        return max(1, math.floor(window.count * self._scale))

    def delay(self, now: float) -> float:
        """Seconds until one more event may be admitted (0 when it may be now)."""
        if now - self._last_penalty > min(self._spans, default=0.0):
            self._scale = 1.0  # a quiet spell as long as the shortest window: back to full
        wait = self._blocked_until - now
        for window, span, history in zip(self.windows, self._spans, self._history, strict=True):
            allowed = self._allowed(window)
            if len(history) >= allowed:
                oldest_that_counts = history[len(history) - allowed]
                wait = max(wait, span - (now - oldest_that_counts))
        # A hair more than the exact wait, so float rounding can never admit an
        # event a few ulps inside the window.
        return wait + _EPSILON if wait > 0 else 0.0

    async def acquire(self) -> None:
        """Wait until an event is allowed under every window, then record it."""
        async with self._lock:
            while True:
                now = self._clock()
                wait = self.delay(now)
                if wait <= 0:
                    break
                self.waited += wait
                await self._sleep(wait)
            for history in self._history:
                history.append(now)

    def penalize(self, retry_after: float | None) -> None:
        """React to a 429: pause everyone until ``retry_after`` and shrink the budget."""
        now = self._clock()
        pause = retry_after if retry_after is not None else max(self._spans, default=1.0) / 10
        self._blocked_until = max(self._blocked_until, now + pause)
        self._scale = max(_MIN_SCALE, self._scale * _PENALTY_FACTOR)
        self._last_penalty = now
        self.penalties += 1


def limiter(
    windows: Sequence[Window], *, clock: Clock = monotonic, sleep: Sleep = real_sleep
) -> WindowLimiter | None:
    """A limiter for these windows, or None when there are none to respect.

    Each window is stretched by two percent, which absorbs network jitter between
    this machine and Hex.
    """
    if not windows:
        return None
    return WindowLimiter(windows, clock=clock, sleep=sleep, safety=0.02)
