"""Outcome records: what happened to each planned run, the input of every report.

One :class:`RunOutcome` per planned run, holding every :class:`Attempt` (a
trigger and what followed it). :class:`BatchReport` is the whole batch and
serialises to the ``hexbatch.report/1`` JSON contract; the Markdown, JUnit,
HTML and console renderings are all drawn from these same records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from hexbatch.api.limits_seen import LimitsSeen
from hexbatch.api.models import StateEvents
from hexbatch.status import is_success
from hexbatch.timeline import Phases, phases

REPORT_SCHEMA: Final = "hexbatch.report/1"
REQUEST_KINDS: Final = ("trigger", "status", "list", "cancel", "throttled")
UNSETTLED: Final = (
    "its trigger's outcome is not settled yet: the batch stopped between recording the "
    "intent and learning whether Hex created a run; the next `hexbatch run` settles it "
    "(`hexbatch cancel` lists it)"
)
"""Why a run whose last trigger's outcome is open reads UNKNOWN, live or stored."""


def iso(moment: datetime | None) -> str | None:
    """Render a timestamp as ISO 8601 in UTC with a ``Z`` suffix and milliseconds."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _whole(milliseconds: float | None) -> int | None:
    return None if milliseconds is None else round(milliseconds)


@dataclass(slots=True)
class Attempt:
    """One trigger of a planned run and what became of it."""

    triggered_at: datetime | None
    run_id: str | None = None
    run_url: str | None = None
    status: str | None = None
    finished_at: datetime | None = None
    elapsed_ms: float | None = None
    error: str | None = None
    seen_before: frozenset[str] | None = field(default=None, repr=False)
    """Run ids listed right before the trigger: never this attempt's run (not reported)."""
    started_at: datetime | None = None
    """When the run started running, as Hex's ``startTime`` says."""
    project_version: str | None = None
    """The published version of the project the run executes."""
    state_events: StateEvents | None = field(default=None, repr=False)
    """The run's state changes as Hex reported them (expanded stats), kept verbatim."""
    quota_wait_ms: float | None = None
    """How long the trigger waited for the token's quota (None: not known)."""
    number: int | None = None
    """Which trigger of its run this is, counting from 1: the number it was recorded under
    (None: not numbered yet, an attempt the run has only just made)."""

    @property
    def phases(self) -> Phases:
        """Milliseconds queued (PENDING until RUNNING) and running, and the queued
        stretch, where known."""
        return phases(
            triggered_at=self.triggered_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            events=self.state_events,
        )

    @property
    def unresolved(self) -> bool:
        """True while the trigger's outcome is unknown: an intent with neither run id nor
        status. Such a run may or may not exist in Hex; it is reconciled, never blindly
        triggered again."""
        return self.run_id is None and self.status is None

    def to_json(self) -> dict[str, Any]:
        """Serialise as one entry of a report's ``attempts`` list."""
        split = self.phases
        return {
            "run_id": self.run_id,
            "status": self.status,
            "triggered_at": iso(self.triggered_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            # Whole milliseconds, as the contract shows; Hex may send fractions.
            "elapsed_ms": _whole(self.elapsed_ms),
            "queued_ms": _whole(split.queued_ms),
            "run_ms": _whole(split.run_ms),
            "project_version": self.project_version,
            "quota_wait_ms": _whole(self.quota_wait_ms),
            "state_events": None if self.state_events is None else list(self.state_events),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """A run's identity, the same from the plan to the report: its deterministic key, its
    project, the parameters sent and its position in the plan."""

    key: str
    project_id: str
    project: str
    params: dict[str, Any]
    index: int


@dataclass(slots=True)
class RunOutcome:
    """The final word on one planned run: its status and every attempt."""

    key: str
    project_id: str
    project: str
    params: dict[str, Any]
    status: str
    attempts: list[Attempt] = field(default_factory=list)
    error: str | None = None
    settled: bool = True
    """False while the run's fate is still open: it was never triggered (SKIPPED), or an
    interrupt left its last trigger's outcome unknown. The state store keeps such a run
    without a final status, so the next ``hexbatch run`` of the batch picks it up."""

    @classmethod
    def of(
        cls,
        run: PlannedRun,
        status: str,
        attempts: list[Attempt],
        error: str | None = None,
        *,
        settled: bool = True,
    ) -> RunOutcome:
        """The outcome of the planned ``run``: its identity as planned, with how it ended."""
        return cls(
            key=run.key,
            project_id=run.project_id,
            project=run.project,
            params=dict(run.params),
            status=status,
            attempts=attempts,
            error=error,
            settled=settled,
        )

    @property
    def last_attempt(self) -> Attempt | None:
        """The most recent attempt, if the run was ever triggered."""
        return self.attempts[-1] if self.attempts else None

    @property
    def run_id(self) -> str | None:
        """The Hex run id of the last attempt."""
        last = self.last_attempt
        return last.run_id if last else None

    @property
    def run_url(self) -> str | None:
        """The Hex UI link of the last attempt."""
        last = self.last_attempt
        return last.run_url if last else None

    @property
    def ok(self) -> bool:
        """True when the run completed."""
        return is_success(self.status)

    def to_json(self) -> dict[str, Any]:
        """Serialise as one entry of a report's ``runs`` list."""
        return {
            "key": self.key,
            "project_id": self.project_id,
            "project": self.project,
            "params": self.params,
            "status": self.status,
            "run_id": self.run_id,
            "run_url": self.run_url,
            "attempts": [attempt.to_json() for attempt in self.attempts],
            "error": self.error,
        }


@dataclass(slots=True)
class BatchReport:
    """A whole batch: every run's outcome, request usage and timing."""

    manifest: str
    started_at: datetime
    finished_at: datetime
    runs: list[RunOutcome]
    requests: dict[str, int] = field(default_factory=dict)
    rate_limits: dict[str, LimitsSeen] = field(default_factory=dict)
    """The rate-limit headers Hex last sent, per request kind."""

    @property
    def ok(self) -> bool:
        """True when every planned run completed."""
        return all(run.ok for run in self.runs)

    @property
    def duration_s(self) -> float:
        """Wall-clock length of the batch in seconds."""
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def counts(self) -> dict[str, int]:
        """Number of runs per final status, most frequent first."""
        return dict(Counter(run.status for run in self.runs).most_common())

    def to_json(self) -> dict[str, Any]:
        """Serialise to the ``hexbatch.report/1`` contract."""
        requests: dict[str, Any] = {kind: self.requests.get(kind, 0) for kind in REQUEST_KINDS}
        requests.update(self.requests)
        requests["rate_limits"] = {
            kind: seen.to_json() for kind, seen in sorted(self.rate_limits.items())
        }
        return {
            "schema": REPORT_SCHEMA,
            "manifest": self.manifest,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_s": self.duration_s,
            "ok": self.ok,
            "counts": self.counts(),
            "requests": requests,
            "runs": [run.to_json() for run in self.runs],
        }


def batch_report(
    manifest: str,
    started_at: datetime,
    runs: Sequence[RunOutcome],
    *,
    finished_at: datetime | None,
    requests: Mapping[str, int],
    rate_limits: Mapping[str, LimitsSeen],
    stopped_at: datetime | None = None,
) -> BatchReport:
    """The report of a batch from its header (manifest, start, end), its runs in plan order,
    its request counts and the rate limits Hex last sent: the one way a report is built,
    for a batch that just ran and for one read back from the state store alike.

    A batch whose end is not known (``finished_at`` None: an unfinished batch read back)
    ends, for the report, when its last driver stopped (``stopped_at``), or at the latest
    moment its runs recorded if that is later (a driver that resumed it and died since).
    """
    return BatchReport(
        manifest=manifest,
        started_at=started_at,
        finished_at=finished_at or max(stopped_at or started_at, _latest_moment(started_at, runs)),
        runs=list(runs),
        requests=dict(requests),
        rate_limits=dict(rate_limits),
    )


def _latest_moment(start: datetime, runs: Sequence[RunOutcome]) -> datetime:
    moments = [start]
    for run in runs:
        for attempt in run.attempts:
            moments.extend(m for m in (attempt.triggered_at, attempt.finished_at) if m)
    return max(moments)
