"""Fixed-window rate limits per token user, as Hex describes them.

A window opens at the first request and lasts ``per`` scenario seconds (scaled);
once ``count`` requests were admitted in it, further requests get 429 until it
closes. Every request counts against the general windows; RunProject also counts
against its own. A refused request consumes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hexbatch.simulator.clock import SimClock
from hexbatch.simulator.scenario import Limits, ResetStyle, Window


@dataclass(slots=True)
class _Counter:
    opened_at: float
    used: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may proceed, and the figures for X-RateLimit-* headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float

    def headers(
        self, *, reset_as: ResetStyle = "seconds", retry_after: bool = True, epoch_now: float = 0.0
    ) -> dict[str, str]:
        """``X-RateLimit-*`` headers, plus ``Retry-After`` when refused (whole seconds).

        ``reset_as`` chooses how X-RateLimit-Reset reads: seconds until the window
        opens again, or the moment it does as Unix epoch seconds or milliseconds
        (``epoch_now`` is the current wall time in epoch seconds).
        """
        wait = max(1, math.ceil(self.reset_after))
        if reset_as == "epoch_seconds":
            reset = str(math.ceil(epoch_now + self.reset_after))
        elif reset_as == "epoch_ms":
            reset = str(math.ceil((epoch_now + self.reset_after) * 1000))
        else:
            reset = str(wait)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": reset,
        }
        if not self.allowed and retry_after:
            headers["Retry-After"] = str(wait)
        return headers


class RateLimiter:
    """Fixed windows per (user, window); thread-unsafe, like the event loop it runs in."""

    def __init__(self, limits: Limits, clock: SimClock) -> None:
        """Scale the windows of ``limits`` with the clock's time scale."""
        self._clock = clock
        self._general = list(limits.requests)
        self._run_project = list(limits.run_project)
        self._counters: dict[tuple[str, str, int], _Counter] = {}

    def admit(self, user: str, operation: str) -> Decision:
        """Count a request of ``user`` if every window has room; otherwise refuse it."""
        now = self._clock.now()
        windows = [("requests", i, w) for i, w in enumerate(self._general)]
        if operation == "RunProject":
            windows += [("run_project", i, w) for i, w in enumerate(self._run_project)]
        states = [(w, self._counter(user, group, i, w, now)) for group, i, w in windows]
        full = [(w, c) for w, c in states if c.used >= w.count]
        if full:
            window, counter = max(full, key=lambda wc: self._reset_after(wc[0], wc[1], now))
            return Decision(False, window.count, 0, self._reset_after(window, counter, now))
        for _, counter in states:
            counter.used += 1
        window, counter = min(states, key=lambda wc: wc[0].count - wc[1].used)
        return Decision(
            True, window.count, window.count - counter.used, self._reset_after(window, counter, now)
        )

    def _counter(self, user: str, group: str, index: int, window: Window, now: float) -> _Counter:
        key = (user, group, index)
        counter = self._counters.get(key)
        if counter is None or now >= counter.opened_at + self._clock.scaled(window.per):
            counter = self._counters[key] = _Counter(opened_at=now)
        return counter

    def _reset_after(self, window: Window, counter: _Counter, now: float) -> float:
        return max(0.0, counter.opened_at + self._clock.scaled(window.per) - now)
