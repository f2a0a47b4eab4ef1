"""Run a manifest as a batch: the library entry point under ``hexbatch run``.

:func:`run_batch` takes a manifest (a path or a loaded :class:`Manifest`),
connects to Hex (or to the built-in simulator), checks that every project can
be run before triggering anything, drives the plan through the
:class:`~hexbatch.engine.Engine` and returns a :class:`BatchReport`. Airflow,
Dagster or Prefect tasks call it directly::

    report = await hexbatch.run_batch("nightly.yaml")
    if not report.ok:
        raise RuntimeError(report.counts())
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping, Sequence, Set
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Final

import anyio
import structlog

from hexbatch.api.client import HexClient
from hexbatch.api.limits import Window, WindowLimiter, limiter
from hexbatch.api.models import Project
from hexbatch.config import Config, Flags, config_for
from hexbatch.engine import Control, Engine, EngineSettings, WorkItem
from hexbatch.engine.context import utc_now
from hexbatch.errors import (
    AuthenticationError,
    ConfigurationError,
    HexAPIError,
    HexbatchError,
    NotFoundError,
    PermissionDeniedError,
)
from hexbatch.manifest import Manifest, load_manifest
from hexbatch.manifest.relative import local_today
from hexbatch.notify import (
    BatchEnd,
    Delivery,
    NotifySettings,
    check_targets,
    refused_report,
    send_notifications,
)
from hexbatch.outcome import BatchReport, RunOutcome, batch_report
from hexbatch.plan import Plan, build_plan
from hexbatch.quota import StoreQuota
from hexbatch.resume import (
    OpenedBatch,
    Rerun,
    StoreJournal,
    check_rerun,
    open_batch,
    pinned_batch,
    pinned_selection,
    skip_completed,
    stored_anchor,
)
from hexbatch.select import resolve_selection
from hexbatch.selection import Selection
from hexbatch.simulated import simulated_hex
from hexbatch.state import BatchInfo, StateError, StateStore
from hexbatch.state.heartbeat import heartbeat
from hexbatch.state.leases import Claimant, Lease, LeaseLostError
from hexbatch.state.location import Location
from hexbatch.version import package_version

log = structlog.get_logger("hexbatch.batch")

# Above this many projects, the preflight check lists the workspace instead of
# asking for each project on its own.
_LIST_FROM: Final = 5


class PreflightError(HexbatchError):
    """A project cannot be run (unknown, unpublished, or the token is refused): nothing was
    triggered."""


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """Command-line level choices for one batch.

    Attributes:
        base_url: overrides ``HEX_API_BASE_URL`` and the manifest's ``hex.base_url``.
        simulate: run against the built-in simulator (no token needed).
        max_in_flight: overrides the manifest's ``defaults.max_in_flight``.
        fail_fast: stop triggering after the first run that does not complete.
        cancel_on_fail_fast: with fail_fast, also cancel the live runs.
        dry_run: send every trigger with Hex's dryRun flag (nothing runs).
        allow_insecure_http: permit plain http to a non-loopback Hex host.
        env: where the token (and base URL override) are read from.
        state: the state store: a path or a ``postgresql://`` URL (default
            ``.hexbatch/state.db`` beside the manifest).
        lease_ttl: seconds before a silent driver's batch may be taken over
            (overrides the manifest's ``lease_ttl``; default 30).
        priority: ``high``, ``normal`` or ``low`` when the token's quota is scarce
            (overrides the manifest's ``priority``).
        skip_completed: trigger only runs whose key never COMPLETED in an earlier batch
            of the state store; the others end ALREADY_COMPLETED, naming that batch.
        stateless: keep no state at all (nothing to resume).
        new: start a new batch even if the latest one is unfinished.
        rerun: give runs that ended failed, unknown, or all of them a new attempt.
        as_of: the day that is "today" for the manifest's dates relative to today
            (default: the date the batch started, or the one a resumed batch recorded).
        batch_id: drive exactly this batch of the state store (as :meth:`BatchRun.record`
            opened it, perhaps in another process): resumed while unfinished, reported as
            stored once finished (nothing is sent), refused when a later batch of the
            manifest was started since. Not with ``new`` or ``rerun``.
    """

    base_url: str | None = None
    simulate: bool = False
    max_in_flight: int | None = None
    fail_fast: bool = False
    cancel_on_fail_fast: bool = False
    dry_run: bool = False
    allow_insecure_http: bool = False
    env: Mapping[str, str] | None = None
    state: Path | str | None = None
    lease_ttl: float | None = None
    priority: str | None = None
    skip_completed: bool = False
    stateless: bool = False
    new: bool = False
    rerun: Rerun | None = None
    as_of: date | None = None
    batch_id: int | None = None

    def config(self, manifest: Manifest) -> Config:
        """This batch's configuration: these options over the environment (``env``) over
        the manifest (see :func:`~hexbatch.config.resolve_config`)."""
        flags = Flags(
            base_url=self.base_url,
            state=self.state,
            max_in_flight=self.max_in_flight,
            lease_ttl=self.lease_ttl,
            priority=self.priority,
            simulate=self.simulate,
            keeps_state=not (self.stateless or self.dry_run),
            allow_insecure_http=self.allow_insecure_http,
        )
        return config_for(flags, manifest, self.env)

    def state_location(self, manifest: Manifest) -> Location | None:
        """Where this batch's state store lives, or None to keep no state.

        ``--state`` (``state``) wins over the ``HEXBATCH_STATE`` variable, which wins
        over the manifest's ``state:`` (relative to the manifest's folder); the
        default is ``.hexbatch/state.db`` beside the manifest.

        A simulated batch keeps no state unless a path is given: its simulator
        lives only as long as the process, so there is nothing to resume. A dry
        run keeps none either: nothing ran, so it must neither finish a real batch
        nor feed durations to later ones.
        """
        return self.config(manifest).state

    def lease_ttl_s(self, manifest: Manifest) -> float:
        """Seconds a driver may go silent before its batch may be taken over."""
        return self.config(manifest).lease_ttl_s


@dataclass(slots=True)
class Connection:
    """Where a batch sends its requests."""

    base_url: str
    token: str
    simulated: bool = False


@asynccontextmanager
async def connect(manifest: Manifest, options: BatchOptions) -> AsyncIterator[Connection]:
    """The Hex endpoint and token for this batch; starts the simulator when asked."""
    if options.simulate:
        async with simulated_hex(manifest) as simulator:
            log.info("simulator_started", base_url=simulator.base_url)
            yield Connection(simulator.base_url, simulator.token, simulated=True)
        return
    config = options.config(manifest)
    env = os.environ if options.env is None else options.env
    token = env.get(config.token_env, "").strip()
    if not token:
        raise ConfigurationError(
            f"no Hex API token: set the environment variable {config.token_env} "
            "(or run against the built-in simulator with --simulate)"
        )
    base_url = config.base_url
    yield Connection(base_url, token)


async def preflight(client: HexClient, plan: Plan, *, checked: Set[str] = frozenset()) -> None:
    """Check that every project exists, is published, is neither archived nor in the trash,
    and is visible to the token (but those in ``checked``, just listed by Hex as such).

    Raises:
        PreflightError: listing every project that cannot be run.
    """
    problems: list[str] = []
    projects = {i.project_id: i.project_name for i in plan.items if i.project_id not in checked}
    listed = await _listed(client) if len(projects) > _LIST_FROM else {}

    async def check(project_id: str, name: str) -> None:
        problem = await _problem(client, listed.get(project_id.lower()), project_id, name)
        if problem is not None:
            problems.append(problem)

    async with anyio.create_task_group() as group:
        for project_id, name in projects.items():
            group.start_soon(check, project_id, name)
    if problems:
        unique = list(dict.fromkeys(problems))
        raise PreflightError("nothing was triggered:\n  " + "\n  ".join(unique))


async def _listed(client: HexClient) -> dict[str, Project]:
    """The workspace's projects by lower-case id; empty (each is then asked for on its own)
    when the list cannot be had."""
    # One ListProjects page covers 100 projects; a GetProject each would cost a
    # request per project, minutes of budget for a bulk refresh of hundreds.
    try:
        return {p.id.lower(): p for p in await client.list_projects()}
    except HexAPIError as error:
        log.warning("preflight_list_failed", error=str(error))
        return {}


async def _problem(
    client: HexClient, listed: Project | None, project_id: str, name: str
) -> str | None:
    """Why the project cannot be run, or None when it can (``listed``: as Hex listed it)."""
    try:
        project = listed or await client.get_project(project_id)
    except (AuthenticationError, PermissionDeniedError) as error:
        return str(error)
    except NotFoundError:
        return (
            f"{name} ({project_id}): not found; check the id and that the project is "
            "shared with the token's user"
        )
    except HexAPIError as error:
        return f"{name} ({project_id}): {error}"
    if project.trashed or project.archived:
        state = "in the trash" if project.trashed else "archived"
        return (
            f"{name} ({project_id}): {project.title!r} is {state} in Hex; restore it "
            "(or remove it from the manifest) before running it"
        )
    if not project.published:
        return (
            f"{name} ({project_id}): {project.title!r} is not published; publish it in "
            "Hex (only the published version can be run)"
        )
    return None


@dataclass
class BatchRun:
    """One execution of a manifest, observable while it runs (for progress displays).

    Args:
        manifest: a path to a manifest, or a loaded one.
        options: command-line level choices.
        settings: engine settings (time sources for tests; max_in_flight and
            fail-fast are taken from the manifest and options).
        control: stop/cancel switches, e.g. held by signal handlers.
    """

    manifest: Manifest | str | Path
    options: BatchOptions = field(default_factory=BatchOptions)
    settings: EngineSettings = field(default_factory=EngineSettings)
    control: Control = field(default_factory=Control)
    engine: Engine | None = None
    connection: Connection | None = None
    journal: StoreJournal | None = None
    """The batch's journal in its state store, once driving starts (None without a store)."""
    lease: Lease | None = None
    """The batch's lease while this process drives it (None without a store)."""
    lease_lost: str | None = None
    """Why this process stopped driving: its lease was lost (None while it holds it)."""
    loaded: Manifest | None = None
    """The manifest once loaded (its ``notify:`` targets checked)."""
    plan: Plan | None = None
    """The runs the manifest expands to, once planned."""
    selection: Selection | None = None
    """The projects the manifest's ``select:`` entries run: pinned by the batch resumed, else
    chosen through the API once connected (None: no such entry, or not chosen yet)."""
    recorded: BatchInfo | None = None
    """The batch in the state store, once opened (resumed or created)."""
    ended_before: bool = False
    """The batch ``options.batch_id`` names had ended before this run: it was reported as
    stored and nothing was sent."""
    _record_only: bool = field(default=False, init=False, repr=False)

    def _load(self) -> Manifest:
        manifest = (
            self.manifest
            if isinstance(self.manifest, Manifest)
            else load_manifest(self.manifest, env=self.options.env)
        )
        # A notification URL that would leak is refused before anything is sent.
        check_targets(manifest.notify, allow_insecure_http=self.options.allow_insecure_http)
        self.loaded = manifest
        return manifest

    async def execute(self) -> BatchReport:
        """Run the batch to the end and report every planned run."""
        manifest = self._load()
        config = self.options.config(manifest)
        settings = replace(
            self.settings,
            max_in_flight=config.max_in_flight or self.settings.max_in_flight,
            fail_fast=self.options.fail_fast,
            cancel_on_fail_fast=self.options.cancel_on_fail_fast,
            dry_run=self.options.dry_run,
        )
        started = settings.now()
        # Planned before the store is opened, so that a plan that cannot be built ends the
        # command before anything is written; a resumed batch may re-plan with its anchor.
        plan = build_plan(manifest, self.options.as_of or local_today(started, manifest.timezone))
        self.plan = plan
        location = self.options.state_location(manifest)
        if location is None:
            if self._record_only:
                raise ConfigurationError(
                    "this batch keeps no state (stateless, a dry run, or simulated without a"
                    " state store): there is no store to record it in"
                )
            return await self._connect_and_drive(manifest, plan, settings, started, None)
        if self.options.batch_id is not None and (self.options.new or self.options.rerun):
            raise ConfigurationError("a batch id names the batch to drive: not with new or rerun")
        # The store is opened and the batch's lease taken before anything is sent: a
        # store that cannot be used, a batch another process drives, or a --rerun
        # with nothing to rerun ends the command before a single request reaches Hex.
        ttl = self.options.lease_ttl_s(manifest)
        with StateStore(location) as store:
            lease = self._take_lease(store, manifest, ttl)
            try:
                async with heartbeat(store, lease, ttl, self._lease_lost):
                    self.lease = lease
                    return await self._in_store(store, manifest, plan, settings, started)
            finally:
                self._release(store, lease)

    async def record(self) -> int:
        """Open the batch in its state store as :meth:`execute` would (the lease, the
        selection, the preflight check; the batch resumed or created, ``skip_completed``
        applied) and return its id, triggering nothing.

        A driver given ``BatchOptions(batch_id=…)`` then drives that batch, in another
        process if need be (an orchestrator's worker records, its triggerer drives).

        Raises:
            ConfigurationError: the batch keeps no state (there is nothing to record it in).
        """
        self._record_only = True
        try:
            await self.execute()
        finally:
            self._record_only = False
        if self.recorded is None:  # pragma: no cover - execute records or raises
            raise StateError("the batch was not recorded")
        return self.recorded.id

    async def _in_store(
        self,
        store: StateStore,
        manifest: Manifest,
        plan: Plan,
        settings: EngineSettings,
        started: datetime,
    ) -> BatchReport:
        """The batch under its lease: the one named by ``batch_id`` reported when it has
        ended, else resumed or started."""
        if self.options.batch_id is not None:
            info = pinned_batch(store, manifest, self.options.batch_id)
            if info.finished:
                self.recorded, self.ended_before = info, True
                log.info("batch_ended_before", state=store.where, batch=info.id)
                return store.report(info.id)
        plan = self.plan = self._anchored(store, manifest, plan)
        rerun = None if self.options.new else self.options.rerun
        check_rerun(store, manifest, rerun)
        self.selection = pinned_selection(store, manifest, new=self.options.new, rerun=rerun)
        return await self._connect_and_drive(manifest, plan, settings, started, store)

    def _anchored(self, store: StateStore, manifest: Manifest, plan: Plan) -> Plan:
        """The plan of the batch this run drives: a batch it resumes keeps the today it
        started with (a batch resumed after midnight plans the same runs), unless
        ``as_of`` names another day (a different plan, refused as any other)."""
        if plan.as_of is None or self.options.as_of is not None:
            return plan
        anchor = stored_anchor(store, manifest, new=self.options.new, rerun=self.options.rerun)
        if anchor is None or anchor == plan.as_of:
            return plan
        log.info("batch_as_of_kept", as_of=anchor.isoformat(), today=plan.as_of.isoformat())
        return build_plan(manifest, anchor)

    async def notify(self, report: BatchReport) -> list[Delivery]:
        """Tell the manifest's ``notify:`` targets how the batch ended, once per call.

        :func:`run_batch` and ``hexbatch run`` call it once :meth:`execute` has
        returned (also after an interrupt); :meth:`execute` alone notifies no one. A
        notification that fails is logged and returned, never raised. A dry run
        notifies no one (nothing ran), nor does a driver whose batch another process
        took over (that one notifies when the batch ends).
        """
        manifest = self.loaded
        if manifest is None or not manifest.notify:
            return []
        if self.options.dry_run:
            log.info("notify_skipped", reason="a dry run runs nothing")
            return []
        if self.ended_before:
            log.info("notify_skipped", reason="the batch had ended before: it was told then")
            return []
        lost = self.lease_lost
        if lost is None and self.journal is not None:
            failed = self.journal.failed
            lost = str(failed) if isinstance(failed, LeaseLostError) else None
        if lost is not None:
            # The batch goes on under another driver, which tells how it ends.
            log.info("notify_skipped", reason=lost)
            return []
        end = BatchEnd(
            report,
            manifest.name,
            batch_id=self.journal.batch_id if self.journal is not None else None,
            simulated=self.options.simulate,
        )
        settings = NotifySettings.for_manifest(
            manifest, clock=self.settings.clock, sleep=self.settings.sleep, rng=self.settings.rng
        )
        return await send_notifications(manifest.notify, end, settings)

    async def notify_refused(self, error: PreflightError) -> list[Delivery]:
        """Notify about a batch the preflight check refused: every planned run SKIPPED,
        with the reason (a token Hex refuses, a project unpublished since yesterday)."""
        if self.plan is None:
            return []
        return await self.notify(refused_report(self.plan, str(error), self.settings.now()))

    def _take_lease(self, store: StateStore, manifest: Manifest, ttl: float) -> Lease:
        lease, replaced = store.take_lease(manifest.name, Claimant.here(ttl))
        if replaced is not None:
            log.warning(
                "lease_taken_over",
                batch=manifest.name,
                holder=replaced.describe(),
                last_seen=replaced.heartbeat_at.isoformat(),
            )
        return lease

    def _lease_lost(self, reason: str) -> None:
        self.lease_lost = reason
        self.control.stop(reason)

    def _release(self, store: StateStore, lease: Lease) -> None:
        try:
            store.release_lease(lease)
        except StateError as error:
            # Harmless: the lease lapses after its TTL, or at once for a process on this host.
            log.warning("lease_not_released", batch=lease.name, error=str(error))

    def _quota(
        self, store: StateStore, token: str, manifest: Manifest, settings: EngineSettings
    ) -> StoreQuota:
        """The token's budget shared through ``store``, at this batch's priority."""
        # The database's clock, unless the settings bring their own (virtual) wall clock.
        wall = settings.now
        clock = None if wall is utc_now else (lambda: wall().timestamp())
        priority = self.options.config(manifest).priority
        return StoreQuota.open(store, token, batch=manifest.name, priority=priority, clock=clock)

    def _client(
        self,
        connection: Connection,
        manifest: Manifest,
        settings: EngineSettings,
        quota: StoreQuota | None,
    ) -> HexClient:
        def budget(windows: Sequence[Window], name: str) -> WindowLimiter | None:
            return limiter(
                windows, clock=settings.clock, sleep=settings.sleep, name=name, shared=quota
            )

        return HexClient(
            connection.base_url,
            connection.token,
            request_budget=budget(manifest.limits.requests, "requests"),
            trigger_budget=budget(manifest.limits.triggers, "triggers"),
            retry=settings.request_retry,
            max_connections=max(4, min(settings.max_in_flight, 50)),
            clock=settings.clock,
            sleep=settings.sleep,
            rng=settings.rng,
            wall=settings.now,
            allow_insecure_http=self.options.allow_insecure_http,
        )

    async def _connect_and_drive(
        self,
        manifest: Manifest,
        plan: Plan,
        settings: EngineSettings,
        started: datetime,
        store: StateStore | None,
    ) -> BatchReport:
        for warning in plan.warnings:
            log.warning("plan_warning", message=warning)
        async with (
            connect(manifest, self.options) as connection,
            contextlib.AsyncExitStack() as held,
        ):
            self.connection = connection
            quota = None
            if store is not None:
                quota = self._quota(store, connection.token, manifest, settings)
                held.callback(quota.close)
            client = self._client(connection, manifest, settings, quota)
            async with client:
                # A cancelling interrupt ends the check; the engine then skips every run.
                with self.control.until_cancelled():
                    plan, chosen_now = await self._selected(client, manifest, plan, settings)
                    await preflight(client, plan, checked=chosen_now)
                if store is None:
                    outcomes = await self._drive(
                        client, settings, [WorkItem(i) for i in plan.items]
                    )
                    return batch_report(
                        str(manifest.source.resolve()),
                        started,
                        outcomes,
                        finished_at=settings.now(),
                        requests=client.stats.as_dict(),
                        rate_limits=client.stats.limits,
                    )
                opened = self._open(store, manifest, plan, connection.base_url, started)
                if self._record_only:
                    log.info("batch_recorded", state=store.where, batch=opened.info.id)
                    return store.report(opened.info.id)
                return await self._drive_stored(client, settings, store, opened)

    def _open(
        self, store: StateStore, manifest: Manifest, plan: Plan, base_url: str, started: datetime
    ) -> OpenedBatch:
        """The batch in the store this run drives, resumed or created, with the runs
        ``skip_completed`` settles already ended."""
        opened = open_batch(
            store,
            manifest,
            plan,
            base_url=base_url,
            version=package_version(),
            now=started,
            new=self.options.new,
            rerun=self.options.rerun,
        )
        if self.options.skip_completed:
            opened = skip_completed(store, opened)
        self.recorded = opened.info
        return opened

    async def _selected(
        self, client: HexClient, manifest: Manifest, plan: Plan, settings: EngineSettings
    ) -> tuple[Plan, frozenset[str]]:
        """The plan with the projects of its ``select:`` entries, and the ids of those just
        listed by Hex as runnable (a pinned selection's are checked again).

        Raises:
            PreflightError: Hex could not be asked which projects they choose.
        """
        if not manifest.selectors:
            return plan, frozenset()
        chosen_now: frozenset[str] = frozenset()
        if self.selection is None:
            try:
                self.selection = await resolve_selection(client, manifest, now=settings.now())
            except HexAPIError as error:
                raise PreflightError(
                    f"nothing was triggered: could not list the projects the select: entries"
                    f" choose: {error}"
                ) from error
            chosen_now = frozenset(p.id for e in self.selection.entries for p in e.projects)
        selected = build_plan(manifest, plan.as_of, selection=self.selection)
        for warning in selected.warnings:
            if warning not in plan.warnings:
                log.warning("plan_warning", message=warning)
        return selected, chosen_now

    async def _drive(
        self,
        client: HexClient,
        settings: EngineSettings,
        work: list[WorkItem],
        *,
        journal: StoreJournal | None = None,
    ) -> list[RunOutcome]:
        self.engine = Engine(client, settings, journal=journal, control=self.control)
        return await self.engine.run(work)

    async def _drive_stored(
        self,
        client: HexClient,
        settings: EngineSettings,
        store: StateStore,
        opened: OpenedBatch,
    ) -> BatchReport:
        """Drive the opened batch, journalled in ``store``, and report it as stored (from
        memory when the store stopped accepting writes)."""
        batch_id = opened.info.id
        if not settings.durations:
            keys = [item.key for item in opened.work]
            settings = replace(settings, durations=store.durations(keys))
        journal = StoreJournal(store, batch_id, client.base_url, lease=self.lease)
        self.journal = journal
        try:
            driven = await self._drive(client, settings, opened.work, journal=journal)
        finally:
            journal.record_requests(client.stats.as_dict(), client.stats.limits)
        outcomes = {o.key: o for o in driven} | opened.done
        runs = [outcomes[key] for key in opened.order]
        stopped_at = settings.now()
        if journal.failed is None and self.lease_lost is None:
            # Not once another process drives the batch: its runs are that one's to tell.
            journal.record_unstarted(runs)
        if journal.failed is None and all(run.settled for run in runs):
            journal.finish(stopped_at)
        elif journal.failed is None and self.lease_lost is None:
            journal.stop(stopped_at)
        if journal.failed is None:
            log.info("batch_recorded", state=store.where, batch=batch_id)
            return store.report(batch_id)
        # What could not be stored is known in memory: report from there, and leave the
        # batch unfinished so the next run resumes from the durable records.
        log.warning("batch_not_fully_recorded", state=store.where, batch=batch_id)
        unrecorded = {} if journal.requests_recorded else client.stats.as_dict()
        return batch_report(
            opened.info.manifest,
            opened.info.started_at,
            runs,
            finished_at=stopped_at,
            requests=_requests(store, batch_id, unrecorded),
            rate_limits=client.stats.limits,
        )


def _requests(store: StateStore, batch_id: int, live: Mapping[str, int]) -> dict[str, int]:
    """The batch's stored request counts plus ``live`` ones that could not be stored."""
    try:
        counts = store.requests(batch_id)
    except StateError:
        counts = {}
    return {kind: counts.get(kind, 0) + live.get(kind, 0) for kind in {*counts, *live}}


async def run_batch(
    manifest: Manifest | str | Path,
    options: BatchOptions | None = None,
    *,
    settings: EngineSettings | None = None,
    control: Control | None = None,
    as_of: date | None = None,
) -> BatchReport:
    """Run a manifest's batch, send its notifications, and return its report (see
    :class:`BatchRun`).

    ``as_of`` is the day that is "today" for dates relative to today (it overrides
    ``options.as_of``).
    """
    options = options or BatchOptions()
    if as_of is not None:
        options = replace(options, as_of=as_of)
    run = BatchRun(
        manifest,
        options,
        settings or EngineSettings(),
        control or Control(),
    )
    try:
        report = await run.execute()
    except PreflightError as error:
        await run.notify_refused(error)
        raise
    await run.notify(report)
    return report
