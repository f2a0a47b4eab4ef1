"""One planned run from trigger to final status: trigger, follow, time out, retry.

The rules that keep a batch honest live here:

* A trigger whose outcome is unknown (timeout, reset, 5xx after sending) is
  reconciled against the project's run list before anything else. Triggers of
  one project go one at a time, so when exactly one run nobody claimed appeared
  after the intent, it is ours; when none appeared in several reads, none was
  created and the trigger is sent again; anything else ends UNKNOWN rather than
  risking a duplicate.
* A run past its timeout is cancelled in Hex and its final state confirmed.
* A run ending in one of its ``retries.on`` statuses is triggered again, with
  backoff, while attempts remain; every attempt stays in the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import structlog

from hexbatch import status
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
from hexbatch.models import RunInfo
from hexbatch.outcome import Attempt, RunOutcome
from hexbatch.retry import Backoff

log = structlog.get_logger("hexbatch.engine")

# Consecutive failed status reads after which a run is given up as lost.
_MAX_READ_FAILURES = 8
_CONFIRM_READS = 3
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


def _ended(info: RunInfo) -> _Final:
    """How an attempt ended, from Hex's terminal status."""
    if info.status == status.COMPLETED:
        return _Final(status.COMPLETED)
    return _Final(info.status, f"Hex reported {info.status}")


@dataclass(frozen=True, slots=True)
class _Final:
    """How an attempt ended."""

    status: str
    error: str | None = None


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

    # -- the whole run ------------------------------------------------------------------

    async def run(self) -> RunOutcome:
        """Trigger (or reattach), follow, and retry until the run's final status."""
        final = await self._resume()
        while True:
            if final is None:
                if self.ctx.control.stopping:
                    return self._skipped()
                with self._interruptible() as phase:
                    attempt_or_final = await self._trigger()
                if phase.cancelled_caught:
                    return self._skipped()
                if isinstance(attempt_or_final, _Final):
                    return self.item.outcome(attempt_or_final.status, attempt_or_final.error)
                final = await self._follow(attempt_or_final)
            if not self._should_retry(final):
                return self.item.outcome(final.status, final.error)
            with self._interruptible():
                await self._wait_before_retry(final)
            final = None

    @contextmanager
    def _interruptible(self) -> Iterator[anyio.CancelScope]:
        """A phase of waiting (for a kernel, the budget, a backoff, a reconcile) that the
        cancelling interrupt ends at once; sends to Hex inside it are shielded."""
        with anyio.CancelScope() as scope:
            self.ctx.control.register(scope)
            try:
                yield scope
            finally:
                self.ctx.control.unregister(scope)

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
        with self._interruptible() as phase:
            async with self.ctx.trigger_lock(self.spec.project_id):
                found = await self._reconcile(last.triggered_at or self.ctx.settings.now())
                if isinstance(found, RunInfo):
                    self._adopt(last, found)
        if phase.cancelled_caught:
            # Left unresolved (SKIPPED is never final): the next resume settles it.
            return _Final(status.SKIPPED, "interrupted while settling an earlier trigger")
        if isinstance(found, RunInfo):
            return await self._follow(last)
        if found is None:
            self.item.attempts.pop()
            return None
        last.status = status.UNKNOWN
        last.error = found.error
        self.ctx.journal.record_status(
            self.spec.key, len(self.item.attempts), status.UNKNOWN, error=found.error
        )
        return found

    def _skipped(self) -> RunOutcome:
        last = self.item.attempts[-1] if self.item.attempts else None
        if last is not None and last.status is not None:
            return self.item.outcome(last.status, last.error)
        return self.item.outcome(status.SKIPPED, f"not triggered: {self.ctx.control.reason}")

    def _should_retry(self, final: _Final) -> bool:
        retries = self.project.retries
        return (
            final.status in retries.on
            and len(self.item.attempts) - self.first_attempt <= retries.attempts
            and not self.ctx.control.stopping
        )

    async def _wait_before_retry(self, final: _Final) -> None:
        poll = self.project.poll
        backoff = Backoff(initial=poll.initial, max=poll.max, multiplier=2.0)
        wait = poll.initial + backoff.full_jitter(
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
        kernels_busy_since: float | None = None
        while True:
            await self.ctx.gate.wait(fallback=self.project.poll.max)
            if self.ctx.control.stopping:
                return _Final(status.SKIPPED, f"not triggered: {self.ctx.control.reason}")
            async with self.ctx.trigger_lock(self.spec.project_id):
                if self.ctx.control.stopping:  # stopped while queued behind another trigger
                    return _Final(status.SKIPPED, f"not triggered: {self.ctx.control.reason}")
                at = settings.now()
                self.ctx.journal.record_intent(self.spec.key, number, at)
                self.log.debug("trigger_sending", attempt=number)
                try:
                    return self._created(at, await self._send())
                except SendCancelled:
                    return _Final(status.SKIPPED, f"not triggered: {self.ctx.control.reason}")
                except KernelLimitError as error:
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
                    settled = await self._settle_ambiguous(at, error)
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
                rounds += 1
                if rounds >= settings.trigger_rounds:
                    return self._failed_attempt(
                        at,
                        _Final(status.TRIGGER_FAILED, f"gave up after {rounds} tries: {problem}"),
                    )
                self.log.warning("trigger_retrying", reason=problem, round=rounds)
            poll = self.project.poll
            backoff = Backoff(initial=poll.initial, max=poll.max, multiplier=2.0)
            await settings.sleep(poll.initial + backoff.full_jitter(rounds, settings.rng))

    async def _send(self) -> tuple[str, str | None]:
        run = self.project.run
        created = await self.ctx.client.run_project(
            self.spec.project_id,
            dict(self.spec.params) or None,
            dry_run=self.ctx.settings.dry_run,
            update_published_results=run.update_published_results,
            use_cached_sql_results=run.use_cached_sql_results,
            view_id=run.view_id,
            notifications=run.notifications or None,
            retry_kernel_limit=False,
            # Checked after waiting for the trigger budget, right before sending.
            cancel_if=lambda: self.ctx.control.stopping,
        )
        return created.run_id, created.run_url

    def _created(self, at: datetime, created: tuple[str, str | None]) -> Attempt | _Final:
        run_id, run_url = created
        attempt = Attempt(triggered_at=at, run_id=run_id, run_url=run_url, status=status.PENDING)
        self.item.attempts.append(attempt)
        self.ctx.claimed.add(run_id)
        number = len(self.item.attempts)
        self.ctx.journal.record_triggered(self.spec.key, number, run_id, run_url, at)
        self.log.info("run_triggered", run_id=run_id, attempt=number)
        if self.ctx.settings.dry_run:
            # Hex validated the inputs and created nothing to follow.
            attempt.status = status.COMPLETED
            attempt.finished_at = at
            self.ctx.journal.record_status(self.spec.key, number, status.COMPLETED, finished_at=at)
            return _Final(status.COMPLETED)
        return attempt

    def _failed_attempt(self, at: datetime, final: _Final) -> _Final:
        attempt = Attempt(triggered_at=at, status=final.status, error=final.error)
        self.item.attempts.append(attempt)
        self.ctx.journal.record_status(
            self.spec.key, len(self.item.attempts), final.status, error=final.error
        )
        self.log.error("trigger_failed", error=final.error)
        return final

    async def _settle_ambiguous(
        self, at: datetime, error: OutcomeUnknownError
    ) -> Attempt | _Final | None:
        """Find out whether an ambiguous trigger created a run (None: it did not)."""
        if self.ctx.settings.dry_run:
            return None  # a dry run creates nothing, so sending it again is harmless
        self.log.warning("trigger_ambiguous", error=str(error))
        found = await self._reconcile(at)
        if isinstance(found, RunInfo):
            attempt = Attempt(triggered_at=at)
            self.item.attempts.append(attempt)
            self._adopt(attempt, found)
            return attempt
        if found is None:
            return None
        return self._failed_attempt(at, found)

    async def _reconcile(self, intent_at: datetime) -> RunInfo | _Final | None:
        """Match an ambiguous trigger to a run in Hex's list of the project's runs.

        Returns the run when exactly one unclaimed run appeared after the intent,
        None when repeated reads show no such run, or an UNKNOWN final otherwise.
        """
        settings = self.ctx.settings
        earliest = intent_at - timedelta(seconds=settings.reconcile_skew)
        listed = False
        last_error = ""
        for check in range(settings.reconcile_checks):
            if check:
                await settings.sleep(self.project.poll.initial * (check + 1))
            try:
                runs = await self.ctx.client.list_runs(self.spec.project_id, max_runs=100)
            except HexAPIError as error:
                last_error = str(error)
                continue
            listed = True
            candidates = [
                run
                for run in runs
                if run.run_id not in self.ctx.claimed
                and run.run_trigger in (None, "API")
                and _new_since(run, earliest)
            ]
            if len(candidates) == 1:
                return candidates[0]
            if len(candidates) > 1:
                return _Final(
                    status.UNKNOWN,
                    f"the trigger's outcome is unknown and {len(candidates)} unclaimed runs "
                    "appeared meanwhile; not retriggering to avoid a duplicate "
                    "(check them in Hex, then use --rerun unknown)",
                )
        if not listed:
            return _Final(
                status.UNKNOWN,
                "the trigger's outcome is unknown and the project's runs could not be listed "
                f"({last_error}); not retriggering to avoid a duplicate",
            )
        self.log.info("trigger_reconciled", created=False)
        return None

    def _adopt(self, attempt: Attempt, info: RunInfo) -> None:
        attempt.run_id = info.run_id
        attempt.run_url = info.run_url
        attempt.status = info.status
        self.ctx.claimed.add(info.run_id)
        number = self.item.attempts.index(attempt) + 1
        at = attempt.triggered_at or self.ctx.settings.now()
        self.ctx.journal.record_triggered(self.spec.key, number, info.run_id, info.run_url, at)
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
        scope = anyio.CancelScope()
        ctx.control.register(scope)
        try:
            with scope:
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
            ctx.control.unregister(scope)
            ctx.board.forget(self.spec.project_id, run_id)

    async def _ended_now(
        self, attempt: Attempt, run_log: structlog.typing.FilteringBoundLogger
    ) -> _Final | None:
        """The run's final state if Hex says it has ended, else None."""
        try:
            info = await self.ctx.client.get_run_status(self.spec.project_id, _run_id_of(attempt))
        except HexAPIError:
            return None
        self._observe(attempt, info, run_log)
        return _ended(info) if info.terminal else None

    async def _poll_until_done(
        self, attempt: Attempt, deadline: float, run_log: structlog.typing.FilteringBoundLogger
    ) -> _Final | None:
        """Poll; return the final on a terminal status, None when the deadline passed."""
        run_id = _run_id_of(attempt)
        settings = self.ctx.settings
        failures = 0
        polls = 0
        expected_end: datetime | None = None
        looked_at_end = False
        while True:
            plan = self.ctx.board.plan(self.spec.project_id, self.project.poll, polls, settings.rng)
            delay, max_age = plan.delay, plan.max_age
            if expected_end is not None:
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
            if settings.clock() >= deadline:
                return None
            try:
                info = await self.ctx.board.read(self.spec.project_id, run_id, max_age=max_age)
            except HexAPIError as error:
                failures += 1
                run_log.warning("run_poll_failed", error=str(error), failures=failures)
                if failures >= _MAX_READ_FAILURES or isinstance(error, NotFoundError):
                    attempt.status = status.UNKNOWN
                    attempt.error = f"lost track of the run: {error}"
                    return _Final(status.UNKNOWN, attempt.error)
                continue
            failures = 0
            self._observe(attempt, info, run_log)
            if info.terminal:
                return _ended(info)
            if not looked_at_end and expected_end is None and info.start_time is not None:
                expected_end = self._expected_end(info.start_time)
                if expected_end is not None:
                    self.ctx.board.foresee(self.spec.project_id, run_id)

    def _expected_end(self, started: datetime) -> datetime | None:
        """When an earlier batch's duration says this run will end, if there is one."""
        seconds = self.ctx.settings.durations.get(self.spec.key)
        return None if seconds is None else started + timedelta(seconds=seconds)

    def _observe(
        self, attempt: Attempt, info: RunInfo, run_log: structlog.typing.FilteringBoundLogger
    ) -> None:
        changed = info.status != attempt.status
        attempt.status = info.status
        if info.terminal:
            attempt.finished_at = info.end_time or self.ctx.settings.now()
            attempt.elapsed_ms = info.elapsed_ms
        run_log.debug("run_polled", status=info.status)
        if changed or info.terminal:
            self.ctx.journal.record_status(
                self.spec.key,
                self.item.attempts.index(attempt) + 1,
                info.status,
                finished_at=attempt.finished_at,
                elapsed_ms=attempt.elapsed_ms,
            )

    async def _cancel(self, attempt: Attempt, final_status: str, reason: str) -> _Final:
        """Cancel the run in Hex and confirm its end state (shielded, bounded in time)."""
        run_id = _run_id_of(attempt)
        ctx, settings = self.ctx, self.ctx.settings
        run_log = self.log.bind(run_id=run_id)
        confirmed: RunInfo | None = None
        with anyio.CancelScope(shield=True), anyio.move_on_after(settings.cancel_grace):
            try:
                await ctx.client.cancel_run(self.spec.project_id, run_id)
                for check in range(_CONFIRM_READS):
                    confirmed = await ctx.client.get_run_status(self.spec.project_id, run_id)
                    if confirmed.terminal:
                        break
                    await settings.sleep(self.project.poll.initial * (check + 1))
            except HexAPIError as error:
                run_log.error("run_cancel_failed", error=str(error))
                reason = f"{reason}; cancelling in Hex failed: {error}"
        if confirmed is not None:
            self._observe(attempt, confirmed, run_log)
            if confirmed.terminal and confirmed.status != status.KILLED:
                return _ended(confirmed)  # it ended on its own before the cancel landed
        run_log.warning("run_cancelled", status=final_status)
        attempt.error = reason
        return _Final(final_status, reason)
