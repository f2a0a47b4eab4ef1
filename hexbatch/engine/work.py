"""The unit of work the engine schedules: a planned run and what is known of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hexbatch.outcome import UNSETTLED, Attempt, RunOutcome
from hexbatch.plan import RunSpec
from hexbatch.status import SKIPPED, UNKNOWN


@dataclass(slots=True)
class WorkItem:
    """A planned run with the attempts made so far (empty for a fresh batch).

    A resumed batch hands the engine its recorded attempts: a last attempt with a
    run id and no terminal status is reattached, one with only an intent is
    reconciled, and the number of attempts counts against the retry budget.
    """

    spec: RunSpec
    attempts: list[Attempt] = field(default_factory=list)
    rerun: bool = False
    """Start a new attempt even though the last one ended (``--rerun``)."""

    @property
    def key(self) -> str:
        """The run's deterministic key."""
        return self.spec.key

    @property
    def project_id(self) -> str:
        """The Hex project id."""
        return self.spec.project_id

    @property
    def entry(self) -> int:
        """The index of the manifest entry that planned this run (its caps apply)."""
        return self.spec.project.index

    @property
    def params(self) -> dict[str, Any]:
        """The input parameters as a plain dict."""
        return dict(self.spec.params)

    @property
    def next_number(self) -> int:
        """The number the run's next attempt gets: the one after its last attempt's."""
        numbered(self.attempts)
        last = self.attempts[-1].number if self.attempts else None
        return (last or 0) + 1

    def number_of(self, attempt: Attempt) -> int:
        """The number ``attempt`` (one of this run's) was made or recorded under."""
        numbered(self.attempts)
        if attempt.number is None:  # pragma: no cover - numbered() gives every one a number
            raise ValueError("an attempt of another run")
        return attempt.number

    def unstarted(self, reason: str) -> RunOutcome:
        """The record of a run the batch never got to (it stopped first).

        A run whose last trigger's outcome an earlier process left open stays UNKNOWN
        with that reason, as the state store shows it; any other is SKIPPED. Neither
        is final: the next run of the batch picks them up.
        """
        last = self.attempts[-1] if self.attempts else None
        if last is not None and last.unresolved:
            return self.outcome(UNKNOWN, UNSETTLED, settled=False)
        return self.outcome(SKIPPED, f"not triggered: {reason}", settled=False)

    def outcome(self, status: str, error: str | None = None, *, settled: bool = True) -> RunOutcome:
        """The record of this run (``settled=False``: not final, a resume picks it up)."""
        return RunOutcome.of(
            self.spec.planned, status, numbered(self.attempts), error, settled=settled
        )


def numbered(attempts: list[Attempt]) -> list[Attempt]:
    """``attempts`` with each one not numbered yet given the number after the one before
    (those recorded keep theirs): the same list, its attempts numbered in place."""
    previous = 0
    for attempt in attempts:
        if attempt.number is None:
            attempt.number = previous + 1
        previous = attempt.number
    return attempts
