"""Simulator time: an injectable monotonic clock, a time scale and wall-clock stamps.

Everything inside the simulator is measured on one monotonic clock (a callable
returning seconds; ``time.monotonic`` by default, a fake in tests). Scenario
durations are scaled to that clock once, and wall-clock timestamps in responses
are derived from it, so ``startTime``/``endTime``/``elapsedTime`` agree with each
other and with what a client measures, even under a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hexbatch.outcome import iso

Clock = Callable[[], float]


class SimClock:
    """The simulator's notion of now, in real (clock) seconds, plus scaling helpers."""

    def __init__(
        self, time_scale: float, clock: Clock | None = None, *, wall: datetime | None = None
    ) -> None:
        """Anchor the clock to ``wall`` (default: the current wall time); ``time_scale``
        scales scenario seconds."""
        self._clock = clock or time.monotonic
        self.time_scale = time_scale
        self._anchor = self._clock()
        self._wall_anchor = wall or datetime.now(UTC)

    def now(self) -> float:
        """Current clock reading in seconds."""
        return self._clock()

    @property
    def started(self) -> float:
        """The clock reading when the simulator started: scenario time zero."""
        return self._anchor

    def at(self, scenario_seconds: float) -> float:
        """The clock reading ``scenario_seconds`` after the simulator started."""
        return self._anchor + self.scaled(scenario_seconds)

    def scaled(self, scenario_seconds: float) -> float:
        """Real seconds that a scenario duration lasts."""
        return scenario_seconds * self.time_scale

    def wall(self, moment: float) -> datetime:
        """The wall-clock time of a clock reading."""
        return self._wall_anchor + timedelta(seconds=moment - self._anchor)

    def stamp(self, moment: float | None) -> str | None:
        """ISO 8601 with milliseconds and ``Z`` for a clock reading (None stays None)."""
        if moment is None:
            return None
        return iso(self.wall(moment))
