"""Typed views of the Hex API's answers.

Parsing is lenient where Hex has drifted between versions (``projectVersion``
as an int or a string, ``elapsedTime`` null until a run ends, timestamps with
or without fractional seconds, status values added after this was written) and
strict where hexbatch depends on a field: a missing run id or status raises
:class:`~hexbatch.errors.MalformedResponseError` instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hexbatch.errors import MalformedResponseError
from hexbatch.status import is_terminal


def _require_mapping(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise MalformedResponseError(
            f"expected a JSON object for {what}, got {type(data).__name__}"
        )
    return data


def _str(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedResponseError(f"{what} has no usable {key!r}")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def parse_timestamp(value: object) -> datetime | None:
    """Parse Hex's ISO 8601 timestamps (``Z`` or offset); None for null or garbage."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _version(value: object) -> str | None:
    # Hex sent an integer in 2025 and a string ("3", or "draft") in 2026.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        return str(value)
    return None


StateEvents = tuple[dict[str, Any], ...]
"""Hex's ``stateEvents`` items (a run's state changes), each kept verbatim."""


def parse_state_events(value: object) -> StateEvents | None:
    """Hex's ``stateEvents`` as a tuple of its mappings; None when absent or not a list.

    Their vocabulary is not documented, so they are read leniently: items that are
    not mappings cannot be events and are dropped; unknown types and extra keys
    are kept.
    """
    if not isinstance(value, list):
        return None
    return tuple(dict(item) for item in value if isinstance(item, dict))


def _elapsed(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _email(data: Mapping[str, Any], key: str) -> str | None:
    """``creator.email`` or ``owner.email`` (None when absent)."""
    person = data.get(key)
    return _opt_str(person, "email") if isinstance(person, Mapping) else None


def _category_names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = (_opt_str(item, "name") for item in value if isinstance(item, Mapping))
    return tuple(name for name in names if name)


def _any_enabled(value: object) -> bool:
    """Whether any of Hex's ``schedules[]`` is enabled."""
    if not isinstance(value, list):
        return False
    return any(isinstance(item, Mapping) and item.get("enabled") is True for item in value)


@dataclass(frozen=True, slots=True)
class Project:
    """One Hex project as listed by the API."""

    id: str
    title: str
    type: str
    description: str | None
    last_published_at: datetime | None
    last_edited_at: datetime | None
    created_at: datetime | None
    archived: bool
    trashed: bool = False
    status: str | None = None
    """The workspace status's name (``status.name``), if the project has one."""
    categories: tuple[str, ...] = ()
    """The names of its categories."""
    schedules_enabled: bool = False
    """Whether Hex also runs it on a schedule of its own (any enabled ``schedules[]``)."""
    published_results_updated_at: datetime | None = None
    """When what app viewers see was last refreshed (``analytics.publishedResultsUpdatedAt``)."""
    owner: str | None = None
    """The owner's email."""
    creator: str | None = None
    """The creator's email."""

    @property
    def published(self) -> bool:
        """Hex's own rule: a project is published when it has a last-published time."""
        return self.last_published_at is not None

    @classmethod
    def from_json(cls, data: object) -> Project:
        """Build from a ``ProjectApiResource`` body."""
        body = _require_mapping(data, "a project")
        status, analytics = body.get("status"), body.get("analytics")
        return cls(
            id=_str(body, "id", "a project"),
            title=_opt_str(body, "title") or "",
            type=_opt_str(body, "type") or "PROJECT",
            description=_opt_str(body, "description"),
            last_published_at=parse_timestamp(body.get("lastPublishedAt")),
            last_edited_at=parse_timestamp(body.get("lastEditedAt")),
            created_at=parse_timestamp(body.get("createdAt")),
            archived=body.get("archivedAt") is not None,
            trashed=body.get("trashedAt") is not None,
            status=_opt_str(status, "name") if isinstance(status, Mapping) else None,
            categories=_category_names(body.get("categories")),
            schedules_enabled=_any_enabled(body.get("schedules")),
            published_results_updated_at=parse_timestamp(
                analytics.get("publishedResultsUpdatedAt")
                if isinstance(analytics, Mapping)
                else None
            ),
            owner=_email(body, "owner"),
            creator=_email(body, "creator"),
        )


@dataclass(frozen=True, slots=True)
class ProjectsPage:
    """One page of ``ListProjects`` and the cursor to the next one."""

    projects: tuple[Project, ...]
    after: str | None

    @classmethod
    def from_json(cls, data: object) -> ProjectsPage:
        """Build from a ``ProjectsListApiResource`` body."""
        body = _require_mapping(data, "a project list")
        values = body.get("values")
        if not isinstance(values, list):
            raise MalformedResponseError("a project list has no 'values' array")
        pagination = body.get("pagination")
        after = _opt_str(pagination, "after") if isinstance(pagination, Mapping) else None
        return cls(tuple(Project.from_json(item) for item in values), after)


@dataclass(frozen=True, slots=True)
class RunCreated:
    """What ``RunProject`` returns: the new run's id and links."""

    project_id: str
    run_id: str
    run_url: str | None
    run_status_url: str | None
    project_version: str | None
    trace_id: str | None

    @classmethod
    def from_json(cls, data: object) -> RunCreated:
        """Build from a ``ProjectRunResponsePayload`` body."""
        body = _require_mapping(data, "a created run")
        return cls(
            project_id=_str(body, "projectId", "a created run"),
            run_id=_str(body, "runId", "a created run"),
            run_url=_opt_str(body, "runUrl"),
            run_status_url=_opt_str(body, "runStatusUrl"),
            project_version=_version(body.get("projectVersion")),
            trace_id=_opt_str(body, "traceId"),
        )


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run's status as ``GetRunStatus`` or ``GetProjectRuns`` report it.

    Unknown status values are kept verbatim and count as not terminal.
    """

    project_id: str
    run_id: str
    run_url: str | None
    status: str
    start_time: datetime | None
    end_time: datetime | None
    elapsed_ms: float | None
    project_version: str | None
    run_trigger: str | None
    trace_id: str | None
    state_events: StateEvents | None = None
    """The run's state changes, when Hex was asked for expanded stats and sent them."""
    listed: bool = False
    """Read from a run list page (which may leave out what a status read gives)."""

    @property
    def terminal(self) -> bool:
        """True when Hex will not change this run's status any more."""
        return is_terminal(self.status)

    @classmethod
    def from_json(cls, data: object, *, listed: bool = False) -> RunInfo:
        """Build from a ``ProjectStatusResponsePayload`` body (``listed``: a list item)."""
        body = _require_mapping(data, "a run status")
        return cls(
            project_id=_str(body, "projectId", "a run status"),
            run_id=_str(body, "runId", "a run status"),
            run_url=_opt_str(body, "runUrl"),
            status=_str(body, "status", "a run status"),
            start_time=parse_timestamp(body.get("startTime")),
            end_time=parse_timestamp(body.get("endTime")),
            elapsed_ms=_elapsed(body.get("elapsedTime")),
            project_version=_version(body.get("projectVersion")),
            run_trigger=_opt_str(body, "runTrigger"),
            trace_id=_opt_str(body, "traceId"),
            state_events=parse_state_events(body.get("stateEvents")),
            listed=listed,
        )


@dataclass(frozen=True, slots=True)
class RunsPage:
    """One page of ``GetProjectRuns``, newest first."""

    runs: tuple[RunInfo, ...]
    next_page: str | None

    @classmethod
    def from_json(cls, data: object) -> RunsPage:
        """Build from a ``ProjectRunsResponsePayload`` body."""
        body = _require_mapping(data, "a run list")
        runs = body.get("runs")
        if not isinstance(runs, list):
            raise MalformedResponseError("a run list has no 'runs' array")
        listed = tuple(RunInfo.from_json(item, listed=True) for item in runs)
        return cls(listed, _opt_str(body, "nextPage"))
