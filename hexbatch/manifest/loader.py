"""``load_manifest``: read a file, parse YAML with positions, expand ``${VAR}``, validate, merge.

Every problem found is reported at once in one :class:`ManifestError`; no other
exception escapes, whatever the file holds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from hexbatch import status
from hexbatch.api.limits import Window
from hexbatch.config import DEFAULT_TOKEN_ENV, manifest_base_url
from hexbatch.manifest.dates import date_count, step_date
from hexbatch.manifest.document import (
    LimitsDoc,
    ManifestDoc,
    NotifyDoc,
    ProjectDoc,
    SettingsDoc,
    WindowDoc,
)
from hexbatch.manifest.envsubst import expand_env
from hexbatch.manifest.errors import (
    KeyPath,
    ManifestError,
    ManifestIssue,
    did_you_mean,
    format_path,
)
from hexbatch.manifest.model import (
    DEFAULT_LIMITS,
    DateRange,
    Limits,
    Manifest,
    Notification,
    PollSettings,
    ProjectSpec,
    RelativeDates,
    RetrySettings,
    RunOptions,
    SourceLocation,
    VersionChange,
)
from hexbatch.manifest.selectors import check_select, entry_name, project_filter
from hexbatch.manifest.translate import translate
from hexbatch.manifest.yamlpos import LoadFailed, YamlDocument, load_yaml

DEFAULT_MAX_IN_FLIGHT = 10
DEFAULT_TIMEOUT = 30 * 60.0
DEFAULT_POLL = PollSettings(initial=2.0, max=30.0, multiplier=1.5)
DEFAULT_RETRIES = RetrySettings(attempts=2, on=frozenset({status.UNABLE_TO_ALLOCATE_KERNEL}))
DEFAULT_RUN = RunOptions(
    update_published_results=False, use_cached_sql_results=True, view_id=None, notifications=()
)
DEFAULT_ON_VERSION_CHANGE: VersionChange = "warn"
DEFAULT_NOTIFY_TIMEOUT = 10.0
# A plan larger than this is almost certainly a mistake (a date range in the wrong century).
MAX_RUNS = 1_000_000
_SAMPLE_DATE = dt.date(2000, 1, 31)


def load_manifest(path: str | Path, env: Mapping[str, str] | None = None) -> Manifest:
    """Load and validate a manifest; raise :class:`ManifestError` listing every problem.

    ``env`` (default ``os.environ``) feeds ``${VAR}`` expansion and the
    ``HEX_API_BASE_URL`` override of ``hex.base_url``.
    """
    environment = os.environ if env is None else env
    file = str(path)
    raw = _read(file)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ManifestError(
            [ManifestIssue(file, 1, 1, "", f"not UTF-8 text (byte {error.start})")]
        ) from None
    try:
        document = load_yaml(text, file, on_string=lambda value: expand_env(value, environment))
    except LoadFailed as failed:
        raise ManifestError(failed.issues) from None
    if not isinstance(document.data, dict):
        kind = (
            "empty" if document.data is None else f"not a mapping ({type(document.data).__name__})"
        )
        raise ManifestError(
            [document.issue((), f"the manifest is {kind}; start with 'version: 1' and 'projects:'")]
        )
    value_issues = list(document.value_issues)
    try:
        parsed = ManifestDoc.model_validate(document.data)
    except ValidationError as error:
        raise ManifestError(_together(value_issues, _issues(document, error))) from None
    except RecursionError:
        raise ManifestError([document.issue((), "the manifest is nested too deeply")]) from None
    try:
        manifest = _build(document, parsed, hashlib.sha256(raw).hexdigest(), environment)
    except ManifestError as error:
        raise ManifestError(_together(value_issues, error.issues)) from None
    if value_issues:
        raise ManifestError(value_issues)
    return manifest


def _together(first: list[ManifestIssue], more: list[ManifestIssue]) -> list[ManifestIssue]:
    """Both lists in file order, without a second complaint about a value already named."""
    named = {(issue.line, issue.path) for issue in first}
    extra = [issue for issue in more if (issue.line, issue.path) not in named]
    return sorted(first + extra, key=lambda issue: (issue.line, issue.column))


def _read(file: str) -> bytes:
    try:
        return Path(file).read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ManifestError(
            [ManifestIssue(file, 1, 1, "", f"cannot read the file: {reason}")]
        ) from None


def _issues(document: YamlDocument, error: ValidationError) -> list[ManifestIssue]:
    issues = []
    for detail in error.errors(include_url=False):
        path, message = translate(ManifestDoc, detail)
        if path == () and message == "'version' is required":
            message = "'version' is required (write 'version: 1' at the top)"
        at_key = detail["type"] == "extra_forbidden"
        issues.append(document.issue(path, message, at_key=at_key))
    return sorted(issues, key=lambda issue: (issue.line, issue.column))


def _windows(windows: list[WindowDoc] | None, default: tuple[Window, ...]) -> tuple[Window, ...]:
    if windows is None:
        return default
    return tuple(Window(window.count, window.per) for window in windows)


def _reserved(
    document: YamlDocument,
    windows: tuple[Window, ...],
    reserve: list[WindowDoc] | None,
    kind: str,
    issues: list[ManifestIssue],
) -> tuple[Window, ...]:
    """The windows with ``reserve`` taken out of the window of the same length."""
    if not reserve:
        return windows
    left: dict[float, int] = {}
    for window in windows:
        left[window.per] = min(window.count, left.get(window.per, window.count))
    for index, kept in enumerate(reserve):
        path: KeyPath = ("limits", "reserve", kind, index)
        if kept.per not in left:
            lengths = ", ".join(f"{per:g}s" for per in left)
            issues.append(
                document.issue(
                    path,
                    f"reserves {kept.count} per {kept.per:g}s, but limits.{kind} has no "
                    f"window of that length to take them from (its windows: {lengths})",
                )
            )
        elif kept.count >= left[kept.per]:
            issues.append(
                document.issue(
                    path,
                    f"reserves {kept.count} of the {left[kept.per]} {kind} per {kept.per:g}s: "
                    "at least one must be left for hexbatch",
                )
            )
        else:
            left[kept.per] -= kept.count
    return tuple(Window(count, per) for per, count in left.items())


class _Settings(NamedTuple):
    """The settings a project inherits from ``defaults`` and may override."""

    timeout: float
    poll: PollSettings
    retries: RetrySettings
    run: RunOptions
    on_version_change: VersionChange


DEFAULT_SETTINGS = _Settings(
    DEFAULT_TIMEOUT, DEFAULT_POLL, DEFAULT_RETRIES, DEFAULT_RUN, DEFAULT_ON_VERSION_CHANGE
)


def _merged_settings(base: _Settings, override: SettingsDoc | None) -> _Settings:
    """Merge a defaults/project settings block key by key over ``base``."""
    if override is None:
        return base
    timeout, poll, retries, run, on_version_change = base
    if override.timeout is not None:
        timeout = override.timeout
    if override.poll is not None:
        poll = PollSettings(
            initial=override.poll.initial if override.poll.initial is not None else poll.initial,
            max=override.poll.max if override.poll.max is not None else poll.max,
            multiplier=override.poll.multiplier or poll.multiplier,
        )
    if override.retries is not None:
        retries = RetrySettings(
            attempts=retries.attempts
            if override.retries.attempts is None
            else override.retries.attempts,
            on=retries.on if override.retries.on is None else frozenset(override.retries.on),
        )
    if override.run is not None:
        given = override.run
        run = RunOptions(
            update_published_results=run.update_published_results
            if given.update_published_results is None
            else given.update_published_results,
            use_cached_sql_results=run.use_cached_sql_results
            if given.use_cached_sql_results is None
            else given.use_cached_sql_results,
            view_id=given.view_id if given.view_id is not None else run.view_id,
            notifications=run.notifications
            if given.notifications is None
            else tuple(n.model_dump(exclude_none=True) for n in given.notifications),
        )
    if override.on_version_change is not None:
        on_version_change = override.on_version_change
    return _Settings(timeout, poll, retries, run, on_version_change)


def _build(
    document: YamlDocument, parsed: ManifestDoc, digest: str, env: Mapping[str, str]
) -> Manifest:
    issues: list[ManifestIssue] = []
    base = _merged_settings(DEFAULT_SETTINGS, parsed.defaults)
    projects = []
    for index, project in enumerate(parsed.projects):
        path: KeyPath = ("projects", index)
        spec = _project_spec(document, base, project, index)
        issues.extend(document.issue(p, m) for p, m in check_select(project, spec, path))
        issues.extend(document.issue(p, m) for p, m in _check_project(project, spec, path))
        projects.append(spec)
    limits = _limits(document, parsed.limits, issues)
    timezone = _timezone(document, parsed, issues)
    if issues:
        raise ManifestError(sorted(issues, key=lambda issue: (issue.line, issue.column)))
    hex_settings = parsed.hex
    base_url = manifest_base_url(hex_settings.base_url if hex_settings else None, env)
    return Manifest(
        source=Path(document.file),
        sha256=digest,
        base_url=base_url,
        token_env=(hex_settings.token_env if hex_settings else None) or DEFAULT_TOKEN_ENV,
        max_in_flight=(parsed.defaults.max_in_flight if parsed.defaults else None)
        or DEFAULT_MAX_IN_FLIGHT,
        limits=limits,
        projects=tuple(projects),
        simulate=_simulate(parsed.simulate, Path(document.file)),
        name=parsed.name or Path(document.file).stem,
        state=parsed.state,
        lease_ttl=parsed.lease_ttl,
        priority=parsed.priority or "normal",
        notify=_notifications(document, parsed.notify or []),
        warnings=_number_warnings(document) + _date_warnings(document, projects),
        timezone=timezone,
    )


def _project_spec(
    document: YamlDocument, base: _Settings, project: ProjectDoc, index: int
) -> ProjectSpec:
    """One ``projects:`` entry with the defaults merged in."""
    path: KeyPath = ("projects", index)
    settings = _merged_settings(base, project)
    line, column = document.position(path)
    select = project_filter(project.select)
    return ProjectSpec(
        id=project.id or "",
        name=entry_name(project, select),
        max_in_flight=project.max_in_flight,
        timeout=settings.timeout,
        poll=settings.poll,
        retries=settings.retries,
        run=settings.run,
        on_version_change=settings.on_version_change,
        params=project.params or {},
        runs=tuple(project.runs) if project.runs is not None else None,
        matrix={key: tuple(values) for key, values in project.matrix.items()}
        if project.matrix is not None
        else None,
        include=tuple(project.include or ()),
        exclude=tuple(project.exclude or ()),
        dates=_date_range(document, project, path),
        index=index,
        location=SourceLocation(document.file, line, column),
        select=select,
        skip_if_fresh=project.skip_if_fresh,
    )


def _limits(
    document: YamlDocument, limits: LimitsDoc | None, issues: list[ManifestIssue]
) -> Limits:
    """The request and trigger budgets, the defaults for windows not written, less any
    reserve (a reserve that does not fit adds to ``issues``)."""
    requests = _windows(limits.requests if limits else None, DEFAULT_LIMITS.requests)
    triggers = _windows(limits.triggers if limits else None, DEFAULT_LIMITS.triggers)
    reserve = limits.reserve if limits else None
    if reserve is not None:
        requests = _reserved(document, requests, reserve.requests, "requests", issues)
        triggers = _reserved(document, triggers, reserve.triggers, "triggers", issues)
    return Limits(requests=requests, triggers=triggers)


def _notifications(document: YamlDocument, entries: list[NotifyDoc]) -> tuple[Notification, ...]:
    notifications = []
    for index, entry in enumerate(entries):
        line, column = document.position(("notify", index))
        location = SourceLocation(document.file, line, column)
        common: dict[str, Any] = {
            "on": frozenset(entry.on or ["finish"]),
            "timeout": entry.timeout or DEFAULT_NOTIFY_TIMEOUT,
            "index": index,
            "location": location,
        }
        if entry.command is not None:
            notifications.append(Notification("command", command=tuple(entry.command), **common))
        elif entry.slack is not None:
            notifications.append(Notification("slack", url=entry.slack, **common))
        elif entry.webhook is not None:
            notifications.append(Notification("webhook", url=entry.webhook, **common))
    return tuple(notifications)


def _date_warnings(document: YamlDocument, projects: list[ProjectSpec]) -> tuple[str, ...]:
    """Warn about a step that jumps from start past end: only the start date runs."""
    warnings = []
    for spec in projects:
        dates = spec.dates
        warning = step_warning(dates) if isinstance(dates, DateRange) else None
        if warning is not None:
            path: KeyPath = ("projects", spec.index, "dates", "step")
            line, _ = document.position(path)
            warnings.append(f"{document.file}:{line}: {format_path(path)}: {warning}")
    return tuple(warnings)


def step_warning(dates: DateRange) -> str | None:
    """Say so when the step jumps from start past end, so that only the start date runs."""
    if dates.end <= dates.start:
        return None
    second = step_date(dates.start, dates.step, 1)
    if second is None or second > dates.end:
        return (
            f"step {dates.step} is longer than the range {dates.start}..{dates.end},"
            f" so only {dates.start} runs"
        )
    return None


def range_problem(dates: DateRange) -> str | None:
    """The range's end before its start: no date would run."""
    if dates.end < dates.start:
        return f"{dates.end} is before start {dates.start}"
    return None


def _timezone(
    document: YamlDocument, parsed: ManifestDoc, issues: list[ManifestIssue]
) -> str | None:
    """The one zone whose date is today for every range (a batch has one today)."""
    chosen: tuple[str, KeyPath] | None = None
    for index, project in enumerate(parsed.projects):
        zone = project.dates.timezone if project.dates is not None else None
        if zone is None:
            continue
        path: KeyPath = ("projects", index, "dates", "timezone")
        if chosen is None:
            chosen = (zone, path)
        elif zone != chosen[0]:
            issues.append(
                document.issue(
                    path,
                    f"{zone} differs from {chosen[0]} ({format_path(chosen[1])}): a batch has"
                    " one today, so every dates.timezone of a manifest must be the same",
                )
            )
    return chosen[0] if chosen is not None else None


_INPUT_KEYS = frozenset({"params", "runs", "matrix", "include", "exclude"})


def _number_warnings(document: YamlDocument) -> tuple[str, ...]:
    """Warn about input values such as ``1.10`` that are sent as another number (``1.1``)."""
    warnings = []
    for number in document.rewritten:
        path = number.path
        if len(path) < 3 or path[0] != "projects" or path[2] not in _INPUT_KEYS:
            continue
        sent = json.dumps(number.value)
        warnings.append(
            f"{document.file}:{number.line}: {format_path(path)}: {number.text} is sent as the"
            f' number {sent}; quote it ("{number.text}") to send the text as written'
        )
    return tuple(warnings)


def _date_range(
    document: YamlDocument, project: ProjectDoc, path: KeyPath
) -> DateRange | RelativeDates | None:
    """The range with fixed dates, or as written when a bound is relative to today."""
    dates = project.dates
    if dates is None:
        return None
    start, end = dates.start.fixed, dates.end.fixed
    if start is not None and end is not None:
        return DateRange(dates.param, start, end, dates.step, dates.format)
    at = {}
    for key in ("start", "end", "step"):
        line, column = document.position((*path, "dates", key))
        at[key] = SourceLocation(document.file, line, column)
    return RelativeDates(dates.param, dates.start, dates.end, dates.step, dates.format, at)


def _simulate(section: dict[str, Any] | None, source: Path) -> dict[str, Any] | None:
    """Keep the ``simulate:`` section as data; resolve a scenario path against the manifest."""
    if section is None:
        return None
    scenario = section.get("scenario")
    if isinstance(scenario, str):
        resolved = Path(scenario)
        if not resolved.is_absolute():
            resolved = source.resolve().parent / resolved
        return {**section, "scenario": str(resolved)}
    return dict(section)


def _check_cells(project: ProjectDoc, path: KeyPath) -> list[tuple[KeyPath, str]]:
    """matrix, include and exclude together: where they are written, what they name."""
    problems: list[tuple[KeyPath, str]] = []
    matrix = project.matrix or {}
    problems.extend(
        ((*path, "matrix", key), f"write {key} beside matrix, at the project level")
        for key in ("include", "exclude")
        if key in matrix
    )
    cell_keys = set(matrix) | {key for run in project.runs or () for key in run}
    for position, entry in enumerate(project.exclude or ()):
        if not cell_keys:
            problems.append(((*path, "exclude"), "exclude needs runs or a matrix to exclude from"))
            break
        problems.extend(_check_exclude(entry, cell_keys, (*path, "exclude", position)))
    for position, entry in enumerate(project.include or ()):
        if not entry:
            problems.append(((*path, "include", position), "is empty (it adds nothing)"))
    return problems


def _check_exclude(
    entry: Mapping[str, Any], cell_keys: set[str], path: KeyPath
) -> list[tuple[KeyPath, str]]:
    """One exclude entry: not empty, and only keys the runs or the matrix have."""
    problems: list[tuple[KeyPath, str]] = []
    if not entry:
        problems.append((path, "is empty (it would exclude everything)"))
    for key in entry:
        if key not in cell_keys:
            hint = did_you_mean(key, cell_keys)
            problems.append(((*path, key), f"{key!r} is not a key of runs or matrix{hint}"))
    return problems


def _check_dates(
    spec: ProjectSpec, matrix: Mapping[str, Any], path: KeyPath
) -> list[tuple[KeyPath, str]]:
    """A project's dates: a range that ends after it starts, its own parameter, a format."""
    dates = spec.dates
    if dates is None:
        return []
    problems: list[tuple[KeyPath, str]] = []
    problem = range_problem(dates) if isinstance(dates, DateRange) else None
    if problem is not None:
        problems.append(((*path, "dates", "end"), problem))
    if dates.param in matrix:
        problems.append(((*path, "dates", "param"), f"{dates.param!r} is also a matrix key"))
    # A range relative to today has no dates yet: any date shows a broken format.
    sample = dates.start if isinstance(dates, DateRange) else _SAMPLE_DATE
    try:
        sample.strftime(dates.format)
    except ValueError as error:
        problems.append(((*path, "dates", "format"), f"not a date format: {error}"))
    return problems


def _check_run(project: ProjectDoc, spec: ProjectSpec, path: KeyPath) -> list[tuple[KeyPath, str]]:
    """Polling and run options that contradict each other or the inputs."""
    problems: list[tuple[KeyPath, str]] = []
    if spec.poll.initial > spec.poll.max:
        problems.append(
            ((*path, "poll"), f"initial {spec.poll.initial:g}s is above max {spec.poll.max:g}s")
        )
    if spec.run.view_id is not None and spec.has_inputs:
        problems.append(
            (
                _inputs_path(project, path),
                "view_id runs a saved view with its own inputs; it cannot be combined with"
                " params, runs, matrix, include or dates (Hex refuses both at once)",
            )
        )
    elif spec.run.update_published_results and spec.has_inputs:
        problems.append(
            (
                _inputs_path(project, path),
                "update_published_results: true cannot be combined with input parameters"
                " (Hex refuses it); drop the parameters or set update_published_results: false",
            )
        )
    return problems


def _check_project(
    project: ProjectDoc, spec: ProjectSpec, path: KeyPath
) -> list[tuple[KeyPath, str]]:
    """Rules that span several keys of one project entry."""
    problems = [
        *_check_cells(project, path),
        *_check_dates(spec, project.matrix or {}, path),
        *_check_run(project, spec, path),
    ]
    problems.extend(_check_params(project, path))
    problem = size_problem(spec)
    if problem is not None:
        problems.append((path, problem))
    return problems


def _inputs_path(project: ProjectDoc, path: KeyPath) -> KeyPath:
    for key in ("params", "runs", "matrix", "include", "dates"):
        if getattr(project, key):
            return (*path, key)
    return path  # pragma: no cover - only called when some input exists


def _check_params(project: ProjectDoc, path: KeyPath) -> list[tuple[KeyPath, str]]:
    """Refuse numbers JSON cannot carry (NaN, infinity) anywhere in the parameters."""
    problems: list[tuple[KeyPath, str]] = []

    def visit(value: Any, where: KeyPath) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            problems.append((where, f"{value} cannot be sent to Hex (not a finite number)"))
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, (*where, key))
        elif isinstance(value, list):
            for position, item in enumerate(value):
                visit(item, (*where, position))

    for key in ("params", "runs", "matrix", "include"):
        visit(getattr(project, key), (*path, key))
    return problems


def size_problem(spec: ProjectSpec) -> str | None:
    """Refuse a project that expands to more runs than a plan holds (a range relative to
    today counts once here: its dates are only known when the plan resolves it)."""
    size = len(spec.runs) if spec.runs is not None else 1
    if spec.matrix:
        size *= math.prod(len(values) for values in spec.matrix.values())
    size += len(spec.include)
    if isinstance(spec.dates, DateRange):
        size *= max(date_count(spec.dates), 1)
    if size > MAX_RUNS:
        return f"expands to {size:,} runs; a plan holds at most {MAX_RUNS:,}"
    return None
