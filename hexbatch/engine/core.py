"""The scheduler: a bounded pool of workers drives every planned run to its end.

``max_in_flight`` workers take runs from the :class:`Dispatcher` (plan order,
or longest-first when earlier durations are known) and drive each one with a
:class:`RunLifecycle`. A worker catches everything a run can throw, so one
run's failure never cancels its siblings, and every planned run ends with
exactly one outcome: runs never started are SKIPPED.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import structlog

from hexbatch import status
from hexbatch.engine.context import BatchContext, EngineSettings
from hexbatch.engine.control import Control
from hexbatch.engine.dispatch import Dispatcher
from hexbatch.engine.hexapi import HexService
from hexbatch.engine.journal import Journal, NullJournal
from hexbatch.engine.lifecycle import RunLifecycle
from hexbatch.engine.viewmodel import (
    FAILURES_KEPT,
    BatchView,
    FailedRun,
    ProjectRow,
    WaitReason,
    first_line,
)
from hexbatch.engine.work import WorkItem
from hexbatch.outcome import RunOutcome
from hexbatch.report.facts import params_text

log = structlog.get_logger("hexbatch.engine")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where a running batch stands, for progress displays."""

    total: int
    finished: Counter[str]
    live: int
    pending: int
    elapsed: float
    quota_wait: float = 0.0
    """Seconds the batch's triggers have waited for quota, all together."""


def longest_first(items: Sequence[WorkItem], durations: dict[str, float]) -> list[WorkItem]:
    """Order runs longest-expected first (LPT); runs without history get the mean."""
    if not durations:
        return list(items)
    known = [durations[item.key] for item in items if item.key in durations]
    typical = statistics.fmean(known) if known else 0.0
    return sorted(items, key=lambda item: -durations.get(item.key, typical))


def trigger_waits(ctx: BatchContext, pending: int) -> tuple[WaitReason, ...]:
    """Why the ``pending`` runs still to trigger are held back right now."""
    if not pending:
        return ()
    waits: list[WaitReason] = []
    left, why = ctx.client.trigger_wait()
    if left > 0:
        waits.append(WaitReason(why, left))
    if ctx.gate.closed:
        waits.append(WaitReason("Hex's kernel limit (HTTP 503), until a run ends"))
    return tuple(waits)


def _column(outcome: RunOutcome) -> str:
    if outcome.ok:
        return "completed"
    return "skipped" if outcome.status == status.SKIPPED else "failed"


class Engine:
    """Runs a list of work items against Hex and returns their outcomes.

    Args:
        client: the Hex API: an entered :class:`~hexbatch.api.client.HexClient` (its budgets
            apply to every request), or an in-process one in tests.
        settings: scheduling knobs, time sources and earlier durations.
        journal: where intents, run ids and statuses are recorded, and which run ids
            earlier batches claimed (none of them is ever adopted).
        control: stop/cancel switches (signal handlers hold a reference).
    """

    def __init__(
        self,
        client: HexService,
        settings: EngineSettings | None = None,
        *,
        journal: Journal | None = None,
        control: Control | None = None,
    ) -> None:
        self.settings = settings or EngineSettings()
        self.ctx = BatchContext(
            client=client,
            settings=self.settings,
            journal=journal or NullJournal(),
            control=control or Control(),
        )
        self.outcomes: dict[str, RunOutcome] = {}
        self._total = 0
        self._started = self.settings.clock()
        self._dispatcher: Dispatcher | None = None
        self._project_of: dict[str, str] = {}
        """Each planned run's project, in plan order (for the per-project view)."""
        self._taken: set[str] = set()
        self._failed: list[RunOutcome] = []

    @property
    def control(self) -> Control:
        """The batch's stop and cancel switches."""
        return self.ctx.control

    def snapshot(self) -> Snapshot:
        """Counts for a progress display."""
        pending = self._dispatcher.pending() if self._dispatcher else 0
        finished = Counter(outcome.status for outcome in self.outcomes.values())
        return Snapshot(
            total=self._total,
            finished=finished,
            live=self.ctx.live_runs,
            pending=pending,
            elapsed=self.settings.clock() - self._started,
            quota_wait=self.ctx.quota_waited,
        )

    def view_model(self) -> BatchView:
        """Per-project counts, the latest failures and why triggers wait, for a live view."""
        snapshot = self.snapshot()
        rows: dict[str, dict[str, int]] = {}
        for key, project in self._project_of.items():
            row = rows.setdefault(project, Counter())
            row["total"] += 1
            outcome = self.outcomes.get(key)
            if outcome is not None:
                row[_column(outcome)] += 1
            elif key in self._taken:
                row["live"] += 1
        return BatchView(
            total=snapshot.total,
            finished=snapshot.finished,
            elapsed=snapshot.elapsed,
            projects=tuple(ProjectRow(name, **counts) for name, counts in rows.items()),
            failures=tuple(
                FailedRun(
                    project=outcome.project,
                    params=params_text(outcome.params),
                    status=outcome.status,
                    error=first_line(outcome.error),
                )
                for outcome in self._failed[-FAILURES_KEPT:]
            ),
            failed_count=len(self._failed),
            waits=trigger_waits(self.ctx, snapshot.pending),
        )

    async def run(self, items: Sequence[WorkItem]) -> list[RunOutcome]:
        """Drive every item to its final status; outcomes come back in plan order."""
        self._total = len(items)
        self._project_of = {item.key: item.spec.project_name for item in items}
        self._started = self.settings.clock()
        for item in items:
            self.ctx.claimed.update(a.run_id for a in item.attempts if a.run_id)
        self._seed_versions(items)
        ordered = longest_first(items, dict(self.settings.durations))
        caps = {item.entry: item.spec.project.max_in_flight for item in items}
        self._dispatcher = dispatcher = Dispatcher(ordered, caps)
        skipped: list[WorkItem] = []
        self.control.on_stop(lambda: skipped.extend(dispatcher.stop()))
        log.info("batch_started", runs=len(items), max_in_flight=self.settings.max_in_flight)
        async with anyio.create_task_group() as group:
            for _ in range(min(self.settings.max_in_flight, len(items))):
                group.start_soon(self._worker, dispatcher)
        for item in skipped:
            self._finish(item.unstarted(self.control.reason or "the batch stopped"))
        position = {item.key: n for n, item in enumerate(items)}
        return sorted(self.outcomes.values(), key=lambda outcome: position[outcome.key])

    def _seed_versions(self, items: Sequence[WorkItem]) -> None:
        """Resume with the project versions an earlier process saw, oldest first."""
        recorded = [
            (attempt.triggered_at, item.spec.project, attempt.project_version)
            for item in items
            for attempt in item.attempts
            if attempt.triggered_at is not None and attempt.project_version is not None
        ]
        for _at, project, version in sorted(recorded, key=lambda entry: entry[0]):
            self.ctx.versions.seed(project, version)

    async def _worker(self, dispatcher: Dispatcher) -> None:
        while (item := await dispatcher.take()) is not None:
            self._taken.add(item.key)
            try:
                outcome = await RunLifecycle(self.ctx, item).run()
            except Exception as error:  # a bug in one run must not sink the others
                log.exception("run_crashed", key=item.key)
                outcome = item.outcome(status.UNKNOWN, f"internal error: {error!r}")
            finally:
                dispatcher.release(item)
                self.ctx.gate.open()  # a run ended, so a kernel may be free
            self._finish(outcome)

    def _finish(self, outcome: RunOutcome) -> None:
        self.outcomes[outcome.key] = outcome
        if not outcome.ok and outcome.status != status.SKIPPED:
            self._failed.append(outcome)
        if outcome.settled:
            # An unsettled run (never triggered, or its trigger's outcome unknown) gets
            # no final status in the journal: a resumed batch picks it up.
            self.ctx.journal.record_final(outcome.key, outcome.status, outcome.error)
        event = log.info if outcome.ok else log.warning
        event(
            "run_finished",
            project=outcome.project,
            key=outcome.key,
            run_id=outcome.run_id,
            status=outcome.status,
            attempts=len(outcome.attempts),
            error=outcome.error,
        )
        if not outcome.ok and outcome.status != status.SKIPPED and self.settings.fail_fast:
            reason = f"--fail-fast after {outcome.project} {outcome.key} ended {outcome.status}"
            if self.settings.cancel_on_fail_fast:
                self.control.cancel_live(reason)
            else:
                self.control.stop(reason)
