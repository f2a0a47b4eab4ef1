"""Where a stored batch stands: the facts behind ``hexbatch status``.

Read from the state store alone, so any machine that reaches the store can ask:
runs per status, the runs alive in Hex with their age, which process holds the
batch's lease and when it last renewed it, and
when the batch should end. The estimate assumes the runs still to go take what
their keys took before (the mean of the known ones for keys never run) and run
as many at a time as are alive now.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hexbatch.engine.viewmodel import (
    FAILURES_KEPT,
    BatchView,
    FailedRun,
    ProjectRow,
    first_line,
)
from hexbatch.outcome import iso
from hexbatch.report.facts import params_text
from hexbatch.state import PLANNED, BatchInfo, StateStore
from hexbatch.state.leases import Lease
from hexbatch.state.records import StoredRun
from hexbatch.status import FINAL_STATUSES, PENDING, RUNNING, SKIPPED, is_success


@dataclass(frozen=True, slots=True)
class LiveRun:
    """A run alive in Hex as the store last saw it."""

    key: str
    project: str
    params: str
    run_id: str
    status: str
    triggered_at: datetime | None

    def age_s(self, now: datetime) -> float | None:
        """Seconds since it was triggered."""
        return None if self.triggered_at is None else (now - self.triggered_at).total_seconds()


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """One batch's progress, as its state store shows it."""

    info: BatchInfo
    counts: dict[str, int]
    live: list[LiveRun]
    lease: Lease | None
    """The lease of the batch's name: the process driving it (or the last one, if it died)."""
    estimated_end: datetime | None
    quota_wait_s: float = 0.0
    """Seconds the batch's triggers waited for the token's quota, all together."""
    projects: tuple[ProjectRow, ...] = ()
    failures: tuple[FailedRun, ...] = ()
    """The latest runs that ended without completing (at most ``FAILURES_KEPT``)."""
    failed_count: int = 0

    def view(self, now: datetime) -> BatchView:
        """The live view's model, as the store shows the batch (it cannot say why triggers
        wait: only the driving process knows)."""
        end = self.info.finished_at or now
        return BatchView(
            total=self.total,
            finished=Counter(
                {name: count for name, count in self.counts.items() if name in FINAL_STATUSES}
            ),
            elapsed=max(0.0, (end - self.info.started_at).total_seconds()),
            projects=self.projects,
            failures=self.failures,
            failed_count=self.failed_count,
            done=self.info.finished,
        )

    @property
    def total(self) -> int:
        """Planned runs."""
        return sum(self.counts.values())

    def to_json(self, now: datetime) -> dict[str, Any]:
        """The ``hexbatch.status/1`` document."""
        return {
            "schema": "hexbatch.status/1",
            "batch": self.info.id,
            "name": self.info.name,
            "manifest": self.info.manifest,
            "started_at": iso(self.info.started_at),
            "finished_at": iso(self.info.finished_at),
            "runs": self.total,
            "counts": self.counts,
            "live": [
                {
                    "key": run.key,
                    "project": run.project,
                    "params": run.params,
                    "run_id": run.run_id,
                    "status": run.status,
                    "age_s": None if (age := run.age_s(now)) is None else round(age, 1),
                }
                for run in self.live
            ],
            "lease": None if self.lease is None else _lease_json(self.lease, now),
            "estimated_end": iso(self.estimated_end),
            "quota_wait_s": round(self.quota_wait_s, 1),
        }


def batch_status(store: StateStore, batch_id: int, now: datetime) -> BatchStatus:
    """Read one batch's progress from ``store``."""
    info = store.batch(batch_id)
    runs = store.runs(batch_id)
    counts = Counter(run.status for run in runs)
    live = [
        LiveRun(
            run.key,
            run.project,
            params_text(run.params),
            attempt.run_id or "",
            attempt.status or PENDING,
            attempt.triggered_at,
        )
        for run in runs
        if (attempt := run.in_flight) is not None and attempt.status in (None, PENDING, RUNNING)
    ]
    estimate = None
    if not info.finished:
        durations = store.durations(run.key for run in runs)
        known = [durations[run.key] for run in runs if run.key in durations]
        typical = statistics.fmean(known) if known else None
        waiting = [run.key for run in runs if run.status == PLANNED]
        if typical is not None and (live or waiting):
            work = sum(durations.get(key, typical) for key in waiting)
            left = max(
                (_left(run, durations.get(run.key, typical), now) for run in live), default=0
            )
            estimate = now + timedelta(seconds=left + work / max(1, len(live)))
    lease = store.lease(info.name) if info.name else None
    waited = sum(attempt.quota_wait_ms or 0.0 for run in runs for attempt in run.attempts)
    failed = [run for run in runs if _failed(run.status)]
    return BatchStatus(
        info,
        dict(counts.most_common()),
        live,
        lease,
        estimate,
        waited / 1000,
        projects=_project_rows(runs, {run.key for run in live}),
        failures=tuple(
            FailedRun(run.project, params_text(run.params), run.status, first_line(run.error))
            for run in failed[-FAILURES_KEPT:]
        ),
        failed_count=len(failed),
    )


def _failed(status: str) -> bool:
    return status in FINAL_STATUSES and status != SKIPPED and not is_success(status)


def _project_rows(runs: list[StoredRun], live: set[str]) -> tuple[ProjectRow, ...]:
    """Each project's runs by where they stand, projects in plan order."""
    counts: dict[str, Counter[str]] = {}
    for run in sorted(runs, key=lambda run: run.index):
        row = counts.setdefault(run.project, Counter())
        row["total"] += 1
        if is_success(run.status):
            row["completed"] += 1
        elif run.status == SKIPPED:
            row["skipped"] += 1
        elif _failed(run.status):
            row["failed"] += 1
        elif run.key in live:
            row["live"] += 1
    return tuple(ProjectRow(name, **row) for name, row in counts.items())


def _lease_json(lease: Lease, now: datetime) -> dict[str, Any]:
    return {
        "host": lease.host,
        "pid": lease.pid,
        "started_at": iso(lease.started_at),
        "heartbeat_at": iso(lease.heartbeat_at),
        "heartbeat_age_s": round(max(0.0, (now - lease.heartbeat_at).total_seconds()), 1),
    }


def _left(run: LiveRun, expected: float, now: datetime) -> float:
    """Seconds a live run still needs, if it takes what it took before."""
    age = run.age_s(now) or 0.0
    return max(0.0, expected - age)
