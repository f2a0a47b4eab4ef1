"""One planned run from trigger to final status: trigger, follow, time out, retry.

The rules that keep a batch honest, and the module each lives in:

* Right before a trigger is sent, the project's runs are listed (a snapshot) and
  the intent is recorded with the ids seen. A trigger whose outcome is unknown
  (timeout, reset, 5xx after sending) is reconciled against the project's run
  list before anything else. Triggers of one project go one at a time, so a run
  that nobody claimed, that was not in the snapshot and that did not start
  before the intent is ours; when none appears until the trigger's own request
  timeout (plus clock skew) has passed, none was created and the trigger is sent
  again; anything else ends UNKNOWN rather than risking a duplicate or adopting
  another client's run. (:mod:`~hexbatch.engine.trigger`, what a failed trigger
  means is :mod:`hexbatch.api.request_failures`' table; :mod:`~hexbatch.engine.reconcile`.)
* An interrupt that lands while a trigger's outcome is being settled leaves the
  attempt unresolved (the run stays open in the state store, and the next run of
  the batch settles it), after one last shielded look that cancels the run in
  Hex if it can be found. (Here.)
* A run whose id is known is followed until its own timeout through failed
  reads (5xx, resets, timeouts), backing off; only a 404 that persists for
  several reads over more than a minute ends it UNKNOWN.
* A run past its timeout is cancelled in Hex and its final state confirmed.
  (:mod:`~hexbatch.engine.follow`.)
* A run ending in one of its ``retries.on`` statuses is triggered again, with
  backoff, while attempts remain; every attempt stays in the report. (Here, with
  resuming a run an earlier process left.)
"""

from __future__ import annotations

import anyio

from hexbatch import status
from hexbatch.api.models import RunInfo
from hexbatch.engine.follow import Follower
from hexbatch.engine.run_state import AttemptEnd, TriggerIntent, retry_backoff
from hexbatch.engine.trigger import Triggerer
from hexbatch.outcome import UNSETTLED, Attempt, RunOutcome


class RunLifecycle(Triggerer, Follower):
    """Drives one :class:`WorkItem` to its final :class:`RunOutcome`."""

    async def run(self) -> RunOutcome:
        """Trigger (or reattach), follow, and retry until the run's final status."""
        final = await self._resume()
        while True:
            if final is None:
                if self.ctx.control.stopping:
                    return self._outcome(self._stopped())
                with self.ctx.control.until_cancelled() as phase:
                    attempt_or_final = await self._trigger()
                if phase.cancelled_caught:
                    return self._outcome(await self._interrupted())
                if isinstance(attempt_or_final, AttemptEnd):
                    return self._outcome(attempt_or_final)
                final = await self._follow(attempt_or_final)
            if not self._should_retry(final):
                return self._outcome(final)
            with self.ctx.control.until_stopped():
                await self._wait_before_retry(final)
            final = None

    async def _resume(self) -> AttemptEnd | None:
        """Pick up where an earlier process left this run, if it did."""
        last = self.item.attempts[-1] if self.item.attempts else None
        if last is None or self.item.rerun:
            return None
        if last.status is not None and (
            status.is_terminal(last.status) or last.status in status.FINAL_STATUSES
        ):
            # It ended before the process stopped; only its final record was missing.
            return AttemptEnd(last.status, last.error)
        if last.run_id is not None:
            self.log.info("run_reattached", run_id=last.run_id, attempt=len(self.item.attempts))
            return await self._follow(last)
        # An intent with no run id: the process died mid-trigger. Settle it while no
        # other trigger of the project is in flight, so a run nobody claimed yet can
        # only be this one.
        settings = self.ctx.settings
        at = last.triggered_at or settings.now()
        age = max(0.0, (settings.now() - at).total_seconds())
        self._open = TriggerIntent(
            self.item.number_of(last), at, settings.clock() - age, last.seen_before
        )
        with self.ctx.control.until_cancelled() as phase:
            async with self.ctx.trigger_lock(self.spec.project_id):
                found = await self._reconcile(self._open)
                if isinstance(found, RunInfo):
                    self._adopt(last, found)
        if phase.cancelled_caught:
            return await self._interrupted()
        if isinstance(found, RunInfo):
            return await self._follow(last)
        if found is None:
            self._withdraw()
            self.item.attempts.pop()
            return None
        self._open = None
        last.status = status.UNKNOWN
        last.error = found.error
        self._journal_attempt(last)
        return found

    async def _interrupted(self) -> AttemptEnd:
        """The cancelling interrupt ended the trigger phase.

        Before anything was sent, the run simply was not triggered. After a trigger
        went out, its outcome is open: the attempt stays unresolved (never reported
        with the previous attempt's status) unless one last shielded look finds the
        run, which is then cancelled in Hex like every other live run.
        """
        intent = self._open
        if intent is None:
            return self._stopped()
        if self.item.next_number <= intent.number:
            self.item.attempts.append(Attempt(triggered_at=intent.at, number=intent.number))
        attempt = next(a for a in self.item.attempts if self.item.number_of(a) == intent.number)
        found: RunInfo | AttemptEnd | None = None
        with (
            anyio.CancelScope(shield=True),
            self.ctx.settings.time.move_on_after(self.ctx.settings.cancel_grace),
        ):
            found = await self._reconcile(intent, final_look=True)
        if isinstance(found, RunInfo):
            self._adopt(attempt, found)
            return await self._cancel(attempt, status.CANCELLED, "cancelled on user request")
        self.log.warning("trigger_unsettled", attempt=intent.number, reason=UNSETTLED)
        return AttemptEnd(status.UNKNOWN, UNSETTLED, settled=False)

    def _should_retry(self, final: AttemptEnd) -> bool:
        retries = self.project.retries
        return (
            final.status in retries.on
            and len(self.item.attempts) - self.first_attempt <= retries.attempts
            and not self.ctx.control.stopping
        )

    async def _wait_before_retry(self, final: AttemptEnd) -> None:
        """Back off before the next attempt (ended at once by a stop)."""
        poll = self.project.poll
        wait = poll.initial + retry_backoff(poll).full_jitter(
            len(self.item.attempts) - 1, self.ctx.settings.rng
        )
        self.log.warning(
            "run_retrying",
            status=final.status,
            attempt=len(self.item.attempts) + 1,
            wait_s=round(wait, 3),
        )
        await self.ctx.settings.sleep(wait)
