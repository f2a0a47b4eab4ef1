"""Resolve the ``dates:`` ranges written relative to today against one anchor date.

The loader keeps ``start: today-7d`` as written; a plan needs dates. Resolving
applies the checks a range of fixed dates gets when it is loaded (end before start,
a step past the end, too many runs), each naming the file, line and key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hexbatch.manifest.errors import KeyPath, ManifestError, ManifestIssue, format_path
from hexbatch.manifest.loader import range_problem, size_problem, step_warning
from hexbatch.manifest.model import (
    DateRange,
    Manifest,
    ProjectSpec,
    RelativeDates,
    SourceLocation,
)


def resolve_dates(manifest: Manifest, as_of: dt.date) -> Manifest:
    """The manifest with every range relative to today resolved as if today were ``as_of``.

    Raises:
        ManifestError: a bound falls outside the years 1 to 9999, a range ends
            before it starts, or a project expands to too many runs.
    """
    issues: list[ManifestIssue] = []
    warnings = list(manifest.warnings)
    projects: list[ProjectSpec] = []
    for spec in manifest.projects:
        written = spec.dates
        if not isinstance(written, RelativeDates):
            projects.append(spec)
            continue
        resolved = _resolve(spec, written, as_of, issues, warnings)
        projects.append(resolved or spec)
    if issues:
        raise ManifestError(sorted(issues, key=lambda issue: (issue.line, issue.column)))
    return dataclasses.replace(manifest, projects=tuple(projects), warnings=tuple(warnings))


def _resolve(
    spec: ProjectSpec,
    written: RelativeDates,
    as_of: dt.date,
    issues: list[ManifestIssue],
    warnings: list[str],
) -> ProjectSpec | None:
    path: KeyPath = ("projects", spec.index, "dates")

    def issue(key: str, message: str) -> ManifestIssue:
        at = written.at.get(key, spec.location)
        return ManifestIssue(at.file, at.line, at.column, format_path((*path, key)), message)

    start, end = written.start.resolve(as_of), written.end.resolve(as_of)
    for key, expression, day in (("start", written.start, start), ("end", written.end, end)):
        if day is None:
            issues.append(issue(key, f"{expression} is outside the years 1 to 9999 as of {as_of}"))
    if start is None or end is None:
        return None
    dates = DateRange(written.param, start, end, written.step, written.format, written)
    resolved = dataclasses.replace(spec, dates=dates)
    problem = range_problem(dates)
    if problem is not None:
        issues.append(issue("end", f"{problem} ({_written(written)}, as of {as_of})"))
        return None
    warning = step_warning(dates)
    if warning is not None:
        at = written.at.get("step", spec.location)
        warnings.append(f"{at.file}:{at.line}: {format_path((*path, 'step'))}: {warning}")
    problem = size_problem(resolved)
    if problem is not None:
        where: SourceLocation = spec.location
        issues.append(
            ManifestIssue(
                where.file,
                where.line,
                where.column,
                format_path(("projects", spec.index)),
                f"{problem} (its dates as of {as_of})",
            )
        )
        return None
    return resolved


def _written(dates: RelativeDates) -> str:
    return f"start {dates.start}, end {dates.end}"
