"""From a manifest to the exact, ordered list of runs, each with a deterministic key.

Expansion of one project (the order runs are listed, triggered and reported in):
the cells are each ``runs`` entry (or one empty set) crossed with each matrix
combination (or one empty set), the matrix varying fastest; ``exclude`` and
``include`` then act on those cells like GitHub Actions' matrix: ``exclude``
drops every cell that matches all of an entry's pairs (a partial match); each
``include`` entry is then added to every remaining cell it does not contradict
on the cell's original keys (keys it adds may be overwritten by later
includes), and becomes a cell of its own when it fits none. Each cell finally
runs once per date (or once without dates): ``params``, then the cell, then the
date parameter, later values winning on equal keys. A ``select:`` entry runs these
same parameter sets once per project its selection chose (:mod:`hexbatch.selection`),
in the selection's order.

A run key is the first 20 hex digits of
``sha256(project_id + "\\n" + canonical JSON of params)``, where canonical JSON
has sorted keys, no whitespace and ASCII escapes: the same in every process,
on every machine, whatever the dict order. The plan hash is the sha256 of the
run keys *sorted*: moving project entries around keeps it, so an unfinished
batch can still be resumed; adding, removing or changing a run changes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hexbatch.manifest import ManifestError, ManifestIssue
from hexbatch.manifest.dates import range_dates
from hexbatch.manifest.errors import format_path
from hexbatch.manifest.model import DateRange, Manifest, ProjectSpec
from hexbatch.manifest.relative import local_today
from hexbatch.manifest.resolve import resolve_dates
from hexbatch.outcome import PlannedRun
from hexbatch.selection import Selection

PLAN_SCHEMA = "hexbatch.plan/1"
KEY_LENGTH = 20
# Params are sent with every trigger and kept in the state store: past these sizes
# (of their canonical JSON) a plan is probably multiplying a big value by mistake.
PARAMS_WARN_TOTAL_BYTES = 10_000_000
PARAMS_WARN_RUN_BYTES = 1_000_000


def canonical_json(value: Any) -> str:
    """Serialise JSON-able data the one way keys are computed from (sorted, compact, ASCII)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def run_key(project_id: str, params: Mapping[str, Any]) -> str:
    """Return the deterministic key of one run of a project with these parameters."""
    return _key(project_id, canonical_json(params))


def _key(project_id: str, params_json: str) -> str:
    text = f"{project_id.lower()}\n{params_json}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:KEY_LENGTH]


def plan_hash(keys: Iterable[str]) -> str:
    """The hash of a plan: of its run keys *sorted*, so reordering entries keeps it.

    A run key already covers the project id and every parameter sent, so the
    hash changes exactly when a run is added, removed or sent differently.
    """
    return hashlib.sha256("\n".join(sorted(keys)).encode("ascii")).hexdigest()


def _ordered_hash(keys: Iterable[str]) -> str:
    """The plan hash hexbatch 0.1.0 stored: of the keys in plan order."""
    return hashlib.sha256("\n".join(keys).encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One planned run: its key, its project, the input parameters sent, and its plan position."""

    key: str
    project: ProjectSpec
    params: Mapping[str, Any]
    index: int

    @property
    def project_id(self) -> str:
        """The Hex project id."""
        return self.project.id

    @property
    def project_name(self) -> str:
        """The project's label in logs and reports."""
        return self.project.name

    @property
    def planned(self) -> PlannedRun:
        """The run's identity, as the state store keeps it and the report shows it."""
        return PlannedRun(
            self.key, self.project.id, self.project.name, dict(self.params), self.index
        )

    def as_json(self) -> dict[str, Any]:
        """The run as it appears in ``hexbatch plan --json``."""
        return {
            "key": self.key,
            "project_id": self.project.id,
            "project": self.project.name,
            "params": dict(self.params),
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """The runs a manifest expands to, in order, with a hash of their keys and any warnings."""

    manifest: Manifest
    items: tuple[RunSpec, ...]
    plan_hash: str
    warnings: tuple[str, ...]
    as_of: dt.date | None = None
    """The today its ``dates:`` ranges relative to today were resolved against (None when
    no range depends on today)."""
    selection: Selection | None = None
    """The projects its ``select:`` entries run for (None: not known yet, or no such entry)."""

    @property
    def unselected(self) -> bool:
        """True when ``select:`` entries have no selection yet: their runs are missing."""
        return bool(self.manifest.selectors) and self.selection is None

    def __len__(self) -> int:
        return len(self.items)

    def matches(self, stored_hash: str) -> bool:
        """Tell whether a batch stored with ``stored_hash`` was planned with these same runs.

        The order of the runs does not matter; a hash stored by hexbatch 0.1.0
        (which hashed the keys in order) matches when the order is unchanged too.
        """
        keys = (item.key for item in self.items)
        return stored_hash in (self.plan_hash, _ordered_hash(keys))

    def counts(self) -> dict[int, int]:
        """Runs per project entry, keyed by the entry's index under ``projects``."""
        return dict(Counter(item.project.index for item in self.items))

    def as_json(self) -> dict[str, Any]:
        """The plan as ``hexbatch plan --json`` prints it (schema ``hexbatch.plan/1``)."""
        return {
            "schema": PLAN_SCHEMA,
            "manifest": str(self.manifest.source),
            "plan_hash": self.plan_hash,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "dates": [_dates_json(project) for project in self.manifest.projects if project.dates],
            "warnings": list(self.warnings),
            "runs": [item.as_json() for item in self.items],
            **self._selection_json(),
        }

    def _selection_json(self) -> dict[str, Any]:
        """``selection`` for a manifest with ``select:`` entries (null until it is made)."""
        if not self.manifest.selectors:
            return {}
        return {"selection": None if self.selection is None else self.selection.as_json()}


def _dates_json(project: ProjectSpec) -> dict[str, Any]:
    """A project's resolved date range, and how its bounds were written."""
    dates = project.dates
    if not isinstance(dates, DateRange):
        raise TypeError(f"{project.name}: a plan holds resolved date ranges only")
    written = dates.written or dates
    return {
        "project": project.name,
        "index": project.index,
        "param": dates.param,
        "start": dates.start.isoformat(),
        "end": dates.end.isoformat(),
        "step": str(dates.step),
        "written": {"start": str(written.start), "end": str(written.end)},
    }


def _same(left: Any, right: Any) -> bool:
    """Compare YAML values the way JSON would (so ``1`` and ``true`` differ)."""
    return canonical_json(left) == canonical_json(right)


def _matches(combination: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    return all(
        key in combination and _same(combination[key], value) for key, value in entry.items()
    )


def combinations(
    runs: Sequence[Mapping[str, Any]] | None,
    matrix: Mapping[str, Sequence[Any]] | None,
    include: Sequence[Mapping[str, Any]] = (),
    exclude: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Cross ``runs`` with the matrix, then apply GitHub-Actions-like ``exclude`` and ``include``.

    The keys a cell got from its run entry and its matrix values are its
    original keys: an include never changes them, only matches on them.
    """
    keys = list(matrix or {})
    cells: list[tuple[dict[str, Any], frozenset[str]]] = []
    if runs is not None or matrix:
        for run in runs if runs is not None else ({},):
            for values in itertools.product(*(matrix[key] for key in keys) if matrix else ()):
                cell = {**run, **dict(zip(keys, values, strict=True))}
                if not any(_matches(cell, entry) for entry in exclude):
                    cells.append((cell, frozenset(cell)))
    added: list[dict[str, Any]] = []
    for entry in include:
        fitted = False
        for cell, original in cells:
            if _matches(cell, {key: value for key, value in entry.items() if key in original}):
                cell.update(entry)
                fitted = True
        if not fitted:
            added.append(dict(entry))
    return [cell for cell, _ in cells] + added


def matrix_combinations(
    matrix: Mapping[str, Sequence[Any]] | None,
    include: Sequence[Mapping[str, Any]] = (),
    exclude: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Expand a matrix alone with GitHub-Actions-like ``exclude`` and ``include``."""
    return combinations(None, matrix, include, exclude)


def date_values(dates: DateRange) -> list[str]:
    """Render every date of the range, ``start`` to ``end`` inclusive, with its format."""
    return [day.strftime(dates.format) for day in range_dates(dates)]


def expand_project(project: ProjectSpec) -> Iterator[dict[str, Any]]:
    """Yield the parameter sets of one project in plan order (duplicates included)."""
    if project.runs is None and not project.matrix and not project.include:
        cells: Sequence[Mapping[str, Any]] = ({},)
    else:
        cells = combinations(project.runs, project.matrix, project.include, project.exclude)
    if project.dates is not None and not isinstance(project.dates, DateRange):
        raise TypeError(f"{project.name}: its dates are relative to today; resolve them first")
    dates: Sequence[str | None] = (
        date_values(project.dates) if project.dates is not None else (None,)
    )
    date_param = project.dates.param if project.dates is not None else ""
    for cell in cells:
        base = {**project.params, **cell}
        for day in dates:
            yield base if day is None else {**base, date_param: day}


def selected_projects(entry: ProjectSpec, selection: Selection | None) -> list[ProjectSpec]:
    """The projects an entry runs: itself when it names an id, else one spec per project its
    selection chose (none while there is no selection).

    Raises:
        ValueError: ``selection`` was made without this entry.
    """
    if entry.select is None:
        return [entry]
    if selection is None:
        return []
    chosen = selection.for_entry(entry)
    if chosen is None:
        where = format_path(("projects", entry.index))
        raise ValueError(f"the selection has nothing for {where}")
    return [replace(entry, id=project.id, name=project.label) for project in chosen.projects]


def build_plan(
    manifest: Manifest, as_of: dt.date | None = None, *, selection: Selection | None = None
) -> Plan:
    """Expand every project into runs; raise ManifestError if a project expands to nothing.

    ``dates:`` ranges relative to today are resolved as if today were ``as_of``
    (default: today's date in the manifest's ``dates.timezone``, else on this machine),
    with the checks a range of fixed dates gets when it is loaded. A ``select:`` entry
    runs once per project ``selection`` chose for it (its inputs alike for each); without
    a selection it plans no run yet (:attr:`Plan.unselected`).
    """
    anchor = None
    if manifest.relative_dates:
        anchor = as_of or local_today(dt.datetime.now(dt.UTC), manifest.timezone)
        manifest = resolve_dates(manifest, anchor)
    runs = _Runs()
    warnings: list[str] = list(manifest.warnings)
    issues: list[ManifestIssue] = []
    for entry in manifest.projects:
        # The inputs do not depend on the project: expanded once for every one selected.
        cells = list(expand_project(entry))
        chosen = selected_projects(entry, selection)
        duplicates = sum(not runs.add(project, params) for project in chosen for params in cells)
        where = format_path(("projects", entry.index))
        if not cells:
            issues.append(_no_runs(entry, where))
        elif duplicates:
            warnings.append(
                f"{where} ({entry.name}): {duplicates} duplicate run(s) collapsed into one"
            )
    if issues:
        raise ManifestError(issues)
    warnings.extend(_size_warnings(runs.total_bytes, *runs.largest))
    if selection is not None:
        warnings.extend(selection.warnings(manifest))
    keys = plan_hash(item.key for item in runs.items)
    return Plan(
        manifest,
        tuple(runs.items),
        keys,
        tuple(warnings),
        anchor,
        selection if manifest.selectors else None,
    )


@dataclass
class _Runs:
    """The plan's runs as they are expanded: one per key, and the size of their params."""

    items: list[RunSpec] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    total_bytes: int = 0
    largest: tuple[int, RunSpec | None] = (0, None)

    def add(self, project: ProjectSpec, params: dict[str, Any]) -> bool:
        """Add the run of ``project`` with ``params``; False when the plan already has it."""
        params_json = canonical_json(params)
        key = _key(project.id, params_json)
        if key in self.keys:
            return False
        self.keys.add(key)
        item = RunSpec(key, project, params, len(self.items))
        self.items.append(item)
        self.total_bytes += len(params_json)
        if len(params_json) > self.largest[0]:
            self.largest = (len(params_json), item)
        return True


def _no_runs(entry: ProjectSpec, where: str) -> ManifestIssue:
    location = entry.location
    return ManifestIssue(
        location.file,
        location.line,
        location.column,
        where,
        "expands to no runs (every matrix combination is excluded)",
    )


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _size_warnings(total: int, largest: int, item: RunSpec | None) -> list[str]:
    """Warn when the params are big enough to slow every trigger and swell the state store."""
    warnings = []
    if item is not None and largest > PARAMS_WARN_RUN_BYTES:
        where = format_path(("projects", item.project.index))
        warnings.append(
            f"{where} ({item.project.name}): run {item.key} sends {_megabytes(largest)} of"
            f" params (over {_megabytes(PARAMS_WARN_RUN_BYTES)}); each trigger sends them"
            " and the state store keeps them"
        )
    if total > PARAMS_WARN_TOTAL_BYTES:
        warnings.append(
            f"the plan's params add up to {_megabytes(total)}"
            f" (over {_megabytes(PARAMS_WARN_TOTAL_BYTES)}): every trigger sends its run's"
            " params and the state store keeps them all; is a large value multiplied by a"
            " matrix or a date range?"
        )
    return warnings
