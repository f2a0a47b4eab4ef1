"""Response bodies in Hex's shapes (hex-openapi.json), built from simulator state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hexbatch import status as st
from hexbatch.simulator.clock import SimClock
from hexbatch.simulator.runs import Run
from hexbatch.simulator.scenario import Project, Schedule

# Operations whose errors use the newer {message, code, issues} envelope when the
# scenario asks for it; ListProjects and CancelRun kept tsoa's (hex-api.md §5).
NEW_ENVELOPE_OPERATIONS = frozenset({"GetProject", "RunProject", "GetRunStatus", "GetProjectRuns"})
_CODES = {
    400: ("BAD_REQUEST", "Invalid input data"),
    401: ("UNAUTHORIZED", "Authorization not provided"),
    403: ("FORBIDDEN", "Insufficient access"),
    404: ("NOT_FOUND", "Not found"),
    422: ("UNPROCESSABLE_CONTENT", "Unprocessable content"),
    500: ("INTERNAL_SERVER_ERROR", "Internal server error"),
    503: ("SERVICE_UNAVAILABLE", "Service unavailable"),
}


@dataclass(frozen=True, slots=True)
class RunStyle:
    """How run payloads look: today's shapes by default, the May 2025 ones on request."""

    version_as_string: bool = True
    """``projectVersion`` as text (2026 samples) rather than an integer (2025 spec)."""
    run_trigger: bool = True
    """Whether run payloads carry ``runTrigger`` (the 2025 spec has no such field)."""
    state_events: bool = False
    """Whether status payloads carry ``stateEvents`` and ``flagConfigOverride``."""
    extra_state_events: bool = False
    """Add an event of a type clients do not know (KERNEL) between PENDING and RUNNING."""

    def version(self, number: int) -> int | str:
        """A project version in this style."""
        return str(number) if self.version_as_string else number


def trace_id() -> str:
    """A fresh request trace id."""
    return str(uuid.uuid4())


def error_body(status: int, reason: str, *, new_envelope: bool = False) -> dict[str, Any]:
    """An error body: tsoa's ``{reason, traceId}`` or the newer ``{message, code, issues}``."""
    if new_envelope:
        code, _default = _CODES.get(status, ("ERROR", reason))
        return {"message": reason, "code": code, "issues": [{"message": reason}]}
    return {"reason": reason, "traceId": trace_id()}


def project_resource(
    project: Project, position: int, clock: SimClock, republished: float | None = None
) -> dict[str, Any]:
    """A ProjectApiResource; ``position`` orders creation times (0 is the newest).

    ``republished`` is the clock reading of the last re-publication, if there was one
    since the simulator started; otherwise the project was published a day ago.
    """
    anchor = clock.wall(clock.now()).replace(hour=9, minute=0, second=0, microsecond=0)
    created = anchor - timedelta(days=30 + position)
    edited = anchor - timedelta(days=2)
    published = _iso(anchor - timedelta(days=1)) if project.published else None
    if project.published and republished is not None:
        published = clock.stamp(republished)
    return {
        "id": project.id,
        "title": project.title,
        "description": project.description,
        "type": "PROJECT",
        "creator": {"email": project.created_by},
        "owner": {"email": project.owner},
        "status": {"name": project.status} if project.status else None,
        "categories": [{"name": name, "description": None} for name in project.categories],
        "reviews": {"required": False},
        "analytics": {
            "publishedResultsUpdatedAt": _results_updated(project, clock, published),
            "lastViewedAt": None,
            "appViews": {
                "lastThirtyDays": 0,
                "lastFourteenDays": 0,
                "lastSevenDays": 0,
                "allTime": 0,
            },
        },
        "lastEditedAt": _iso(edited),
        "lastPublishedAt": published,
        "createdAt": _iso(created),
        "archivedAt": _iso(anchor - timedelta(days=3)) if project.archived else None,
        "trashedAt": _iso(anchor - timedelta(days=3)) if project.trashed else None,
        "schedules": [
            schedule_resource(schedule)
            for schedule in project.schedules
            if schedule.trigger == "SCHEDULED"
        ],
    }


def _results_updated(project: Project, clock: SimClock, published: str | None) -> str | None:
    """``analytics.publishedResultsUpdatedAt``: as the scenario says, else the publish time."""
    given = project.published_results_updated_at
    if not project.published or given is None:
        return published
    if isinstance(given, datetime):
        return _iso(given)
    return _iso(clock.wall(clock.started) - timedelta(seconds=given))


# Every cadence's settings object, all in UTC at midnight (their times are not simulated).
_CADENCE_FIELDS: dict[str, dict[str, Any]] = {
    "HOURLY": {"timezone": "+00:00", "minute": 0},
    "DAILY": {"timezone": "+00:00", "minute": 0, "hour": 0},
    "WEEKLY": {"timezone": "+00:00", "minute": 0, "hour": 0, "dayOfWeek": "MONDAY"},
    "MONTHLY": {"timezone": "+00:00", "minute": 0, "hour": 0, "day": 1},
}


def schedule_resource(schedule: Schedule) -> dict[str, Any]:
    """A ScheduleApiResource: the cadence's own settings filled in, the others null."""
    cadence = schedule.listed_cadence
    body: dict[str, Any] = {"cadence": cadence, "enabled": schedule.enabled}
    for name in ("HOURLY", "DAILY", "WEEKLY", "MONTHLY"):
        body[name.lower()] = _CADENCE_FIELDS[name] if name == cadence else None
    body["custom"] = (
        {"timezone": "+00:00", "cron": _cron(schedule.every)} if cadence == "CUSTOM" else None
    )
    return body


def _cron(every: float) -> str:
    """A cron expression close to a period of ``every`` scenario seconds."""
    minutes = max(1, round(every / 60))
    if minutes < 60:
        return f"*/{minutes} * * * *"
    hours = round(minutes / 60)
    return f"0 */{hours} * * *" if hours < 24 else "0 0 * * *"


def _iso(moment: datetime) -> str:
    """ISO 8601 with milliseconds and ``Z`` for a wall-clock time."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_created(run: Run, origin: str, style: RunStyle) -> dict[str, Any]:
    """A ProjectRunResponsePayload for a new run."""
    return {
        "projectId": run.project_id,
        "runId": run.run_id,
        "runUrl": run_url(origin, run.project_id, run.run_id),
        "runStatusUrl": run_status_url(origin, run.project_id, run.run_id),
        "traceId": trace_id(),
        "projectVersion": style.version(run.project_version),
    }


def dry_run_created(
    project: Project, run_id: str, origin: str, version: int, style: RunStyle
) -> dict[str, Any]:
    """The dummy 201 payload of a dry run: same shape, no run behind it."""
    return {
        "projectId": project.id,
        "runId": run_id,
        "runUrl": run_url(origin, project.id, run_id),
        "runStatusUrl": run_status_url(origin, project.id, run_id),
        "traceId": trace_id(),
        "projectVersion": style.version(version),
    }


def run_status(
    run: Run,
    now: float,
    clock: SimClock,
    origin: str,
    style: RunStyle,
    *,
    flap: bool = False,
) -> dict[str, Any]:
    """A ProjectStatusResponsePayload for ``run`` as of ``now``."""
    status = run.status_at(now)
    if flap and status in (st.PENDING, st.RUNNING):
        status = st.RUNNING if status == st.PENDING else st.PENDING
    started = run.started_at(now)
    ended = run.ended_at(now)
    elapsed = None if started is None else round(((ended or now) - started) * 1000, 3)
    payload: dict[str, Any] = {
        "projectId": run.project_id,
        "projectVersion": style.version(run.project_version),
        "runId": run.run_id,
        "runUrl": run_url(origin, run.project_id, run.run_id),
        "status": status,
        "startTime": clock.stamp(started),
        "endTime": clock.stamp(ended),
        "elapsedTime": elapsed,
        "traceId": trace_id(),
    }
    if style.run_trigger:
        payload["runTrigger"] = run.trigger
    if style.state_events:
        payload["stateEvents"] = state_events(run, now, clock, extra=style.extra_state_events)
        payload["flagConfigOverride"] = None
    return payload


def state_events(run: Run, now: float, clock: SimClock, *, extra: bool) -> list[dict[str, Any]]:
    """The run's state changes up to ``now``, as ``{type, value, timestamp}`` events.

    ``extra`` adds a KERNEL/ALLOCATED event as the run starts, a type no client knows,
    so clients can be shown to keep events they do not understand.
    """
    events = []
    for status, moment in run.timeline(now):
        if extra and status == st.RUNNING:
            events.append(_event("KERNEL", "ALLOCATED", clock, moment))
        events.append(_event("STATUS", status, clock, moment))
    return events


def _event(kind: str, value: str, clock: SimClock, moment: float) -> dict[str, Any]:
    return {"type": kind, "value": value, "timestamp": clock.stamp(moment)}


def run_url(origin: str, project_id: str, run_id: str) -> str:
    """Where a person would watch the run in the Hex UI."""
    return f"{origin}/app/projects/{project_id}/runs/{run_id}"


def run_status_url(origin: str, project_id: str, run_id: str) -> str:
    """The API URL of the run's status."""
    return f"{origin}/api/v1/projects/{project_id}/runs/{run_id}"
