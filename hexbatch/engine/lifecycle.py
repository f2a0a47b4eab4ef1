"""One planned run from trigger to final status: trigger, follow, time out, retry.

The rules that keep a batch honest live here:

* Right before a trigger is sent, the project's runs are listed (a snapshot) and
  the intent is recorded with the ids seen. A trigger whose outcome is unknown
  (timeout, reset, 5xx after sending) is reconciled against the project's run
  list before anything else. Triggers of one project go one at a time, so a run
  that nobody claimed, that was not in the snapshot and that did not start
  before the intent is ours; when none appears until the trigger's own request
  timeout (plus clock skew) has passed, none was created and the trigger is sent
  again; anything else ends UNKNOWN rather than risking a duplicate or adopting
  another client's run.
* An interrupt that lands while a trigger's outcome is being settled leaves the
  attempt unresolved (the run stays open in the state store, and the next run of
  the batch settles it), after one last shielded look that cancels the run in
  Hex if it can be found.
* A run whose id is known is followed until its own timeout through failed
  reads (5xx, resets, timeouts), backing off; only a 404 that persists for
  several reads over more than a minute ends it UNKNOWN.
* A run past its timeout is cancelled in Hex and its final state confirmed.
* A run ending in one of its ``retries.on`` statuses is triggered again, with
  backoff, while attempts remain; every attempt stays in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import structlog

from hexbatch import status
from hexbatch.cancelling import CancelConfirmation
from hexbatch.client import Reservation
from hexbatch.engine.context import BatchContext
from hexbatch.engine.work import WorkItem
from hexbatch.errors import (
    AuthenticationError,
    HexAPIError,
    KernelLimitError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    RequestNotSentError,
    SendCancelled,
)
from hexbatch.manifest import PollSettings
from hexbatch.models import RunCreated, RunInfo
from hexbatch.outcome import UNSETTLED, Attempt, RunOutcome
from hexbatch.retry import Backoff
from hexbatch.state.errors import StateError

log = structlog.get_logger("hexbatch.engine")

# A 404 for a run whose id Hex gave us is believed only when it persists: this many
# reads in a row, spread over at least EngineSettings.lost_after (read-after-write lag).
_GONE_READS = 3
_CONFIRM_READS = 3
# The newest runs listed in a snapshot and read when reconciling.
_LISTED = 100
# Look this long after a run's expected end, so the end is already recorded.
_END_SLACK = 0.005


def _run_id_of(attempt: Attempt) -> str:
    if attempt.run_id is None:
        raise AssertionError("unreachable")  # only attempts with a run id are followed
    return attempt.run_id


def _new_since(run: RunInfo, earliest: datetime) -> bool:
    """Whether a listed run may have been created after ``earliest``.

    A run without a start time is only a candidate while it has not ended: a run
    that ended without starting (UNABLE_TO_ALLOCATE_KERNEL) may be of any age.
    """
    if run.start_time is not None:
        return run.start_time >= earliest
    return not run.terminal


def _backoff(poll: PollSettings) -> Backoff:
    """The doubling backoff between a run's retries, re-sent triggers and failed reads."""
    return Backoff(initial=poll.initial, max=poll.max, multiplier=2.0)


def _ended(info: RunInfo) -> _Final:
    """How an attempt ended, from Hex's terminal status."""
    if info.status == status.COMPLETED:
        return _Final(status.COMPLETED)
    return _Final(info.status, f"Hex reported {info.status}")


@dataclass(frozen=True, slots=True)
class _Final:
    """How an attempt ended (``settled=False``: not final, a resume picks the run up)."""

    status: str
    error: str | None = None
    settled: bool = True


@dataclass(frozen=True, slots=True)
class _Intent:
    """A trigger recorded as intended and sent (or about to be), its outcome not yet known.

    ``sent_at`` is on the engine's monotonic clock; ``seen_before`` holds the run
    ids listed right before sending (None when no snapshot could be taken).
    """

    number: int
    at: datetime
    sent_at: float
    seen_before: frozenset[str] | None
    quota_wait_ms: float | None = None


def _snapshot_ids(runs: list[RunInfo], earliest: datetime) -> frozenset[str]:
    """The ids in a listing that could later pass for a new run: live, or started lately."""
    return frozenset(run.run_id for run in runs if _new_since(run, earliest))


class RunLifecycle:
    """Drives one :class:`WorkItem` to its final :class:`RunOutcome`."""

    def __init__(self, ctx: BatchContext, item: WorkItem) -> None:
        self.ctx = ctx
        self.item = item
        self.spec = item.spec
        self.project = item.spec.project
        self.log = log.bind(project=self.spec.project_name, key=self.spec.key)
        # A --rerun gets the full retry budget again; a resumed run keeps what it used.
        self.first_attempt = len(item.attempts) if item.rerun else 0
        # The trigger sent (or about to be) whose outcome is not settled yet.
        self._open: _Intent | None = None

    # -- the whole run ------------------------------------------------------------------

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
                if isinstance(attempt_or_final, _Final):
                    return self._outcome(attempt_or_final)
                final = await self._follow(attempt_or_final)
            if not self._should_retry(final):
                return self._outcome(final)
            with self.ctx.control.until_stopped():
                await self._wait_before_retry(final)
            final = None

    def _outcome(self, final: _Final) -> RunOutcome:
        return self.item.outcome(final.status, final.error, settled=final.settled)

    async def _resume(self) -> _Final | None:
        """Pick up where an earlier process left this run, if it did."""
        last = self.item.attempts[-1] if self.item.attempts else None
        if last is None or self.item.rerun:
            return None
        if last.status is not None and (
            status.is_terminal(last.status) or last.status in status.FINAL_STATUSES
        ):
            # It ended before the process stopped; only its final record was missing.
            return _Final(last.status, last.error)
        if last.run_id is not None:
            self.log.info("run_reattached", run_id=last.run_id, attempt=len(self.item.attempts))
            return await self._follow(last)
        # An intent with no run id: the process died mid-trigger. Settle it while no
        # other trigger of the project is in flight, so a run nobody claimed yet can
        # only be this one.
        settings = self.ctx.settings
        at = last.triggered_at or settings.now()
        age = max(0.0, (settings.now() - at).total_seconds())
        self._open = _Intent(len(self.item.attempts), at, settings.clock() - age, last.seen_before)
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

    def _stopped(self) -> _Final:
        """How the run ends when no further trigger of it is sent (the batch stopped)."""
        last = self.item.attempts[-1] if self.item.attempts else None
        if last is not None and last.status is not None:
            # It ended with this status; the retry it earned was never started.
            return _Final(last.status, last.error)
        return self._not_triggered()

    def _halted(self, reason: str) -> _Final:
        """No further trigger of the project (its version changed): the run ends as it
        stands, a failed one unretried, one never triggered SKIPPED with the reason."""
        self.log.warning("trigger_withheld", reason=reason)
        last = self.item.attempts[-1] if self.item.attempts else None
        if last is not None and last.status is not None:
            return _Final(last.status, "; ".join(filter(None, (last.error, reason))))
        return _Final(status.SKIPPED, reason)

    def _not_triggered(self) -> _Final:
        return _Final(status.SKIPPED, f"not triggered: {self.ctx.control.reason}", settled=False)

    async def _interrupted(self) -> _Final:
        """The cancelling interrupt ended the trigger phase.

        Before anything was sent, the run simply was not triggered. After a trigger
        went out, its outcome is open: the attempt stays unresolved (never reported
        with the previous attempt's status) unless one last shielded look finds the
        run, which is then cancelled in Hex like every other live run.
        """
        intent = self._open
        if intent is None:
            return self._stopped()
        if len(self.item.attempts) < intent.number:
            self.item.attempts.append(Attempt(triggered_at=intent.at))
        attempt = self.item.attempts[intent.number - 1]
        found: RunInfo | _Final | None = None
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.ctx.settings.cancel_grace):
            found = await self._reconcile(intent, final_look=True)
        if isinstance(found, RunInfo):
            self._adopt(attempt, found)
            return await self._cancel(attempt, status.CANCELLED, "cancelled on user request")
        self.log.warning("trigger_unsettled", attempt=intent.number, reason=UNSETTLED)
        return _Final(status.UNKNOWN, UNSETTLED, settled=False)

    def _withdraw(self) -> None:
        """The open trigger provably created no run: forget its intent."""
        intent, self._open = self._open, None
        if intent is not None:
            self.ctx.journal.withdraw_intent(self.spec.key, intent.number)

    def _should_retry(self, final: _Final) -> bool:
        retries = self.project.retries
        return (
            final.status in retries.on
            and len(self.item.attempts) - self.first_attempt <= retries.attempts
            and not self.ctx.control.stopping
        )

    async def _wait_before_retry(self, final: _Final) -> None:
        """Back off before the next attempt (ended at once by a stop)."""
        poll = self.project.poll
        wait = poll.initial + _backoff(poll).full_jitter(
            len(self.item.attempts) - 1, self.ctx.settings.rng
        )
        self.log.warning(
            "run_retrying",
            status=final.status,
            attempt=len(self.item.attempts) + 1,
            wait_s=round(wait, 3),
        )
        await self.ctx.settings.sleep(wait)

    # -- triggering ---------------------------------------------------------------------

    async def _trigger(self) -> Attempt | _Final:
        """Send the trigger; return the new attempt, or how the run ended without one."""
        settings = self.ctx.settings
        number = len(self.item.attempts) + 1
        rounds = 0
        quota_waited = 0.0
        kernels_busy_since: float | None = None
        while True:
            with self.ctx.control.until_stopped():
                await self.ctx.gate.wait(fallback=self.project.poll.max)
            if self.ctx.control.stopping:
                return self._not_triggered()
            async with self.ctx.trigger_lock(self.spec.project_id):
                halted = self.ctx.versions.halted.get(self.spec.project_id)
                if halted is not None:
                    return self._halted(halted)
                prepared = await self._prepare()
                if isinstance(prepared, _Final):
                    return prepared
                reservation, seen_before = prepared
                quota_waited += reservation.waited_s
                self.ctx.quota_waited += reservation.waited_s
                at = settings.now()
                try:
                    self.ctx.journal.record_intent(
                        self.spec.key,
                        number,
                        at,
                        seen_before=seen_before,
                        quota_wait_ms=quota_waited * 1000,
                    )
                except StateError as error:
                    # No trigger goes out without a durable intent: a crash could
                    # otherwise leave a run nobody knows about.
                    self.ctx.control.stop(f"the state store cannot be written: {error}")
                    return self._not_triggered()
                intent = self._open = _Intent(
                    number, at, settings.clock(), seen_before, quota_waited * 1000
                )
                self.log.debug("trigger_sending", attempt=number)
                try:
                    return self._created(at, await self._send(reservation))
                except SendCancelled:
                    self._withdraw()
                    return self._not_triggered()
                except KernelLimitError as error:
                    self._withdraw()
                    # Busy kernels free up as runs end; but a 503 that outlasts the
                    # run's own timeout is no kernel queue any more.
                    now = settings.clock()
                    kernels_busy_since = kernels_busy_since or now
                    if now - kernels_busy_since > self.project.timeout:
                        return self._failed_attempt(
                            at,
                            _Final(
                                status.TRIGGER_FAILED,
                                f"Hex answered 503 for longer than the run's timeout: {error}",
                            ),
                        )
                    self.ctx.gate.close()
                    self.log.warning("trigger_throttled", reason="kernel_limit")
                    continue
                except OutcomeUnknownError as error:
                    settled = await self._settle_ambiguous(intent, error)
                    if settled is not None:
                        return settled
                    problem = f"no run was created ({error})"
                except (RateLimitedError, RequestNotSentError) as error:
                    problem = str(error)
                except (AuthenticationError, PermissionDeniedError) as error:
                    self.ctx.control.abort(error)
                    return self._failed_attempt(at, _Final(status.TRIGGER_FAILED, str(error)))
                except HexAPIError as error:
                    return self._failed_attempt(at, _Final(status.TRIGGER_FAILED, str(error)))
                # Nothing was created: the trigger may be sent again, a bounded number of times.
                self._withdraw()
                rounds += 1
                if rounds >= settings.trigger_rounds:
                    return self._failed_attempt(
                        at,
                        _Final(status.TRIGGER_FAILED, f"gave up after {rounds} tries: {problem}"),
                    )
                self.log.warning("trigger_retrying", reason=problem, round=rounds)
            poll = self.project.poll
            with self.ctx.control.until_stopped():
                await settings.sleep(
                    poll.initial + _backoff(poll).full_jitter(rounds, settings.rng)
                )

    async def _prepare(self) -> tuple[Reservation, frozenset[str] | None] | _Final:
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
                _Final(
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
                self.spec.project_id, limit=_LISTED, reservation=reservation
            )
        except HexAPIError as error:
            # Triggering goes on; should its answer be lost, no run can be adopted.
            self.log.warning("trigger_snapshot_failed", error=str(error))
            return None
        return _snapshot_ids(list(page.runs), earliest)

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

    def _created(self, at: datetime, created: RunCreated) -> Attempt | _Final:
        intent, self._open = self._open, None
        run_id = created.run_id
        attempt = Attempt(
            triggered_at=at,
            run_id=run_id,
            run_url=created.run_url,
            status=status.PENDING,
            project_version=created.project_version,
            quota_wait_ms=None if intent is None else intent.quota_wait_ms,
        )
        self.item.attempts.append(attempt)
        self.ctx.claimed.add(run_id)
        number = len(self.item.attempts)
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
            return _Final(status.COMPLETED)
        return attempt

    def _failed_attempt(self, at: datetime, final: _Final) -> _Final:
        self._open = None
        attempt = Attempt(triggered_at=at, status=final.status, error=final.error)
        self.item.attempts.append(attempt)
        self.ctx.journal.record_status(
            self.spec.key, len(self.item.attempts), final.status, error=final.error
        )
        self.log.error("trigger_failed", error=final.error)
        return final

    async def _settle_ambiguous(
        self, intent: _Intent, error: OutcomeUnknownError
    ) -> Attempt | _Final | None:
        """Find out whether an ambiguous trigger created a run (None: it did not)."""
        if self.ctx.settings.dry_run:
            return None  # a dry run creates nothing, so sending it again is harmless
        self.log.warning("trigger_ambiguous", error=str(error))
        found = await self._reconcile(intent)
        if isinstance(found, RunInfo):
            attempt = Attempt(triggered_at=intent.at, quota_wait_ms=intent.quota_wait_ms)
            self.item.attempts.append(attempt)
            self._adopt(attempt, found)
            return attempt
        if found is None:
            return None
        return self._failed_attempt(intent.at, found)

    def _reconcile_window(self) -> float:
        """Seconds after sending before "no run was created" may be concluded.

        Hex may still create a run after the client gave up waiting for its answer,
        so that takes at least the request's own timeout, plus the clock skew.
        """
        settings = self.ctx.settings
        if settings.reconcile_window is not None:
            return settings.reconcile_window
        return self.ctx.client.timeouts.total + settings.reconcile_skew

    async def _reconcile(
        self, intent: _Intent, *, final_look: bool = False
    ) -> RunInfo | _Final | None:
        """Match an ambiguous trigger to a run in Hex's list of the project's runs.

        Returns the run when exactly one run appeared that can only be this trigger's
        (unclaimed, triggered through the API, not in the snapshot taken right before
        sending, not started before the intent); None when reads until the end of the
        reconcile window show no such run; an UNKNOWN final otherwise. With
        ``final_look`` (an interrupt), one read decides and "none" is not concluded.
        """
        settings = self.ctx.settings
        earliest = intent.at - timedelta(seconds=settings.reconcile_skew)
        decide_after = intent.sent_at + self._reconcile_window()
        backoff = _backoff(self.project.poll)
        listed = False
        last_error = ""
        check = 0
        while True:
            if check:
                rest = decide_after - settings.clock()
                await settings.sleep(max(0.0, min(backoff.ceiling(check), rest)))
            check += 1
            try:
                runs = await self.ctx.client.list_runs(self.spec.project_id, max_runs=_LISTED)
            except HexAPIError as error:
                last_error = str(error)
            else:
                listed = True
                decided = self._match(runs, earliest, intent.seen_before)
                if decided is not None or final_look:
                    return decided
            if final_look:
                return None
            if check >= settings.reconcile_checks and settings.clock() >= decide_after:
                break
        if not listed:
            return _Final(
                status.UNKNOWN,
                "the trigger's outcome is unknown and the project's runs could not be listed "
                f"({last_error}); not retriggering to avoid a duplicate",
            )
        self.log.info("trigger_reconciled", created=False)
        return None

    def _match(
        self, runs: list[RunInfo], earliest: datetime, seen_before: frozenset[str] | None
    ) -> RunInfo | _Final | None:
        """The one listed run that can only be this trigger's, an UNKNOWN, or None."""
        candidates = [
            run
            for run in runs
            if run.run_id not in self.ctx.claimed
            and run.run_trigger in (None, "API")
            and _new_since(run, earliest)
            and (seen_before is None or run.run_id not in seen_before)
        ]
        if candidates:
            # Another batch (of any manifest, in any earlier year) may have claimed one:
            # only the runs still in question are looked up in its records.
            try:
                taken = self.ctx.journal.claimed({run.run_id for run in candidates})
            except StateError as error:
                return _Final(
                    status.UNKNOWN,
                    f"the trigger's outcome is unknown and the state store could not tell "
                    f"whether {len(candidates)} unclaimed run(s) belong to another batch "
                    f"({error}); not adopting, not retriggering (check in Hex, then use "
                    "--rerun unknown)",
                )
            self.ctx.claimed.update(taken)
            candidates = [run for run in candidates if run.run_id not in taken]
        if not candidates:
            return None
        if seen_before is None:
            return _Final(
                status.UNKNOWN,
                f"the trigger's outcome is unknown and {len(candidates)} unclaimed run(s) "
                f"({', '.join(run.run_id for run in candidates)}) may be another client's: "
                "the project's runs could not be listed before the trigger; not adopting, "
                "not retriggering (check in Hex, then use --rerun unknown)",
            )
        if len(candidates) > 1:
            return _Final(
                status.UNKNOWN,
                f"the trigger's outcome is unknown and {len(candidates)} unclaimed runs "
                "appeared meanwhile; not retriggering to avoid a duplicate "
                "(check them in Hex, then use --rerun unknown)",
            )
        return candidates[0]

    def _adopt(self, attempt: Attempt, info: RunInfo) -> None:
        self._open = None
        attempt.run_id = info.run_id
        attempt.run_url = info.run_url
        self._take_facts(attempt, info)
        self.ctx.claimed.add(info.run_id)
        number = self.item.attempts.index(attempt) + 1
        at = attempt.triggered_at or self.ctx.settings.now()
        self.ctx.journal.record_triggered(
            self.spec.key,
            number,
            info.run_id,
            info.run_url,
            at,
            project_version=info.project_version,
        )
        if info.status != status.PENDING or info.state_events:
            self._journal_attempt(attempt)  # the journal notes a new run as PENDING
        self.log.info("trigger_reconciled", created=True, run_id=info.run_id)

    # -- following ----------------------------------------------------------------------

    def _deadline(self, attempt: Attempt) -> float:
        settings = self.ctx.settings
        started = attempt.triggered_at or settings.now()
        used = (settings.now() - started).total_seconds()
        return settings.clock() + max(0.0, self.project.timeout - used)

    async def _follow(self, attempt: Attempt) -> _Final:
        """Poll the attempt's run until it ends, times out or the user cancels it."""
        run_id = _run_id_of(attempt)
        ctx = self.ctx
        run_log = self.log.bind(run_id=run_id)
        deadline = self._deadline(attempt)
        ctx.board.follow(self.spec.project_id, run_id)
        ctx.live_runs += 1
        try:
            with ctx.control.until_cancelled() as scope:
                final = await self._poll_until_done(attempt, deadline, run_log)
                if final is None:
                    # The deadline passed: one last look, in case it has just ended.
                    final = await self._ended_now(attempt, run_log)
                if final is not None:
                    return final
            if scope.cancelled_caught:
                return await self._cancel(attempt, status.CANCELLED, "cancelled on user request")
            run_log.warning("run_timed_out", timeout_s=self.project.timeout)
            return await self._cancel(
                attempt,
                status.TIMED_OUT,
                f"cancelled after its timeout of {self.project.timeout:g}s",
            )
        finally:
            ctx.live_runs -= 1
            ctx.board.forget(self.spec.project_id, run_id)

    async def _ended_now(
        self, attempt: Attempt, run_log: structlog.typing.FilteringBoundLogger
    ) -> _Final | None:
        """The run's final state if Hex says it has ended, else None."""
        if self.ctx.client.read_wait() > self.ctx.settings.cancel_grace:
            return None  # a 429's pause holds reads; the cancel confirms the end
        try:
            info = await self.ctx.client.get_run_status(self.spec.project_id, _run_id_of(attempt))
        except HexAPIError:
            return None
        self._observe(attempt, info, run_log)
        return _ended(info) if info.terminal else None

    async def _poll_until_done(
        self, attempt: Attempt, deadline: float, run_log: structlog.typing.FilteringBoundLogger
    ) -> _Final | None:
        """Poll; return the final on a terminal status, None when the deadline passed.

        Failed reads (5xx, resets, timeouts, 429) never end the run: it exists, so it
        is followed until its own deadline, backing off. Only a 404 that persists is
        believed (see :data:`_GONE_READS`); one right after creation is read-after-write
        lag.
        """
        run_id = _run_id_of(attempt)
        settings = self.ctx.settings
        poll = self.project.poll
        backoff = _backoff(poll)
        failures = 0
        gone_reads = 0
        gone_since = 0.0
        polls = 0
        expected_end: datetime | None = None
        looked_at_end = False
        while True:
            plan = self.ctx.board.plan(self.spec.project_id, poll, polls, settings.rng)
            delay, max_age = plan.delay, plan.max_age
            if failures:
                delay = max(delay, backoff.ceiling(failures))
            elif expected_end is not None:
                # History says when this run should end: look right then, once, with a
                # fresh read, rather than up to a whole interval later.
                until = (expected_end - settings.now()).total_seconds() + _END_SLACK
                if until < delay:
                    delay, max_age = max(0.0, until), 0.0
                    expected_end, looked_at_end = None, True
            polls += 1
            remaining = deadline - settings.clock()
            if remaining <= 0:
                return None
            await settings.sleep(min(delay, remaining))
            if self._read_would_pass(deadline, run_log):
                return None
            try:
                info = await self.ctx.board.read(self.spec.project_id, run_id, max_age=max_age)
            except NotFoundError as error:
                failures += 1
                gone_reads += 1
                if gone_reads == 1:
                    gone_since = settings.clock()
                gone_for = settings.clock() - gone_since
                run_log.warning("run_not_found", error=str(error), reads=gone_reads)
                if gone_reads >= _GONE_READS and gone_for >= settings.lost_after:
                    attempt.status = status.UNKNOWN
                    attempt.error = (
                        f"lost track of the run: Hex answered 404 to {gone_reads} reads in a "
                        f"row over {gone_for:.0f}s ({error})"
                    )
                    self._journal_attempt(attempt)
                    return _Final(status.UNKNOWN, attempt.error)
                continue
            except HexAPIError as error:
                failures += 1
                gone_reads = 0
                run_log.warning("run_poll_failed", error=str(error), failures=failures)
                continue
            failures = gone_reads = 0
            self._observe(attempt, info, run_log)
            if info.terminal:
                await self._read_timeline(attempt, info, run_log)
                return _ended(info)
            if not looked_at_end and expected_end is None and info.start_time is not None:
                expected_end = self._expected_end(info.start_time)
                if expected_end is not None:
                    self.ctx.board.foresee(self.spec.project_id, run_id)

    async def _read_timeline(
        self, attempt: Attempt, info: RunInfo, run_log: structlog.typing.FilteringBoundLogger
    ) -> None:
        """Confirm a run's end seen on a list page with its own status read, for its
        state events.

        A list page carries no events; one status read (with expanded stats) fetches
        them, but only when the request budget has room now: the timeline is worth a
        spare request, never a wait. An end seen by a status read is not read again.
        """
        if not info.listed or info.state_events is not None or self.ctx.client.read_wait() > 0:
            return
        try:
            confirmed = await self.ctx.client.get_run_status(self.spec.project_id, info.run_id)
        except HexAPIError:
            return  # the end is known; only its timeline is missing
        if confirmed.terminal:
            self._observe(attempt, confirmed, run_log)

    def _read_would_pass(
        self, deadline: float, run_log: structlog.typing.FilteringBoundLogger
    ) -> bool:
        """True when the deadline has passed, or the request budget (a 429's pause, say)
        would hold the next read beyond it: a read never waits past the run's deadline."""
        now = self.ctx.settings.clock()
        if now >= deadline:
            return True
        wait = self.ctx.client.read_wait()
        if wait > deadline - now:
            run_log.warning("run_read_blocked", wait_s=round(wait, 1), deadline_in_s=deadline - now)
            return True
        return False

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
                self.item.attempts.index(attempt) + 1,
                attempt.status,
                finished_at=attempt.finished_at,
                elapsed_ms=attempt.elapsed_ms,
                error=attempt.error,
                started_at=attempt.started_at,
                project_version=attempt.project_version,
                state_events=attempt.state_events,
            )

    def _expected_end(self, started: datetime) -> datetime | None:
        """When an earlier batch's duration says this run will end, if there is one."""
        seconds = self.ctx.settings.durations.get(self.spec.key)
        return None if seconds is None else started + timedelta(seconds=seconds)

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

    async def _cancel(self, attempt: Attempt, final_status: str, reason: str) -> _Final:
        """Cancel the run in Hex and confirm its end state (shielded, bounded in time)."""
        run_id = _run_id_of(attempt)
        ctx, settings = self.ctx, self.ctx.settings
        run_log = self.log.bind(run_id=run_id)
        confirmation = CancelConfirmation()
        with anyio.CancelScope(shield=True), anyio.move_on_after(settings.cancel_grace):
            await confirmation.request(
                ctx.client,
                self.spec.project_id,
                run_id,
                reads=_CONFIRM_READS,
                pause=lambda check: settings.sleep(self.project.poll.initial * (check + 1)),
            )
        if confirmation.error is not None:
            run_log.error("run_cancel_failed", error=str(confirmation.error))
            reason = f"{reason}; cancelling in Hex failed: {confirmation.error}"
        if confirmation.seen is not None:
            self._observe(attempt, confirmation.seen, run_log)
            if confirmation.ended_on_its_own:
                return _ended(confirmation.seen)
        run_log.warning("run_cancelled", status=final_status)
        attempt.error = reason
        self._journal_attempt(attempt)
        return _Final(final_status, reason)
