"""Choose the projects of a manifest's ``select:`` entries through ListProjects.

Each distinct set of Hex filters is listed once (entries that differ only in
their title glob, inputs or ``skip_if_fresh`` share the listing). A listed
project is chosen when it meets every filter (checked again here: see
:mod:`hexbatch.api.filters`) and can run; the others the filters matched are left
out, each with its reason:

- in the trash, or archived: Hex lists neither unless asked to, and runs neither;
- a component: components are not run, they are used inside projects;
- never published: only a published version can be run (the preflight check would
  refuse it and stop the whole batch, so it is left out here instead);
- ``skip_if_fresh``: its published results were updated less than that long ago.

A chosen project that Hex also runs on an enabled schedule of its own is marked,
so the plan and the batch warn that it will run twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog

from hexbatch.api.client import HexClient
from hexbatch.api.filters import ProjectFilter
from hexbatch.api.models import Project
from hexbatch.manifest import Manifest, ProjectSpec
from hexbatch.manifest.errors import format_path
from hexbatch.selection import (
    EntrySelection,
    LeftOut,
    LeftOutKind,
    SelectedProject,
    Selection,
    selection_key,
)

log = structlog.get_logger("hexbatch.select")


def _duration(seconds: float) -> str:
    """``2d3h``, ``6h``, ``45m``, ``30s``: the two largest units of a duration."""
    left = int(max(seconds, 0))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts[:2])


def _left_out(project: Project, spec: ProjectSpec, now: datetime) -> LeftOut | None:
    """Why a project the filters matched does not run (None: it runs)."""

    def out(kind: LeftOutKind, reason: str) -> LeftOut:
        return LeftOut(project.id.lower(), project.title, kind, reason)

    if project.trashed:
        return out("trashed", "in the trash")
    if project.archived:
        return out("archived", "archived")
    if project.type == "COMPONENT":
        return out("component", "a component (components are not run on their own)")
    if not project.published:
        return out("unpublished", "never published (only a published version can be run)")
    updated = project.published_results_updated_at
    if spec.skip_if_fresh is not None and updated is not None:
        age = (now - updated).total_seconds()
        if age < spec.skip_if_fresh:
            return out(
                "fresh",
                f"published results updated {_duration(age)} ago, within skip_if_fresh"
                f" {_duration(spec.skip_if_fresh)}",
            )
    return None


def choose(spec: ProjectSpec, listed: Sequence[Project], now: datetime) -> EntrySelection:
    """What one ``select:`` entry chooses among the projects Hex listed for its filters."""
    wanted = spec.select or ProjectFilter()
    where = format_path(("projects", spec.index))
    chosen: dict[str, SelectedProject] = {}
    left_out: list[LeftOut] = []
    unasked = 0
    for project in listed:
        if not wanted.matches(project):
            unasked += not wanted.api().matches(project)
            continue
        reason = _left_out(project, spec, now)
        if reason is not None:
            left_out.append(reason)
            continue
        project_id = project.id.lower()
        chosen[project_id] = SelectedProject(project_id, project.title, project.schedules_enabled)
    if unasked:
        # A host that ignores a filter answers with more than asked for: never run those.
        log.warning(
            "selection_filter_not_applied",
            entry=where,
            left_out=unasked,
            filters=wanted.api().describe(),
        )
    projects = sorted(chosen.values(), key=lambda p: (p.title.casefold(), p.id))
    left_out.sort(key=lambda p: (p.kind, p.title.casefold(), p.id))
    return EntrySelection(selection_key(spec), spec.index, tuple(projects), tuple(left_out))


async def resolve_selection(client: HexClient, manifest: Manifest, *, now: datetime) -> Selection:
    """Ask Hex which projects the manifest's ``select:`` entries choose, as of ``now``."""
    listings: dict[ProjectFilter, list[Project]] = {}
    entries: dict[str, EntrySelection] = {}
    for spec in manifest.selectors:
        key = selection_key(spec)
        if key in entries or spec.select is None:
            continue
        api = spec.select.api()
        if api not in listings:
            listings[api] = await client.list_projects(filters=api)
        entries[key] = entry = choose(spec, listings[api], now)
        log.info(
            "projects_selected",
            entry=format_path(("projects", spec.index)),
            select=spec.select.describe(),
            chosen=len(entry.projects),
            left_out=len(entry.left_out),
        )
        for left in entry.left_out:
            log.info(
                "project_left_out",
                entry=format_path(("projects", spec.index)),
                project_id=left.id,
                project=left.title,
                reason=left.reason,
            )
    return Selection(now, tuple(entries.values()))
