"""What every phase of a run shares: its work item, its open trigger, its records.

The phases (:mod:`~hexbatch.engine.trigger`, :mod:`~hexbatch.engine.reconcile`,
:mod:`~hexbatch.engine.follow`) build on :class:`RunState`;
:class:`~hexbatch.engine.lifecycle.RunLifecycle` joins them into a whole run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from hexbatch import status
from hexbatch.api.models import RunInfo
from hexbatch.api.retry import Backoff
from hexbatch.engine.context import BatchContext
from hexbatch.engine.work import WorkItem
from hexbatch.manifest import PollSettings
from hexbatch.outcome import Attempt, RunOutcome

log = structlog.get_logger("hexbatch.engine")

# The newest runs listed in a snapshot and read when reconciling.
LISTED_RUNS = 100


def run_id_of(attempt: Attempt) -> str:
    """The run id of an attempt that has one."""
    if attempt.run_id is None:
        raise AssertionError("unreachable")  # only attempts with a run id are followed
    return attempt.run_id


def may_be_new(run: RunInfo, earliest: datetime) -> bool:
    """Whether a listed run may have been created after ``earliest``.

    A run without a start time is only a candidate while it has not ended: a run
    that ended without starting (UNABLE_TO_ALLOCATE_KERNEL) may be of any age.
    """
    if run.start_time is not None:
        return run.start_time >= earliest
    return not run.terminal


def retry_backoff(poll: PollSettings) -> Backoff:
    """The doubling backoff between a run's retries, re-sent triggers and failed reads."""
    return Backoff(initial=poll.initial, max=poll.max, multiplier=2.0)


def ended_as(info: RunInfo) -> AttemptEnd:
    """How an attempt ended, from Hex's terminal status."""
    if info.status == status.COMPLETED:
        return AttemptEnd(status.COMPLETED)
    return AttemptEnd(info.status, f"Hex reported {info.status}")


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """How an attempt ended (``settled=False``: not final, a resume picks the run up)."""

    status: str
    error: str | None = None
    settled: bool = True


@dataclass(frozen=True, slots=True)
class TriggerIntent:
    """A trigger recorded as intended and sent (or about to be), its outcome not yet known.

    ``sent_at`` is on the engine's monotonic clock; ``seen_before`` holds the run
    ids listed right before sending (None when no snapshot could be taken).
    """

    number: int
    at: datetime
    sent_at: float
    seen_before: frozenset[str] | None
    quota_wait_ms: float | None = None


def snapshot_ids(runs: list[RunInfo], earliest: datetime) -> frozenset[str]:
    """The ids in a listing that could later pass for a new run: live, or started lately."""
    return frozenset(run.run_id for run in runs if may_be_new(run, earliest))


class RunState:
    """One run's work item and open trigger, and how its attempts are recorded."""

    def __init__(self, ctx: BatchContext, item: WorkItem) -> None:
        self.ctx = ctx
        self.item = item
        self.spec = item.spec
        self.project = item.spec.project
        self.log = log.bind(project=self.spec.project_name, key=self.spec.key)
        # A --rerun gets the full retry budget again; a resumed run keeps what it used.
        self.first_attempt = len(item.attempts) if item.rerun else 0
        # The trigger sent (or about to be) whose outcome is not settled yet.
        self._open: TriggerIntent | None = None

    def _outcome(self, final: AttemptEnd) -> RunOutcome:
        return self.item.outcome(final.status, final.error, settled=final.settled)

    def _stopped(self) -> AttemptEnd:
        """How the run ends when no further trigger of it is sent (the batch stopped)."""
        last = self.item.attempts[-1] if self.item.attempts else None
        if last is not None and last.status is not None:
            # It ended with this status; the retry it earned was never started.
            return AttemptEnd(last.status, last.error)
        return self._not_triggered()

    def _halted(self, reason: str) -> AttemptEnd:
        """No further trigger of the project (its version changed): the run ends as it
        stands, a failed one unretried, one never triggered SKIPPED with the reason."""
        self.log.warning("trigger_withheld", reason=reason)
        last = self.item.attempts[-1] if self.item.attempts else None
        if last is not None and last.status is not None:
            return AttemptEnd(last.status, "; ".join(filter(None, (last.error, reason))))
        return AttemptEnd(status.SKIPPED, reason)

    def _not_triggered(self) -> AttemptEnd:
        return AttemptEnd(
            status.SKIPPED, f"not triggered: {self.ctx.control.reason}", settled=False
        )

    def _withdraw(self) -> None:
        """The open trigger provably created no run: forget its intent."""
        intent, self._open = self._open, None
        if intent is not None:
            self.ctx.journal.withdraw_intent(self.spec.key, intent.number)

    def _failed_attempt(self, at: datetime, final: AttemptEnd) -> AttemptEnd:
        intent, self._open = self._open, None
        attempt = Attempt(
            triggered_at=at,
            status=final.status,
            error=final.error,
            # The wait for quota was recorded with the intent: the report says the same.
            quota_wait_ms=None if intent is None else intent.quota_wait_ms,
            number=self.item.next_number if intent is None else intent.number,
        )
        self.item.attempts.append(attempt)
        self.ctx.journal.record_status(
            self.spec.key, self.item.number_of(attempt), final.status, error=final.error
        )
        self.log.error("trigger_failed", error=final.error)
        return final

    def _take_facts(self, attempt: Attempt, info: RunInfo) -> bool:
        """Copy what a read says about the attempt's run, and watch its project version;
        True when its status changed.

        A read without a field (a list item has no state events, say) keeps what an
        earlier read said.
        """
        changed = info.status != attempt.status
        attempt.status = info.status
        attempt.started_at = info.start_time or attempt.started_at
        attempt.project_version = info.project_version or attempt.project_version
        if info.state_events is not None:
            attempt.state_events = info.state_events
        self.ctx.versions.observe(self.project, info.project_version)
        return changed

    def _journal_attempt(self, attempt: Attempt) -> None:
        """Record the attempt's status and error as they stand."""
        if attempt.status is not None:
            self.ctx.journal.record_status(
                self.spec.key,
                self.item.number_of(attempt),
                attempt.status,
                finished_at=attempt.finished_at,
                elapsed_ms=attempt.elapsed_ms,
                error=attempt.error,
                started_at=attempt.started_at,
                project_version=attempt.project_version,
                state_events=attempt.state_events,
            )

    def _observe(
        self, attempt: Attempt, info: RunInfo, run_log: structlog.typing.FilteringBoundLogger
    ) -> None:
        changed = self._take_facts(attempt, info)
        if info.terminal:
            attempt.finished_at = info.end_time or self.ctx.settings.now()
            attempt.elapsed_ms = info.elapsed_ms
        run_log.debug("run_polled", status=info.status)
        if changed or info.terminal:
            self._journal_attempt(attempt)
