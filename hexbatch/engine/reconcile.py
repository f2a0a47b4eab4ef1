"""Settle a trigger whose outcome is unknown: find the run it created, or conclude none."""

from __future__ import annotations

from datetime import datetime, timedelta

from hexbatch import status
from hexbatch.api.models import RunInfo
from hexbatch.engine.run_state import (
    LISTED_RUNS,
    AttemptEnd,
    RunState,
    TriggerIntent,
    may_be_new,
    retry_backoff,
)
from hexbatch.errors import HexAPIError
from hexbatch.outcome import Attempt
from hexbatch.state.errors import StateError


class Reconciler(RunState):
    """Matches an ambiguous trigger to the one run that can only be its own."""

    async def _settle_ambiguous(
        self, intent: TriggerIntent, error: HexAPIError
    ) -> Attempt | AttemptEnd | None:
        """Find out whether an ambiguous trigger created a run (None: it did not)."""
        if self.ctx.settings.dry_run:
            return None  # a dry run creates nothing, so sending it again is harmless
        self.log.warning("trigger_ambiguous", error=str(error))
        found = await self._reconcile(intent)
        if isinstance(found, RunInfo):
            attempt = Attempt(
                triggered_at=intent.at, quota_wait_ms=intent.quota_wait_ms, number=intent.number
            )
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
        self, intent: TriggerIntent, *, final_look: bool = False
    ) -> RunInfo | AttemptEnd | None:
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
        backoff = retry_backoff(self.project.poll)
        listed = False
        last_error = ""
        check = 0
        while True:
            if check:
                rest = decide_after - settings.clock()
                await settings.sleep(max(0.0, min(backoff.ceiling(check), rest)))
            check += 1
            try:
                runs = await self.ctx.client.list_runs(self.spec.project_id, max_runs=LISTED_RUNS)
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
            return AttemptEnd(
                status.UNKNOWN,
                "the trigger's outcome is unknown and the project's runs could not be listed "
                f"({last_error}); not retriggering to avoid a duplicate",
            )
        self.log.info("trigger_reconciled", created=False)
        return None

    def _match(
        self, runs: list[RunInfo], earliest: datetime, seen_before: frozenset[str] | None
    ) -> RunInfo | AttemptEnd | None:
        """The one listed run that can only be this trigger's, an UNKNOWN, or None."""
        candidates = [
            run
            for run in runs
            if run.run_id not in self.ctx.claimed
            and run.run_trigger in (None, "API")
            and may_be_new(run, earliest)
            and (seen_before is None or run.run_id not in seen_before)
        ]
        if candidates:
            # Another batch (of any manifest, in any earlier year) may have claimed one:
            # only the runs still in question are looked up in its records.
            try:
                taken = self.ctx.journal.claimed({run.run_id for run in candidates})
            except StateError as error:
                return AttemptEnd(
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
            return AttemptEnd(
                status.UNKNOWN,
                f"the trigger's outcome is unknown and {len(candidates)} unclaimed run(s) "
                f"({', '.join(run.run_id for run in candidates)}) may be another client's: "
                "the project's runs could not be listed before the trigger; not adopting, "
                "not retriggering (check in Hex, then use --rerun unknown)",
            )
        if len(candidates) > 1:
            return AttemptEnd(
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
        number = self.item.number_of(attempt)
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
