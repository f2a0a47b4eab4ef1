"""Which published version of each project the batch's runs execute, and re-publishes.

Hex runs a project's latest published version at trigger time, so someone who
re-publishes in the middle of a long backfill splits it across versions. The
first version a project's runs report in a batch is its version for the batch
(a resumed batch takes it from its stored attempts); a run that reports another
one is a change, handled per project by ``on_version_change``:

* ``continue``: recorded (every report shows the versions), nothing else;
* ``warn`` (the default): also logged as a warning, once per new version;
* ``stop``: also no further trigger of the project in this batch: its runs not
  yet triggered end SKIPPED with the reason, and failed runs are not retried,
  for backfills that must be computed by one version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from hexbatch.manifest import ProjectSpec

log = structlog.get_logger("hexbatch.engine")


@dataclass(slots=True)
class VersionWatch:
    """The batch's version of each project, and the projects a change has halted."""

    first: dict[str, str] = field(default_factory=dict)
    """Project id to the version its runs executed first in this batch."""
    seen: dict[str, list[str]] = field(default_factory=dict)
    """Project id to every version its runs reported, in the order first seen."""
    halted: dict[str, str] = field(default_factory=dict)
    """Project id to why no further trigger of it is sent."""

    def seed(self, project: ProjectSpec, version: str | None) -> None:
        """Take a version an earlier process recorded (oldest first), without warning;
        a change it saw still halts a project whose ``on_version_change`` is stop."""
        if version is None:
            return
        first = self.first.setdefault(project.id, version)
        versions = self.seen.setdefault(project.id, [])
        if version not in versions:
            versions.append(version)
        if version != first and project.on_version_change == "stop":
            self._halt(project, first, version)

    def observe(self, project: ProjectSpec, version: str | None) -> None:
        """A run of ``project`` reported ``version``: act on a change as the project says."""
        if version is None:
            return
        first = self.first.setdefault(project.id, version)
        versions = self.seen.setdefault(project.id, [])
        if version in versions:
            return
        versions.append(version)
        if version == first or project.on_version_change == "continue":
            return
        log.warning(
            "project_version_changed",
            project=project.name,
            project_id=project.id,
            first_version=first,
            version=version,
            on_version_change=project.on_version_change,
        )
        if project.on_version_change == "stop":
            self._halt(project, first, version)

    def _halt(self, project: ProjectSpec, first: str, version: str) -> None:
        if project.id not in self.halted:
            self.halted[project.id] = (
                f"the project was re-published during the batch (version {first} -> "
                f"{version}) and on_version_change is stop: not triggered"
            )
