"""Which projects a manifest's ``select:`` entries chose, as a batch pins it.

A :class:`Selection` is made once, through the API, when a batch starts
(:func:`hexbatch.select.resolve_selection`); the batch stores it, and a resumed
batch plans from the stored one without asking Hex again, so the projects it
runs never change under it. Each entry's choice is found by what the entry
selects with (its ``select:`` and ``skip_if_fresh``), not by its position, so
moving entries around keeps a batch resumable while changing a filter does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from hexbatch.api.models import parse_timestamp
from hexbatch.manifest import Manifest, ProjectSpec
from hexbatch.manifest.errors import format_path
from hexbatch.terminal import escape_control

SELECTION_SCHEMA: Final = "hexbatch.selection/1"

LeftOutKind = Literal["fresh", "unpublished", "archived", "trashed", "component"]


def selection_key(spec: ProjectSpec) -> str:
    """What an entry selects with, as text: equal for entries that choose the same projects."""
    if spec.select is None:
        raise ValueError(f"{format_path(('projects', spec.index))} selects nothing: it has an id")
    written = {"select": spec.select.as_json(), "skip_if_fresh": spec.skip_if_fresh}
    return json.dumps(written, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _where(index: int) -> str:
    return format_path(("projects", index))


def _shown(title: str, project_id: str) -> str:
    # Titles come from Hex and anyone in the workspace sets them: shown as text.
    return f"'{escape_control(title)}' ({project_id})" if title else project_id


def _listed(title: str, project_id: str) -> str:
    return f"{escape_control(title)}  {project_id}" if title else project_id


@dataclass(frozen=True, slots=True)
class SelectedProject:
    """A project an entry chose: it runs with the entry's inputs."""

    id: str
    title: str
    scheduled: bool = False
    """Hex also runs it on an enabled schedule of its own."""

    @property
    def label(self) -> str:
        """Its name in logs and reports: the title, else the id."""
        return self.title or self.id


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A project the filters matched that does not run, and why."""

    id: str
    title: str
    kind: LeftOutKind
    reason: str


@dataclass(frozen=True, slots=True)
class EntrySelection:
    """What one ``select:`` entry chose."""

    key: str
    """The entry's :func:`selection_key`."""
    index: int
    """The entry's position under ``projects`` when the selection was made."""
    projects: tuple[SelectedProject, ...]
    left_out: tuple[LeftOut, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The entry's choice as stored with the batch."""
        return {
            "key": self.key,
            "index": self.index,
            "projects": [
                {"id": p.id, "title": p.title, "scheduled": p.scheduled} for p in self.projects
            ],
            "left_out": [
                {"id": p.id, "title": p.title, "kind": p.kind, "reason": p.reason}
                for p in self.left_out
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EntrySelection:
        """The reverse of :meth:`as_json`."""
        return cls(
            key=str(data["key"]),
            index=int(data["index"]),
            projects=tuple(
                SelectedProject(str(p["id"]), str(p["title"]), bool(p.get("scheduled")))
                for p in data["projects"]
            ),
            left_out=tuple(
                LeftOut(str(p["id"]), str(p["title"]), p["kind"], str(p["reason"]))
                for p in data.get("left_out", ())
            ),
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """The projects every ``select:`` entry of a manifest chose, and when."""

    selected_at: datetime
    entries: tuple[EntrySelection, ...]

    def for_entry(self, spec: ProjectSpec) -> EntrySelection | None:
        """What ``spec`` chose; None when this selection was made without such an entry."""
        key = selection_key(spec)
        return next((entry for entry in self.entries if entry.key == key), None)

    def missing(self, manifest: Manifest) -> list[ProjectSpec]:
        """The manifest's ``select:`` entries this selection has nothing for."""
        return [spec for spec in manifest.selectors if self.for_entry(spec) is None]

    @property
    def project_count(self) -> int:
        """How many different projects were chosen."""
        return len({p.id for entry in self.entries for p in entry.projects})

    def warnings(self, manifest: Manifest) -> list[str]:
        """What a user should hear of: entries that chose nothing (and a selection that chose
        nothing at all), and chosen projects Hex also runs on a schedule of its own."""
        warnings: list[str] = []
        scheduled: dict[str, str] = {}
        for spec in manifest.selectors:
            entry = self.for_entry(spec)
            if entry is None or spec.select is None:
                continue
            where = _where(spec.index)
            if not entry.projects:
                left = f" ({len(entry.left_out)} left out, see the selection)"
                warnings.append(
                    f"{where}: select {{{spec.select.describe()}}} chose no project"
                    f"{left if entry.left_out else ''}"
                )
            for project in entry.projects:
                if project.scheduled and project.id not in scheduled:
                    scheduled[project.id] = (
                        f"{where}: {_shown(project.title, project.id)} has an enabled Hex"
                        " schedule: it will also run on its own schedule"
                    )
        warnings.extend(scheduled.values())
        if manifest.selectors and self.project_count == 0:
            warnings.append(
                "the selection is empty: no select: entry chose a project, so they run nothing"
            )
        return warnings

    def lines(self, manifest: Manifest) -> Iterable[str]:
        """The selection as ``plan`` shows it: per entry, the chosen projects (``+``) and the
        ones left out (``-``) with the reason."""
        for spec in manifest.selectors:
            entry = self.for_entry(spec)
            if entry is None or spec.select is None:
                continue
            count = len(entry.projects)
            yield (
                f"{_where(spec.index)}: {count} project{'' if count == 1 else 's'},"
                f" select {{{spec.select.describe()}}}"
            )
            for project in entry.projects:
                mark = "  (also on a Hex schedule)" if project.scheduled else ""
                yield f"  + {_listed(project.title, project.id)}{mark}"
            for left in entry.left_out:
                yield f"  - {_listed(left.title, left.id)}"
                yield f"      left out: {left.reason}"

    def as_json(self) -> dict[str, Any]:
        """The selection as a batch stores it and ``plan --json`` prints it."""
        return {
            "schema": SELECTION_SCHEMA,
            "selected_at": self.selected_at.isoformat(),
            "entries": [entry.as_json() for entry in self.entries],
        }

    def dumps(self) -> str:
        """:meth:`as_json` as compact JSON text."""
        return json.dumps(self.as_json(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Selection:
        """The reverse of :meth:`as_json`.

        Raises:
            ValueError: not a selection this version reads.
        """
        if data.get("schema") != SELECTION_SCHEMA:
            raise ValueError(f"not a {SELECTION_SCHEMA} document")
        selected_at = parse_timestamp(data.get("selected_at"))
        if selected_at is None:
            raise ValueError("a selection without its time")
        try:
            entries = tuple(EntrySelection.from_json(entry) for entry in data["entries"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"a damaged selection: {error!r}") from error
        return cls(selected_at, entries)

    @classmethod
    def loads(cls, text: str) -> Selection:
        """Read :meth:`dumps`' text.

        Raises:
            ValueError: not JSON, or not a selection this version reads.
        """
        data = json.loads(text)
        if not isinstance(data, Mapping):
            raise ValueError(f"not a {SELECTION_SCHEMA} document")
        return cls.from_json(data)
