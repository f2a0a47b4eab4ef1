"""Tie a batch to its state store: resume the unfinished one, or start a new one.

``hexbatch run`` resumes the latest unfinished batch of the same manifest: runs
with a final status keep it, runs with a recorded run id are reattached, runs
with only an intent are reconciled, and the rest start. Once a batch has
finished, the next ``run`` starts a new batch (``--new`` forces one).
``--rerun failed|unknown|all`` reopens the latest batch, finished or not, and
gives the chosen runs a new attempt; when it chooses none in a finished batch,
nothing is triggered and no batch is started (:class:`NothingToRerun`). A
manifest whose plan changed since the batch started is refused; a change to
execution settings only (limits, concurrency, timeouts) is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal

import structlog

from hexbatch import status
from hexbatch.api.limits_seen import LimitsSeen
from hexbatch.api.models import StateEvents
from hexbatch.engine import WorkItem
from hexbatch.errors import HexbatchError
from hexbatch.manifest import Manifest
from hexbatch.manifest.errors import format_path
from hexbatch.outcome import RunOutcome
from hexbatch.plan import Plan
from hexbatch.selection import Selection
from hexbatch.state import BatchInfo, StateError, StateStore, StoredRun
from hexbatch.state.leases import Lease
from hexbatch.state.records import same_url

log = structlog.get_logger("hexbatch.resume")

Rerun = Literal["failed", "unknown", "all"]
RERUN_CHOICES: Final = ("failed", "unknown", "all")


class NothingToRerun(HexbatchError):
    """``--rerun`` found no run to give a new attempt: nothing was triggered, no batch started.

    Attributes:
        batch_id: the batch that was looked at (None when the store holds none of the manifest).
        rerun: the choice (``failed``, ``unknown`` or ``all``).
    """

    def __init__(self, message: str, *, batch_id: int | None, rerun: Rerun) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.rerun = rerun


_RERUN_WHAT: Final = {
    "failed": "no run that failed (every run ended COMPLETED, ALREADY_COMPLETED or UNKNOWN)",
    "unknown": "no run that ended UNKNOWN",
    "all": "no runs",
}


def _name(manifest: Manifest) -> str:
    """The name the manifest's batches are found by (its file name when it has none)."""
    return manifest.name or manifest.source.stem


def check_rerun(store: StateStore, manifest: Manifest, rerun: Rerun | None) -> None:
    """Refuse a ``--rerun`` that would trigger nothing, before anything is sent.

    A finished batch is reopened only when some run is chosen; an unfinished one is
    resumed anyway (its unsettled runs still have to be driven).

    Raises:
        NothingToRerun: naming the batch and the choice.
    """
    if rerun is None:
        return
    latest = store.latest_batch(_name(manifest))
    if latest is None:
        raise NothingToRerun(
            f"nothing to rerun: {store.where} holds no batch of {manifest.source}; "
            "run it without --rerun to start one",
            batch_id=None,
            rerun=rerun,
        )
    if latest.finished and not any(_wants_rerun(run, rerun) for run in store.runs(latest.id)):
        raise NothingToRerun(
            f"nothing to rerun: batch {latest.id} in {store.where} has {_RERUN_WHAT[rerun]} "
            f"for --rerun {rerun}; nothing was triggered and no batch was started "
            "(run without --rerun, or with --new, to start a new batch)",
            batch_id=latest.id,
            rerun=rerun,
        )


class StoreJournal:
    """The engine's journal, written into one batch of a state store.

    Every attempt is recorded with ``base_url``, the Hex API its trigger is sent
    to: its run lives there, and only there may it be followed or cancelled.

    Only the intent must be durable before a trigger is sent, so only
    :meth:`record_intent` raises when the store cannot be written. Every other write
    that fails (a full disk) is logged once as ``state_write_failed`` and
    remembered in :attr:`failed`: the live runs are still followed to their end,
    and a later ``hexbatch run`` resumes from the durable intents and run ids.
    """

    def __init__(
        self, store: StateStore, batch_id: int, base_url: str, *, lease: Lease | None = None
    ) -> None:
        self.store = store
        self.batch_id = batch_id
        self.base_url = base_url
        self.lease = lease
        self.failed: StateError | None = None
        self.requests_recorded = False

    def _failed(self, error: StateError) -> None:
        """Remember a write that failed; say so once per batch."""
        if self.failed is None:
            log.warning("state_write_failed", state=self.store.where, error=str(error))
        self.failed = error

    def _keep_going(self, write: Callable[[], None]) -> None:
        try:
            write()
        except StateError as error:
            self._failed(error)

    def record_intent(
        self,
        key: str,
        attempt: int,
        at: datetime,
        *,
        seen_before: Set[str] | None = None,
        quota_wait_ms: float | None = None,
    ) -> None:
        """Durably note the intent to trigger, with the run ids that existed before it
        (only while this process still holds the batch's lease, when it has one).

        Raises:
            StateError: the intent could not be made durable, or the lease was lost;
                nothing may be sent.
        """
        try:
            self.store.record_intent(
                self.batch_id,
                key,
                attempt,
                at,
                base_url=self.base_url,
                seen_before=seen_before,
                lease=self.lease,
                quota_wait_ms=quota_wait_ms,
            )
        except StateError as error:
            self._failed(error)
            raise

    def withdraw_intent(self, key: str, attempt: int) -> None:
        """Forget an intent whose trigger created no run (kept, harmlessly, if that fails)."""
        self._keep_going(lambda: self.store.delete_attempt(self.batch_id, key, attempt))

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
        """Durably note the run id Hex returned (and the project version it runs)."""

        def write() -> None:
            self.store.record_triggered(
                self.batch_id,
                key,
                attempt,
                run_id,
                run_url,
                at,
                base_url=self.base_url,
                project_version=project_version,
            )
            self.store.record_status(self.batch_id, key, attempt, status.PENDING)

        self._keep_going(write)

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
        """Note the attempt's latest status and what Hex said about its run."""
        self._keep_going(
            lambda: self.store.record_status(
                self.batch_id,
                key,
                attempt,
                status,
                finished_at=finished_at,
                elapsed_ms=elapsed_ms,
                error=error,
                started_at=started_at,
                project_version=project_version,
                state_events=state_events,
            )
        )

    def record_final(self, key: str, status: str, error: str | None = None) -> None:
        """Note the run's final status."""
        self._keep_going(lambda: self.store.record_final(self.batch_id, key, status, error))

    def claimed(self, run_ids: Set[str]) -> Set[str]:
        """Which of ``run_ids`` any batch in the store recorded as its run.

        Raises:
            StateError: the store could not be read.
        """
        return self.store.claimed(run_ids)

    def record_requests(
        self, counts: Mapping[str, int], rate_limits: Mapping[str, LimitsSeen] | None = None
    ) -> None:
        """Add the batch's request counts and keep the rate-limit headers Hex last sent
        (only logged when they cannot be stored)."""
        try:
            self.store.record_requests(self.batch_id, counts)
        except StateError as error:
            log.warning("state_requests_not_recorded", counts=dict(counts), error=str(error))
            self.failed = self.failed or error
        else:
            self.requests_recorded = True
        if rate_limits:
            self._keep_going(lambda: self.store.record_rate_limits(self.batch_id, rate_limits))

    def record_unstarted(self, runs: Iterable[RunOutcome]) -> None:
        """Keep why each run never triggered was not (the batch stopped first)."""
        reasons = {
            run.key: run.error
            for run in runs
            if not run.settled and not run.attempts and run.error is not None
        }
        if reasons:
            self._keep_going(lambda: self.store.record_unstarted(self.batch_id, reasons))

    def finish(self, at: datetime) -> None:
        """Mark the batch finished (left unfinished when that cannot be written)."""
        self._keep_going(lambda: self.store.finish_batch(self.batch_id, at))

    def stop(self, at: datetime) -> None:
        """Note when this driver stopped, the batch left unfinished (kept going without)."""
        self._keep_going(lambda: self.store.record_stopped(self.batch_id, at))


@dataclass(slots=True)
class OpenedBatch:
    """A batch ready to run: what to drive, and what already ended."""

    info: BatchInfo
    work: list[WorkItem]
    done: dict[str, RunOutcome]
    order: tuple[str, ...]
    """Every run key in plan order (the report's order)."""


def _wants_rerun(run: StoredRun, rerun: Rerun | None) -> bool:
    final = run.final_status
    if rerun is None or final is None:
        return False
    if rerun == "all":
        return True
    if rerun == "unknown":
        return final == status.UNKNOWN
    # A run settled ALREADY_COMPLETED succeeded in an earlier batch: it never failed.
    return not status.is_success(final) and final != status.UNKNOWN


def _resumes(latest: BatchInfo, *, new: bool, rerun: Rerun | None) -> bool:
    """Tell whether a run drives the manifest's latest batch rather than a new one."""
    return not new and (not latest.finished or rerun is not None)


def stored_anchor(
    store: StateStore, manifest: Manifest, *, new: bool = False, rerun: Rerun | None = None
) -> date | None:
    """The today recorded by the batch :func:`open_batch` would resume (None: no such
    batch, or one whose dates did not depend on today)."""
    latest = store.latest_batch(_name(manifest))
    if latest is None or not _resumes(latest, new=new, rerun=rerun):
        return None
    return latest.as_of


def pinned_batch(store: StateStore, manifest: Manifest, batch_id: int) -> BatchInfo:
    """The batch a driver was handed by id: the manifest's latest batch, finished or not.

    Raises:
        StateError: the store holds no such batch of the manifest, or a later one was
            started since (driving the older one would resume the wrong batch).
    """
    latest = store.latest_batch(_name(manifest))
    if latest is not None and latest.id == batch_id:
        return latest
    since = f"; batch {latest.id} was started since" if latest is not None else ""
    raise StateError(
        f"batch {batch_id} is not the latest batch of {_name(manifest)!r} in {store.where}"
        f"{since}: nothing was sent"
    )


def open_batch(
    store: StateStore,
    manifest: Manifest,
    plan: Plan,
    *,
    base_url: str,
    version: str,
    now: datetime,
    new: bool = False,
    rerun: Rerun | None = None,
) -> OpenedBatch:
    """Resume the manifest's latest batch when it should be, else create one.

    Raises:
        StateError: the batch to resume was planned from a different plan.

    Call :func:`check_rerun` first: with a ``rerun`` that chooses no run of a finished
    batch, this reopens it and gives no run a new attempt.
    """
    latest = store.latest_batch(_name(manifest))
    resume = latest is not None and _resumes(latest, new=new, rerun=rerun)
    if latest is not None and resume:
        info = _resumed(store, manifest, plan, latest)
        stored = {run.key: run for run in store.runs(info.id)}
        _check_moved(info, base_url, stored.values(), store)
    else:
        info = _created(store, manifest, plan, base_url=base_url, version=version, now=now)
        stored = {run.key: run for run in store.runs(info.id)}
    again = [key for key, run in stored.items() if _wants_rerun(run, rerun)]
    if again:
        store.clear_final(info.id, again)
    work, done = _split(plan, stored, set(again))
    if resume:
        log.info(
            "batch_resumed", batch=info.id, finished=len(done), to_run=len(work), rerun=len(again)
        )
    return OpenedBatch(info, work, done, tuple(item.key for item in plan.items))


def _resumed(store: StateStore, manifest: Manifest, plan: Plan, latest: BatchInfo) -> BatchInfo:
    """The manifest's latest batch, driven again: its runs never triggered are planned again.

    Raises:
        StateError: it was planned from a different plan.
    """
    if not plan.matches(latest.plan_hash):
        raise StateError(
            f"batch {latest.id} in {store.where} was started from a different plan of "
            f"{manifest.source} (runs were added, removed or changed). Finish it with the "
            "original manifest, or start a new batch with --new."
        )
    if latest.manifest_hash != manifest.sha256:
        log.info("manifest_settings_changed", batch=latest.id)
        store.update_manifest_hash(latest.id, manifest.sha256)
    store.clear_unstarted(latest.id)
    return latest


def _created(
    store: StateStore, manifest: Manifest, plan: Plan, *, base_url: str, version: str, now: datetime
) -> BatchInfo:
    """A new batch of the manifest with the whole plan."""
    return store.create_batch(
        manifest=str(manifest.source.resolve()),
        name=_name(manifest),
        manifest_hash=manifest.sha256,
        plan_hash=plan.plan_hash,
        base_url=base_url,
        token_env=manifest.token_env,
        hexbatch_version=version,
        as_of=plan.as_of,
        selection=None if plan.selection is None else plan.selection.dumps(),
        runs=[item.planned for item in plan.items],
        started_at=now,
    )


def _split(
    plan: Plan, stored: Mapping[str, StoredRun], again: Set[str]
) -> tuple[list[WorkItem], dict[str, RunOutcome]]:
    """The runs still to drive, with their recorded attempts, and those that already ended
    (but the ones ``again`` gives a new attempt)."""
    work: list[WorkItem] = []
    done: dict[str, RunOutcome] = {}
    for item in plan.items:
        run = stored[item.key]
        if run.final_status is not None and item.key not in again:
            done[item.key] = run.to_outcome()
        else:
            # A rerun asked for earlier (perhaps by another process) and not started yet
            # is still a rerun: its last attempt's end is not this run's outcome.
            new_attempt = item.key in again or run.rerun_pending
            work.append(WorkItem(item, list(run.attempts), rerun=new_attempt))
    return work, done


def skip_completed(store: StateStore, opened: OpenedBatch) -> OpenedBatch:
    """Settle, without triggering, every run still to go whose key COMPLETED in an earlier
    batch (``--skip-completed``): ALREADY_COMPLETED, naming that batch.

    Only runs this batch never triggered are skipped; one it triggered is followed as
    usual. Run keys name a project and its parameters, so earlier batches of other
    manifests count too.
    """
    fresh = [item for item in opened.work if not item.attempts]
    earlier = store.completed_before((item.key for item in fresh), opened.info.id)
    work: list[WorkItem] = []
    done = dict(opened.done)
    for item in opened.work:
        batch_id = earlier.get(item.key) if not item.attempts else None
        if batch_id is None:
            work.append(item)
            continue
        reason = f"completed in batch {batch_id}"
        store.record_final(opened.info.id, item.key, status.ALREADY_COMPLETED, reason)
        done[item.key] = item.outcome(status.ALREADY_COMPLETED, reason)
    log.info("runs_already_completed", batch=opened.info.id, skipped=len(done) - len(opened.done))
    return OpenedBatch(opened.info, work, done, opened.order)


def _check_moved(
    info: BatchInfo, base_url: str, runs: Iterable[StoredRun], store: StateStore
) -> None:
    """A batch resumed against ``base_url``: fine unless it has runs to follow elsewhere.

    Each attempt records where it was triggered, so a run in flight (or whose
    trigger's outcome is unknown) is checked against its own URL, not the batch's.
    Once nothing is left to follow elsewhere, the batch's URL becomes ``base_url``.

    Raises:
        StateError: runs are in flight or unresolved at another URL, naming it; their
            ids mean nothing elsewhere.
    """
    elsewhere: dict[str, int] = {}
    for run in runs:
        if run.in_flight is None and not run.unresolved:
            continue
        at = run.last_base_url or info.base_url
        if not same_url(at, base_url):
            elsewhere[at] = elsewhere.get(at, 0) + 1
    if elsewhere:
        where = "; ".join(f"{count} run(s) at {url}" for url, count in elsewhere.items())
        first = next(iter(elsewhere))
        raise StateError(
            f"batch {info.id} in {store.where} has runs in flight or not yet settled at "
            f"another Hex than {base_url}: {where}. Point --base-url at {first} to follow "
            "them, or start a new batch with --new."
        )
    if not same_url(info.base_url, base_url):
        log.warning("batch_base_url_changed", batch=info.id, was=info.base_url, now=base_url)
        store.update_base_url(info.id, base_url)


def pinned_selection(
    store: StateStore, manifest: Manifest, *, new: bool = False, rerun: Rerun | None = None
) -> Selection | None:
    """The projects chosen by the batch :func:`open_batch` would resume, so that it runs
    them again rather than what the filters choose today (None: a manifest without
    ``select:`` entries, or a new batch, which chooses through the API).

    Raises:
        StateError: that batch chose with other filters than the manifest's (or with
            none), or its selection cannot be read; nothing was sent.
    """
    if not manifest.selectors:
        return None
    latest = store.latest_batch(_name(manifest))
    if latest is None or not _resumes(latest, new=new, rerun=rerun):
        return None
    advice = "Finish it with the original manifest, or start a new batch with --new."
    text = store.selection(latest.id)
    if text is None:
        raise StateError(
            f"batch {latest.id} in {store.where} was started without the select: entries"
            f" {manifest.source} has now. {advice}"
        )
    try:
        selection = Selection.loads(text)
    except ValueError as error:
        raise StateError(
            f"batch {latest.id} in {store.where} keeps a selection this hexbatch cannot read"
            f" ({error}). Start a new batch with --new."
        ) from error
    changed = selection.missing(manifest)
    if changed:
        where = ", ".join(format_path(("projects", spec.index)) for spec in changed)
        raise StateError(
            f"batch {latest.id} in {store.where} chose its projects with other filters than"
            f" {where} of {manifest.source} (their select: or skip_if_fresh changed). {advice}"
        )
    log.info(
        "selection_pinned",
        batch=latest.id,
        selected_at=selection.selected_at.isoformat(),
        projects=selection.project_count,
    )
    return selection
