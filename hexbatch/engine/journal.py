"""Where the engine writes down what it does, so a crash or Ctrl-C loses nothing.

The engine calls a :class:`Journal` at the two moments that matter for never
triggering twice (just before a trigger, and just after Hex returned the run
id) and whenever a run's status or final outcome changes. Before adopting a
listed run as the one a lost trigger created, it asks :meth:`Journal.claimed`
whether a batch already recorded that run. Only :meth:`Journal.record_intent`
and :meth:`Journal.claimed` may fail loudly (with
:class:`~hexbatch.state.StateError`): no trigger is sent without a durable
intent, and no run is adopted unless the records show it is nobody's. A journal
that cannot write anything else (a full disk) says so once and lets the engine
go on following the live runs. The state store implements it durably;
:class:`NullJournal` keeps nothing (library use without a state file).
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime
from typing import Protocol

from hexbatch.api.models import StateEvents


class Journal(Protocol):
    """The engine's write-ahead record of intents, run ids, statuses and outcomes."""

    def record_intent(
        self,
        key: str,
        attempt: int,
        at: datetime,
        *,
        seen_before: Set[str] | None = None,
        quota_wait_ms: float | None = None,
    ) -> None:
        """About to send a trigger for ``key`` (durable before the POST).

        ``seen_before``: the project's run ids listed right before sending, none of
        which may ever be adopted as this trigger's run (None: no snapshot).
        ``quota_wait_ms``: how long the trigger waited for its budget slots.

        Raises:
            StateError: the intent could not be made durable; send nothing.
        """

    def withdraw_intent(self, key: str, attempt: int) -> None:
        """The trigger provably created no run (429, 503, never sent, reconciled): forget it."""

    def record_triggered(
        self,
        key: str,
        attempt: int,
        run_id: str,
        run_url: str | None,
        at: datetime,
        *,
        project_version: str | None = None,
    ) -> None:
        """Hex created ``run_id`` for this attempt (durable before polling)."""

    def record_status(
        self,
        key: str,
        attempt: int,
        status: str,
        *,
        finished_at: datetime | None = None,
        elapsed_ms: float | None = None,
        error: str | None = None,
        started_at: datetime | None = None,
        project_version: str | None = None,
        state_events: StateEvents | None = None,
    ) -> None:
        """The attempt's latest known status, and what Hex said about its run."""

    def record_final(self, key: str, status: str, error: str | None = None) -> None:
        """The run's final status; it will not be touched again in this batch."""

    def claimed(self, run_ids: Set[str]) -> Set[str]:
        """Which of ``run_ids`` (runs Hex just listed) a batch already recorded as its
        run, this one or any other the journal keeps; none of them may be adopted.

        Raises:
            StateError: the records could not be read; adopt nothing.
        """
        ...


class NullJournal:
    """A journal that forgets everything."""

    def record_intent(
        self,
        key: str,
        attempt: int,
        at: datetime,
        *,
        seen_before: Set[str] | None = None,
        quota_wait_ms: float | None = None,
    ) -> None:
        """Forget the intent."""

    def withdraw_intent(self, key: str, attempt: int) -> None:
        """Nothing to forget."""

    def record_triggered(
        self,
        key: str,
        attempt: int,
        run_id: str,
        run_url: str | None,
        at: datetime,
        *,
        project_version: str | None = None,
    ) -> None:
        """Forget the run id."""

    def record_status(
        self,
        key: str,
        attempt: int,
        status: str,
        *,
        finished_at: datetime | None = None,
        elapsed_ms: float | None = None,
        error: str | None = None,
        started_at: datetime | None = None,
        project_version: str | None = None,
        state_events: StateEvents | None = None,
    ) -> None:
        """Forget the status."""

    def record_final(self, key: str, status: str, error: str | None = None) -> None:
        """Forget the outcome."""

    def claimed(self, run_ids: Set[str]) -> Set[str]:
        """No batch recorded anything (the engine still knows its own batch's runs)."""
        return frozenset()
