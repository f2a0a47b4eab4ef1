"""Fault injection: decides, per request, which of the scenario's faults fire.

Each fault counts the requests of its operation; ``every_nth`` fires on the Nth,
2Nth, ... of them, ``probability`` draws from a generator seeded by the scenario,
and ``max_times`` caps how often a fault fires at all.
"""

from __future__ import annotations

import random

from hexbatch.simulator.scenario import Fault


class FaultInjector:
    """Chooses the faults for each request, deterministically under the seed."""

    def __init__(self, faults: list[Fault], seed: int) -> None:
        """Prepare counters for each fault of the scenario."""
        self._faults = list(faults)
        self._random = random.Random(seed)
        self._seen = [0] * len(self._faults)
        self._fired = [0] * len(self._faults)

    def pick(self, operation: str) -> list[Fault]:
        """The faults that fire for this request of ``operation``."""
        firing = []
        for index, fault in enumerate(self._faults):
            if fault.operation not in ("*", operation):
                continue
            self._seen[index] += 1
            if fault.max_times is not None and self._fired[index] >= fault.max_times:
                continue
            if fault.every_nth is not None:
                fires = self._seen[index] % fault.every_nth == 0
            else:
                fires = self._random.random() < (fault.probability or 0.0)
            if fires:
                self._fired[index] += 1
                firing.append(fault)
        return firing
