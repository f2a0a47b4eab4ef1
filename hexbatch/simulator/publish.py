"""Published versions over time: the scenario's re-publications and those made while serving.

A run uses the version published when it was created. Each project's versions are
kept as dated publications, so the version at any moment is known even for a run
materialized later (a scheduled run due before a re-publication keeps the old one).
"""

from __future__ import annotations

import bisect

from hexbatch.simulator.clock import SimClock
from hexbatch.simulator.scenario import Scenario, fold_versions


class Publications:
    """Each project's re-publications as (clock reading, version or None for +1)."""

    def __init__(self, scenario: Scenario, clock: SimClock) -> None:
        """Date the scenario's re-publications on ``clock``."""
        self._base = {project.id.lower(): project.version for project in scenario.projects}
        self._events: dict[str, list[tuple[float, int | None]]] = {
            project.id.lower(): [
                (clock.at(entry.at), entry.version) for entry in project.republications
            ]
            for project in scenario.projects
        }

    def version_at(self, project_id: str, moment: float) -> int:
        """The version a run of the project created at ``moment`` uses."""
        key = project_id.lower()
        events = self._events.get(key, [])
        due = events[: self._due(events, moment)]
        versions = fold_versions(self._base[key], (version for _, version in due))
        return versions[-1] if versions else self._base[key]

    def published_at(self, project_id: str, moment: float) -> float | None:
        """When the project was last re-published by ``moment`` (None: not since start)."""
        events = self._events.get(project_id.lower(), [])
        count = self._due(events, moment)
        return events[count - 1][0] if count else None

    def publish(self, project_id: str, now: float, version: int | None) -> int:
        """Re-publish now (``version`` or the current one plus one) and return the version.

        ValueError when the version would not move forward, now or against a later
        re-publication the scenario already holds; nothing changes then.
        """
        key = project_id.lower()
        events = self._events[key]
        at = self._due(events, now)
        changed = [*events[:at], (now, version), *events[at:]]
        fold_versions(self._base[key], (given for _, given in changed))
        self._events[key] = changed
        return self.version_at(key, now)

    @staticmethod
    def _due(events: list[tuple[float, int | None]], moment: float) -> int:
        """How many of ``events`` happened at or before ``moment``."""
        return bisect.bisect_right(events, moment, key=lambda event: event[0])
