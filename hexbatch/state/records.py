"""The records a state store reads and writes: plan entries, batch headers, stored runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from hexbatch.outcome import UNSETTLED, Attempt, PlannedRun, RunOutcome
from hexbatch.status import FINAL_STATUSES, SKIPPED, UNKNOWN

PLANNED: Final = "PLANNED"


def same_url(one: str, other: str) -> bool:
    """Whether two Hex API base URLs name the same endpoint (a trailing slash aside)."""
    return one.strip().rstrip("/") == other.strip().rstrip("/")


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """A batch's header: what it was started from and where it talks to (never the token)."""

    id: int
    manifest: str
    manifest_hash: str
    plan_hash: str
    base_url: str
    token_env: str
    hexbatch_version: str
    started_at: datetime
    finished_at: datetime | None
    name: str = ""
    """The manifest's name: its batches are found by it, wherever the file is read."""
    as_of: date | None = None
    """The day that was "today" for its dates relative to today (None when none were)."""
    stopped_at: datetime | None = None
    """When its last driver stopped while it stayed unfinished (None: never recorded)."""

    @property
    def finished(self) -> bool:
        """True once the batch has been marked finished."""
        return self.finished_at is not None


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """One line of history: a batch, its timing and how many runs ended in each status."""

    id: int
    manifest: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]

    @property
    def duration_s(self) -> float | None:
        """Wall-clock length in seconds, or None while the batch is unfinished."""
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    @property
    def total(self) -> int:
        """Number of planned runs."""
        return sum(self.counts.values())


@dataclass(slots=True)
class StoredRun:
    """A planned run with every attempt recorded so far, each carrying the number it was
    recorded under.

    An attempt's ``triggered_at`` is when Hex answered the trigger or, before that answer
    was recorded, when the intent to trigger was recorded; ``last_intent_at`` keeps the
    intent time of the last attempt for reconciling a trigger whose answer was lost.
    """

    run: PlannedRun
    """The run as planned (stored when the batch was created)."""
    attempts: list[Attempt] = field(default_factory=list)
    final_status: str | None = None
    error: str | None = None
    """Why the run ended as it did; without a final status, why it was never triggered
    (the batch stopped first)."""
    last_intent_at: datetime | None = None
    base_urls: list[str | None] = field(default_factory=list)
    """The Hex API URL each attempt was triggered at (None: not recorded), by attempt."""
    rerun_after: int | None = None
    """The number of the run's last attempt when ``--rerun`` made it pending again (0: it
    had none; None: no rerun asked)."""

    @property
    def key(self) -> str:
        """The run's deterministic key."""
        return self.run.key

    @property
    def project_id(self) -> str:
        """The Hex project id."""
        return self.run.project_id

    @property
    def project(self) -> str:
        """The project's label."""
        return self.run.project

    @property
    def params(self) -> dict[str, Any]:
        """The input parameters sent."""
        return self.run.params

    @property
    def index(self) -> int:
        """The run's position in the plan."""
        return self.run.index

    @property
    def rerun_pending(self) -> bool:
        """A rerun was asked for and no new attempt recorded since: the next attempt is a
        new one, whatever the last one ended with."""
        return (
            self.final_status is None
            and self.rerun_after is not None
            and self.last_number == self.rerun_after
        )

    @property
    def last_number(self) -> int:
        """The number of the last attempt recorded (0: none yet)."""
        last = self.attempts[-1] if self.attempts else None
        return 0 if last is None else last.number or len(self.attempts)

    @property
    def last_base_url(self) -> str | None:
        """Where the last attempt was sent: its run, if any, lives there."""
        return self.base_urls[-1] if self.base_urls else None

    @property
    def status(self) -> str:
        """The final status, else UNKNOWN while the last trigger's outcome is not settled,
        else the last attempt's status, else SKIPPED when the batch stopped before
        triggering it, else ``PLANNED``."""
        if self.final_status is not None:
            return self.final_status
        if self.unresolved:
            return UNKNOWN
        last = self.attempts[-1] if self.attempts else None
        if last is not None and last.status is not None:
            return last.status
        return SKIPPED if last is None and self.error is not None else PLANNED

    @property
    def next_attempt(self) -> int:
        """The number the next trigger of this run gets (attempts count from 1)."""
        return self.last_number + 1

    @property
    def in_flight(self) -> Attempt | None:
        """The last attempt when it has a run id, no final status and the run has no final."""
        last = self.attempts[-1] if self.attempts else None
        if self.final_status is not None or last is None or last.run_id is None:
            return None
        if last.status in FINAL_STATUSES:
            return None
        return last

    @property
    def unresolved(self) -> bool:
        """True when the run has no final status and its last attempt is unresolved."""
        return self.final_status is None and bool(self.attempts) and self.attempts[-1].unresolved

    def to_outcome(self) -> RunOutcome:
        """The run as a report entry; its status is :attr:`status`."""
        return RunOutcome.of(
            self.run,
            self.status,
            list(self.attempts),
            self._reported_error,
            settled=self.final_status is not None,
        )

    @property
    def _reported_error(self) -> str | None:
        """The final error; without a final status, why the run is not settled (a reason
        for not triggering it is stale once it has been triggered)."""
        if self.final_status is not None:
            return self.error
        if self.unresolved:
            return UNSETTLED
        return None if self.attempts else self.error
