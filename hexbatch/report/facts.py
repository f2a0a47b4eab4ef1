"""Facts every report format derives from a batch the same way.

The formats differ in how they look, not in what they say: a run's label, its
span in time, the order statuses are listed in and which runs count as slow or
retried are decided here once, so Markdown, JUnit, HTML and the console agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from hexbatch.outcome import REQUEST_KINDS, BatchReport, RunOutcome
from hexbatch.status import COMPLETED, REPORT_ORDER

SAFE_URL_SCHEMES: Final = frozenset({"http", "https"})


def param_value_text(value: Any) -> str:
    """Render one parameter value: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def params_text(params: Mapping[str, Any]) -> str:
    """Render a parameter set as ``k=v,k2=v2`` in the manifest's order."""
    return ",".join(f"{name}={param_value_text(value)}" for name, value in params.items())


def run_label(run: RunOutcome) -> str:
    """Name a run by project and params, e.g. ``daily-revenue[run_date=2025-01-09]``."""
    params = params_text(run.params)
    return f"{run.project}[{params}]" if params else run.project


def safe_url(url: str | None) -> str | None:
    """Return the URL when it is an absolute http(s) link, else None (never link anything else)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_URL_SCHEMES or not parts.netloc:
        return None
    return url.strip()


def status_rank(status: str) -> float:
    """Sort key for statuses: failures first, success last, unfamiliar ones before success."""
    if status in REPORT_ORDER:
        return REPORT_ORDER.index(status)
    # A status hexbatch does not know is an anomaly worth seeing: list it just before success.
    return REPORT_ORDER.index(COMPLETED) - 0.5


def ordered_counts(report: BatchReport) -> list[tuple[str, int]]:
    """Runs per final status, in report order (failures first), then by name."""
    counts = report.counts()
    return sorted(counts.items(), key=lambda item: (status_rank(item[0]), item[0]))


@dataclass(frozen=True, slots=True)
class RunSpan:
    """When a run was first triggered, when its last attempt finished, and how long it took."""

    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None


def run_span(run: RunOutcome) -> RunSpan:
    """Measure a run from its first trigger to its final finish, across every retry.

    Without both ends (a run never triggered, or one whose finish was never seen)
    the length falls back to the sum of the attempts' reported elapsed times.
    """
    starts = [a.triggered_at for a in run.attempts if a.triggered_at is not None]
    ends = [a.finished_at for a in run.attempts if a.finished_at is not None]
    started = min(starts) if starts else None
    finished = max(ends) if ends else None
    if started is not None and finished is not None and finished >= started:
        return RunSpan(started, finished, (finished - started).total_seconds())
    elapsed = [a.elapsed_ms for a in run.attempts if a.elapsed_ms is not None]
    seconds = sum(elapsed) / 1000 if elapsed else None
    return RunSpan(started, finished, seconds)


def failed_runs(report: BatchReport) -> list[RunOutcome]:
    """Runs that did not complete, worst statuses first, then by label."""
    return sorted(
        (run for run in report.runs if not run.ok),
        key=lambda run: (status_rank(run.status), run_label(run)),
    )


def slowest_runs(runs: Iterable[RunOutcome], limit: int) -> list[tuple[RunOutcome, float]]:
    """The ``limit`` runs with the longest span, longest first (runs without one are left out)."""
    measured = [(run, span.seconds) for run in runs if (span := run_span(run)).seconds is not None]
    measured.sort(key=lambda pair: (-pair[1], run_label(pair[0])))
    return [(run, seconds) for run, seconds in measured[:limit]]


def retried_runs(report: BatchReport) -> list[RunOutcome]:
    """Runs triggered more than once, most attempts first."""
    retried = [run for run in report.runs if len(run.attempts) > 1]
    return sorted(retried, key=lambda run: (-len(run.attempts), run_label(run)))


def request_usage(report: BatchReport) -> dict[str, int]:
    """The request counters exactly as the JSON contract reports them."""
    # Same shape as BatchReport.to_json() without serialising every run.
    usage = {kind: report.requests.get(kind, 0) for kind in REQUEST_KINDS}
    usage.update(report.requests)
    return usage


@dataclass(frozen=True, slots=True)
class QueueTime:
    """Time the batch's attempts spent waiting for a kernel, and running, in seconds."""

    queued_s: float
    run_s: float
    attempts: int
    """Attempts whose split is known (the rest never started, or ran before it was kept)."""


def queue_time(report: BatchReport) -> QueueTime | None:
    """Total queue and run time over every attempt whose split is known (None: none is)."""
    splits = [
        split
        for run in report.runs
        for attempt in run.attempts
        if (split := attempt.phases).queued_ms is not None and split.run_ms is not None
    ]
    if not splits:
        return None
    return QueueTime(
        queued_s=sum(split.queued_ms or 0.0 for split in splits) / 1000,
        run_s=sum(split.run_ms or 0.0 for split in splits) / 1000,
        attempts=len(splits),
    )


@dataclass(frozen=True, slots=True)
class ProjectVersions:
    """The published versions of one project that the batch's runs executed."""

    project: str
    versions: tuple[str, ...]
    """In the order the runs were triggered; more than one means a re-publish mid-batch."""

    @property
    def changed(self) -> bool:
        """True when the project was re-published during the batch."""
        return len(self.versions) > 1

    @property
    def text(self) -> str:
        """``7``, or ``7 → 8`` after a re-publish."""
        return " → ".join(self.versions)


def project_versions(report: BatchReport) -> list[ProjectVersions]:
    """Each project's versions in trigger order, in the order projects first ran."""
    seen = sorted(
        (
            (attempt.triggered_at, run.project, attempt.project_version)
            for run in report.runs
            for attempt in run.attempts
            if attempt.project_version is not None and attempt.triggered_at is not None
        ),
        key=lambda entry: entry[0],
    )
    versions: dict[str, list[str]] = {}
    for _at, project, version in seen:
        listed = versions.setdefault(project, [])
        if version not in listed:
            listed.append(version)
    return [ProjectVersions(project, tuple(listed)) for project, listed in versions.items()]


def format_seconds(seconds: float | None) -> str:
    """Human duration: ``850ms``, ``12.3s``, ``4m 05s``, ``2h 03m``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
