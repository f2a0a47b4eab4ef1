"""Send a run's trigger: budgets, snapshot, durable intent, and what its failure means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Final

from hexbatch import status
from hexbatch.api.client import Reservation
from hexbatch.api.models import RunCreated
from hexbatch.api.request_failures import Failure, Meaning, RequestKind, failure_of, meaning_of
from hexbatch.engine.reconcile import Reconciler
from hexbatch.engine.run_state import (
    LISTED_RUNS,
    AttemptEnd,
    TriggerIntent,
    retry_backoff,
    snapshot_ids,
)
from hexbatch.errors import HexAPIError
from hexbatch.outcome import Attempt
from hexbatch.state.errors import StateError

# A trigger refused for these reasons would be refused to every run of the batch.
_STOPS_THE_BATCH: Final = frozenset({Failure.UNAUTHENTICATED, Failure.FORBIDDEN})


class _Again(Enum):
    """A try created no run, and the trigger is sent again."""

    AT_ONCE = "at once"
    """Sent again as soon as the kernel gate opens (the kernels were busy)."""
    AFTER_BACKOFF = "after backing off"
    """Sent again after a backoff, counted against the batch's trigger rounds."""


@dataclass(slots=True)
class _Tries:
    """What the tries of one attempt's trigger have spent so far."""

    number: int
    """The attempt's number."""
    rounds: int = 0
    quota_waited: float = 0.0
    kernels_busy_since: float | None = None


class Triggerer(Reconciler):
    """Sends the trigger of a run's next attempt."""

    async def _trigger(self) -> Attempt | AttemptEnd:
        """Send the trigger; return the new attempt, or how the run ended without one."""
        tries = _Tries(number=self.item.next_number)
        while True:
            with self.ctx.control.until_stopped():
                await self.ctx.gate.wait(fallback=self.project.poll.max)
            if self.ctx.control.stopping:
                return self._not_triggered()
            async with self.ctx.trigger_lock(self.spec.project_id):
                result = await self._try_trigger(tries)
            if result is _Again.AFTER_BACKOFF:
                poll, settings = self.project.poll, self.ctx.settings
                with self.ctx.control.until_stopped():
                    await settings.sleep(
                        poll.initial + retry_backoff(poll).full_jitter(tries.rounds, settings.rng)
                    )
            elif not isinstance(result, _Again):
                return result

    async def _try_trigger(self, tries: _Tries) -> Attempt | AttemptEnd | _Again:
        """One try, under the project's trigger lock: snapshot, intent, send."""
        halted = self.ctx.versions.halted.get(self.spec.project_id)
        if halted is not None:
            return self._halted(halted)
        prepared = await self._prepare()
        if isinstance(prepared, AttemptEnd):
            return prepared
        reservation, seen_before = prepared
        tries.quota_waited += reservation.waited_s
        self.ctx.quota_waited += reservation.waited_s
        intent = self._record_intent(tries, seen_before)
        if intent is None:
            return self._not_triggered()
        self.log.debug("trigger_sending", attempt=tries.number)
        try:
            return self._created(intent.at, await self._send(reservation))
        except HexAPIError as error:
            return await self._failed_send(intent, error, tries)

    def _record_intent(
        self, tries: _Tries, seen_before: frozenset[str] | None
    ) -> TriggerIntent | None:
        """Record durably that the trigger is about to go out (None: the store failed, and
        the batch stops: no trigger goes out without a durable intent, since a crash
        could otherwise leave a run nobody knows about)."""
        settings = self.ctx.settings
        at = settings.now()
        quota_wait_ms = tries.quota_waited * 1000
        try:
            self.ctx.journal.record_intent(
                self.spec.key,
                tries.number,
                at,
                seen_before=seen_before,
                quota_wait_ms=quota_wait_ms,
            )
        except StateError as error:
            self.ctx.control.stop(f"the state store cannot be written: {error}")
            return None
        self._open = TriggerIntent(tries.number, at, settings.clock(), seen_before, quota_wait_ms)
        return self._open

    async def _failed_send(
        self, intent: TriggerIntent, error: HexAPIError, tries: _Tries
    ) -> Attempt | AttemptEnd | _Again:
        """What the trigger's failure means for the run, as the failure table says."""
        failure = failure_of(error)
        meaning = meaning_of(RequestKind.TRIGGER, failure)
        if failure is Failure.WITHDRAWN:
            self._withdraw()
            return self._not_triggered()
        if failure is Failure.UNAVAILABLE:
            return self._kernels_busy(intent, error, tries)
        if meaning is Meaning.FINAL:
            if failure in _STOPS_THE_BATCH:
                self.ctx.control.abort(error)
            return self._failed_attempt(intent.at, AttemptEnd(status.TRIGGER_FAILED, str(error)))
        problem = str(error)
        if meaning is Meaning.MAYBE_PROCESSED:
            settled = await self._settle_ambiguous(intent, error)
            if settled is not None:
                return settled
            problem = f"no run was created ({error})"
        return self._not_created(intent, problem, tries)

    def _kernels_busy(
        self, intent: TriggerIntent, error: HexAPIError, tries: _Tries
    ) -> AttemptEnd | _Again:
        """Hex's 503: the user's kernels are all busy and no run was created."""
        self._withdraw()
        # Busy kernels free up as runs end; but a 503 that outlasts the run's own
        # timeout is no kernel queue any more.
        now = self.ctx.settings.clock()
        tries.kernels_busy_since = tries.kernels_busy_since or now
        if now - tries.kernels_busy_since > self.project.timeout:
            return self._failed_attempt(
                intent.at,
                AttemptEnd(
                    status.TRIGGER_FAILED,
                    f"Hex answered 503 for longer than the run's timeout: {error}",
                ),
            )
        self.ctx.gate.close()
        self.log.warning("trigger_throttled", reason="kernel_limit")
        return _Again.AT_ONCE

    def _not_created(
        self, intent: TriggerIntent, problem: str, tries: _Tries
    ) -> AttemptEnd | _Again:
        """Nothing was created: the trigger may be sent again, a bounded number of times."""
        self._withdraw()
        tries.rounds += 1
        if tries.rounds >= self.ctx.settings.trigger_rounds:
            return self._failed_attempt(
                intent.at,
                AttemptEnd(status.TRIGGER_FAILED, f"gave up after {tries.rounds} tries: {problem}"),
            )
        self.log.warning("trigger_retrying", reason=problem, round=tries.rounds)
        return _Again.AFTER_BACKOFF

    async def _prepare(self) -> tuple[Reservation, frozenset[str] | None] | AttemptEnd:
        """Take the trigger's budget slots and the snapshot of the project's runs.

        Both are waits before anything is sent, so a stop ends them. A server-advised
        wait (429 Retry-After) longer than the run's whole timeout is not waited out:
        the trigger fails at once and says so.
        """
        client = self.ctx.client
        waiting, why = client.advised_trigger_wait()
        if waiting > self.project.timeout:
            return self._failed_attempt(
                self.ctx.settings.now(),
                AttemptEnd(
                    status.TRIGGER_FAILED,
                    f"{why}: {waiting:.0f}s, longer than the run's timeout of "
                    f"{self.project.timeout:g}s; not waiting",
                ),
            )
        dry_run = self.ctx.settings.dry_run
        seen_before: frozenset[str] | None = None
        with self.ctx.control.until_stopped():
            reservation = await client.reserve_trigger(reads=0 if dry_run else 1)
            if not dry_run:  # a dry run creates nothing, so there is nothing to tell apart
                seen_before = await self._snapshot(reservation)
            return reservation, seen_before
        return self._not_triggered()

    async def _snapshot(self, reservation: Reservation) -> frozenset[str] | None:
        """The ids of the project's runs that already exist, right before the trigger."""
        earliest = self.ctx.settings.now() - timedelta(seconds=self.ctx.settings.reconcile_skew)
        try:
            page = await self.ctx.client.list_runs_page(
                self.spec.project_id, limit=LISTED_RUNS, reservation=reservation
            )
        except HexAPIError as error:
            # Triggering goes on; should its answer be lost, no run can be adopted.
            self.log.warning("trigger_snapshot_failed", error=str(error))
            return None
        return snapshot_ids(list(page.runs), earliest)

    async def _send(self, reservation: Reservation) -> RunCreated:
        run = self.project.run
        return await self.ctx.client.run_project(
            self.spec.project_id,
            dict(self.spec.params) or None,
            dry_run=self.ctx.settings.dry_run,
            update_published_results=run.update_published_results,
            use_cached_sql_results=run.use_cached_sql_results,
            view_id=run.view_id,
            notifications=run.notifications or None,
            retry_kernel_limit=False,
            # A retry of a trigger Hex provably did not create waits for the budgets
            # again; withdraw it if the batch stopped meanwhile.
            cancel_if=lambda: self.ctx.control.stopping,
            reservation=reservation,
        )

    def _created(self, at: datetime, created: RunCreated) -> Attempt | AttemptEnd:
        intent, self._open = self._open, None
        run_id = created.run_id
        attempt = Attempt(
            triggered_at=at,
            run_id=run_id,
            run_url=created.run_url,
            status=status.PENDING,
            project_version=created.project_version,
            quota_wait_ms=None if intent is None else intent.quota_wait_ms,
            number=self.item.next_number if intent is None else intent.number,
        )
        self.item.attempts.append(attempt)
        self.ctx.claimed.add(run_id)
        number = self.item.number_of(attempt)
        self.ctx.journal.record_triggered(
            self.spec.key,
            number,
            run_id,
            created.run_url,
            at,
            project_version=created.project_version,
        )
        self.ctx.versions.observe(self.project, created.project_version)
        self.log.info("run_triggered", run_id=run_id, attempt=number)
        if self.ctx.settings.dry_run:
            # Hex validated the inputs and created nothing to follow.
            attempt.status = status.COMPLETED
            attempt.finished_at = at
            self.ctx.journal.record_status(self.spec.key, number, status.COMPLETED, finished_at=at)
            return AttemptEnd(status.COMPLETED)
        return attempt
