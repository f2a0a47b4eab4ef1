"""Follow a run whose id is known until it ends, times out or is cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import structlog

from hexbatch import status
from hexbatch.api.models import RunInfo
from hexbatch.cancelling import CancelConfirmation
from hexbatch.engine.run_state import AttemptEnd, RunState, ended_as, retry_backoff, run_id_of
from hexbatch.errors import HexAPIError, NotFoundError
from hexbatch.outcome import Attempt

# A 404 for a run whose id Hex gave us is believed only when it persists: this many
# reads in a row, spread over at least EngineSettings.lost_after (read-after-write lag).
_GONE_READS = 3
_CONFIRM_READS = 3
# Look this long after a run's expected end, so the end is already recorded.
_END_SLACK = 0.005


@dataclass(slots=True)
class _Polling:
    """Where a run's polling stands."""

    polls: int = 0
    failures: int = 0
    """Failed reads in a row."""
    gone_reads: int = 0
    """404s in a row, and since when."""
    gone_since: float = 0.0
    expected_end: datetime | None = None
    """When an earlier batch's duration says the run ends, until it was looked at."""
    looked_at_end: bool = False


class Follower(RunState):
    """Polls a run's status, and cancels it in Hex when it must stop."""

    def _deadline(self, attempt: Attempt) -> float:
        settings = self.ctx.settings
        started = attempt.triggered_at or settings.now()
        used = (settings.now() - started).total_seconds()
        return settings.clock() + max(0.0, self.project.timeout - used)

    async def _follow(self, attempt: Attempt) -> AttemptEnd:
        """Poll the attempt's run until it ends, times out or the user cancels it."""
        run_id = run_id_of(attempt)
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
    ) -> AttemptEnd | None:
        """The run's final state if Hex says it has ended, else None."""
        if self.ctx.client.read_wait() > self.ctx.settings.cancel_grace:
            return None  # a 429's pause holds reads; the cancel confirms the end
        try:
            info = await self.ctx.client.get_run_status(self.spec.project_id, run_id_of(attempt))
        except HexAPIError:
            return None
        self._observe(attempt, info, run_log)
        return ended_as(info) if info.terminal else None

    async def _poll_until_done(
        self, attempt: Attempt, deadline: float, run_log: structlog.typing.FilteringBoundLogger
    ) -> AttemptEnd | None:
        """Poll; return the final on a terminal status, None when the deadline passed.

        Failed reads (5xx, resets, timeouts, 429) never end the run: it exists, so it
        is followed until its own deadline, backing off. Only a 404 that persists is
        believed (see :data:`_GONE_READS`); one right after creation is read-after-write
        lag.
        """
        run_id = run_id_of(attempt)
        settings = self.ctx.settings
        polling = _Polling()
        while True:
            delay, max_age = self._next_read(polling)
            remaining = deadline - settings.clock()
            if remaining <= 0:
                return None
            await settings.sleep(min(delay, remaining))
            if self._read_would_pass(deadline, run_log):
                return None
            try:
                info = await self.ctx.board.read(self.spec.project_id, run_id, max_age=max_age)
            except HexAPIError as error:
                lost = self._read_failed(attempt, error, polling, run_log)
            else:
                lost = await self._read_done(attempt, info, polling, run_log)
            if lost is not None:
                return lost

    def _next_read(self, polling: _Polling) -> tuple[float, float]:
        """Seconds until the next read, and how old a status it may take."""
        settings = self.ctx.settings
        poll = self.project.poll
        plan = self.ctx.board.plan(self.spec.project_id, poll, polling.polls, settings.rng)
        delay, max_age = plan.delay, plan.max_age
        if polling.failures:
            delay = max(delay, retry_backoff(poll).ceiling(polling.failures))
        elif polling.expected_end is not None:
            # History says when this run should end: look right then, once, with a
            # fresh read, rather than up to a whole interval later.
            until = (polling.expected_end - settings.now()).total_seconds() + _END_SLACK
            if until < delay:
                delay, max_age = max(0.0, until), 0.0
                polling.expected_end, polling.looked_at_end = None, True
        polling.polls += 1
        return delay, max_age

    def _read_failed(
        self,
        attempt: Attempt,
        error: HexAPIError,
        polling: _Polling,
        run_log: structlog.typing.FilteringBoundLogger,
    ) -> AttemptEnd | None:
        """Count a failed read; the run ends UNKNOWN only when a 404 persists."""
        settings = self.ctx.settings
        polling.failures += 1
        if not isinstance(error, NotFoundError):
            polling.gone_reads = 0
            run_log.warning("run_poll_failed", error=str(error), failures=polling.failures)
            return None
        polling.gone_reads += 1
        if polling.gone_reads == 1:
            polling.gone_since = settings.clock()
        gone_for = settings.clock() - polling.gone_since
        run_log.warning("run_not_found", error=str(error), reads=polling.gone_reads)
        if polling.gone_reads < _GONE_READS or gone_for < settings.lost_after:
            return None
        attempt.status = status.UNKNOWN
        attempt.error = (
            f"lost track of the run: Hex answered 404 to {polling.gone_reads} reads in a "
            f"row over {gone_for:.0f}s ({error})"
        )
        self._journal_attempt(attempt)
        return AttemptEnd(status.UNKNOWN, attempt.error)

    async def _read_done(
        self,
        attempt: Attempt,
        info: RunInfo,
        polling: _Polling,
        run_log: structlog.typing.FilteringBoundLogger,
    ) -> AttemptEnd | None:
        """Take a read's status: the final when the run ended, else None."""
        polling.failures = polling.gone_reads = 0
        self._observe(attempt, info, run_log)
        if info.terminal:
            await self._read_timeline(attempt, info, run_log)
            return ended_as(info)
        started = info.start_time
        if not polling.looked_at_end and polling.expected_end is None and started is not None:
            polling.expected_end = self._expected_end(started)
            if polling.expected_end is not None:
                self.ctx.board.foresee(self.spec.project_id, run_id_of(attempt))
        return None

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

    def _expected_end(self, started: datetime) -> datetime | None:
        """When an earlier batch's duration says this run will end, if there is one."""
        seconds = self.ctx.settings.durations.get(self.spec.key)
        return None if seconds is None else started + timedelta(seconds=seconds)

    async def _cancel(self, attempt: Attempt, final_status: str, reason: str) -> AttemptEnd:
        """Cancel the run in Hex and confirm its end state (shielded, bounded in time)."""
        run_id = run_id_of(attempt)
        ctx, settings = self.ctx, self.ctx.settings
        run_log = self.log.bind(run_id=run_id)
        confirmation = CancelConfirmation()
        with anyio.CancelScope(shield=True), settings.time.move_on_after(settings.cancel_grace):
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
                return ended_as(confirmation.seen)  # it ended before the cancel landed
        run_log.warning("run_cancelled", status=final_status)
        attempt.error = reason
        self._journal_attempt(attempt)
        return AttemptEnd(final_status, reason)
