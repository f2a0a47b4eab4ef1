"""One batch as an orchestrator task drives it: the engine's run, its reports and a payload
small and serialisable enough for a task's result (an Airflow event, XCom).

Kept free of any orchestrator import so that it is tested with the core install.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import anyio
import structlog

from hexbatch.batch import BatchOptions, BatchRun, PreflightError
from hexbatch.engine import Control, EngineSettings
from hexbatch.engine.context import utc_now
from hexbatch.errors import HexbatchError
from hexbatch.manifest import Manifest, load_manifest
from hexbatch.manifest.relative import local_today
from hexbatch.outcome import BatchReport
from hexbatch.plan import build_plan
from hexbatch.report import write_report_dir
from hexbatch.report.facts import run_label
from hexbatch.report.writer import ReportsNotWritten
from hexbatch.resume import NothingToRerun
from hexbatch.state.leases import LeaseHeldError

log = structlog.get_logger("hexbatch.integrations")

LEASE_POLL_S: Final = 5.0
"""How often a driver handed a batch that another driver holds asks for its lease again."""


@dataclass(frozen=True, slots=True)
class BatchJob:
    """What a task asks for: every field is plain data, so it crosses to a triggerer as is.

    The token is not part of it: it is read from the orchestrator's connection by whoever
    drives the batch, so it is never stored with the task's deferral.

    Attributes:
        batch_name: the name the batch is kept under in the state store, instead of the
            manifest's (one batch per DAG run or partition, so that they run side by side).
        batch_id: the batch :func:`record` opened; whoever drives the job drives that one.
    """

    manifest: str
    state: str | None = None
    as_of: str | None = None
    skip_completed: bool = False
    report_dir: str | None = None
    fail_fast: bool = False
    batch_name: str | None = None
    batch_id: int | None = None

    def as_of_date(self) -> date | None:
        """The ``as_of`` day, from an ISO date or the start of an ISO timestamp."""
        if self.as_of is None or not self.as_of.strip():
            return None
        return date.fromisoformat(self.as_of.strip()[:10])

    def to_kwargs(self) -> dict[str, Any]:
        """The job as keyword arguments (a trigger's serialised form)."""
        return {
            "manifest": self.manifest,
            "state": self.state,
            "as_of": self.as_of,
            "skip_completed": self.skip_completed,
            "report_dir": self.report_dir,
            "fail_fast": self.fail_fast,
            "batch_name": self.batch_name,
            "batch_id": self.batch_id,
        }

    def load(self) -> Manifest:
        """The manifest, under the job's batch name when it has one.

        Raises:
            ManifestError: the manifest is not valid.
        """
        manifest = load_manifest(self.manifest)
        if self.batch_name:
            manifest = dataclasses.replace(manifest, name=self.batch_name)
        return manifest

    def check(self) -> Manifest:
        """Load the manifest and plan its runs: bad input ends the task before anything runs.

        Raises:
            ManifestError: the manifest (or a date in it) is not valid.
            ValueError: ``as_of`` is not a date.
        """
        manifest = self.load()
        anchor = self.as_of_date() or local_today(utc_now(), manifest.timezone)
        build_plan(manifest, anchor)
        return manifest

    def options(self, manifest: Manifest, token: str, base_url: str | None) -> BatchOptions:
        """The engine's options, with the token given under the manifest's variable."""
        env = {**os.environ, manifest.token_env: token}
        return BatchOptions(
            base_url=base_url,
            env=env,
            state=self.state,
            skip_completed=self.skip_completed,
            as_of=self.as_of_date(),
            fail_fast=self.fail_fast,
            batch_id=self.batch_id,
        )


async def record(
    job: BatchJob,
    token: str,
    base_url: str | None,
    *,
    retry: bool = False,
    settings: EngineSettings | None = None,
) -> BatchJob:
    """Check the job's projects and open its batch in the state store, triggering nothing;
    the job, with the batch's id, for whoever drives it.

    The batch of an earlier try that did not finish is resumed. On a ``retry``, a batch
    that finished with failures is reopened and its failed runs only are given a new
    attempt (what completed, or whose end is unknown, is never triggered again); one with
    no failed run is handed over as it is, to be reported.

    Raises:
        HexbatchError: bad input, a project that cannot run (nothing was triggered), or a
            batch another process drives.
    """
    manifest = await asyncio.to_thread(job.load)
    options = job.options(manifest, token, base_url)
    if retry:
        options = dataclasses.replace(options, rerun="failed", batch_id=None)
    run = BatchRun(manifest, options, settings or EngineSettings(), Control())
    try:
        batch_id = await run.record()
    except NothingToRerun as nothing:
        if nothing.batch_id is None:  # no batch yet: the first try never recorded one
            return await record(job, token, base_url, settings=settings)
        batch_id = nothing.batch_id
    return dataclasses.replace(job, batch_id=batch_id)


async def drive(
    job: BatchJob,
    token: str,
    base_url: str | None,
    *,
    control: Control | None = None,
    settings: EngineSettings | None = None,
) -> dict[str, Any]:
    """Run (or resume) the job's batch, notify, write its reports; return the outcome payload.

    A job with a ``batch_id`` waits while another driver holds that batch (a trigger that
    runs twice): once the lease is free, the batch is resumed if the other driver stopped,
    or reported as stored if it finished. A batch that cannot start (a refused preflight,
    a batch without an id that another driver holds) is an outcome too, with ``error``
    set: the caller turns it into a failed task.
    """
    settings = settings or EngineSettings()
    try:
        manifest = await asyncio.to_thread(job.load)
        options = job.options(manifest, token, base_url)
        report = await _execute(BatchRun(manifest, options, settings, control or Control()))
    except (HexbatchError, OSError) as error:
        return {"ok": False, "error": str(error), "counts": {}, "runs": [], "report_dir": None}
    written = await asyncio.to_thread(_write_reports, report, job.report_dir)
    return outcome_payload(report, written)


async def _execute(run: BatchRun) -> BatchReport:
    """The batch's report, with its notifications sent; waits for a pinned batch's lease."""
    while True:
        try:
            report = await run.execute()
        except LeaseHeldError as held:
            if run.options.batch_id is None:
                raise
            log.info("batch_lease_wait", batch=run.options.batch_id, holder=held.lease.describe())
            await run.settings.sleep(LEASE_POLL_S)
            continue
        except PreflightError as error:
            await run.notify_refused(error)
            raise
        await run.notify(report)
        return report


class WorkerDrive:
    """A batch driven on its own event loop, on the thread that calls :meth:`run` (an
    orchestrator's worker, or a thread of a triggerer); :meth:`kill` and :meth:`detach` may
    stop it from any thread or signal handler, also before it has started."""

    def __init__(
        self,
        job: BatchJob,
        token: str,
        base_url: str | None,
        *,
        settings: EngineSettings | None = None,
    ) -> None:
        self.job = job
        self._token = token
        self._base_url = base_url
        self._settings = settings
        self._control = Control()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scope: anyio.CancelScope | None = None
        self._killed: str | None = None
        self._detached: str | None = None

    def run(self) -> dict[str, Any]:
        """Drive the batch to its end; the outcome payload as :func:`drive` returns it."""
        return anyio.run(self._drive)

    async def _drive(self) -> dict[str, Any]:
        with anyio.CancelScope() as scope:
            with self._lock:
                self._loop, self._scope = asyncio.get_running_loop(), scope
                # A stop asked for before the loop existed is applied now.
                if self._killed is not None:
                    self._control.cancel_live(self._killed)
                if self._detached is not None:
                    scope.cancel()
            try:
                return await drive(
                    self.job,
                    self._token,
                    self._base_url,
                    control=self._control,
                    settings=self._settings,
                )
            finally:
                with self._lock:
                    self._loop = self._scope = None
        error = f"stopped driving the batch ({self._detached}): its next driver resumes it"
        return {"ok": False, "error": error, "counts": {}, "runs": [], "report_dir": None}

    def kill(self, reason: str) -> None:
        """Cancel the batch's live runs in Hex (the store records them); the batch then ends.

        The engine's cancel scopes belong to its loop: the cancel is handed to that loop,
        never run on the caller's thread.
        """
        with self._lock:
            self._killed = reason
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._control.cancel_live, reason)

    def detach(self, reason: str) -> None:
        """Stop driving at once and leave Hex's runs running: the state store keeps them,
        and the batch's next driver follows them (nothing is triggered twice)."""
        with self._lock:
            self._detached = reason
            if self._scope is not None and self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._scope.cancel)


def _write_reports(report: BatchReport, report_dir: str | None) -> str | None:
    if report_dir is None:
        return None
    try:
        write_report_dir(report, Path(report_dir))
    except ReportsNotWritten as error:
        # The batch ran; a report that could not be written must not hide its outcome.
        return f"{report_dir} (incomplete: {error})"
    return str(Path(report_dir).resolve())


def outcome_payload(report: BatchReport, report_dir: str | None) -> dict[str, Any]:
    """The report reduced to what a task's result carries (JSON-serialisable)."""
    return {
        "ok": report.ok,
        "error": None,
        "counts": dict(report.counts()),
        "runs": [
            {
                "key": run.key,
                "run": run_label(run),
                "status": run.status,
                "error": run.error,
                "run_url": run.run_url,
            }
            for run in report.runs
        ],
        "report_dir": report_dir,
    }


def summary(payload: Mapping[str, Any]) -> str:
    """A readable account of the batch's outcome, for the task's log and failure."""
    if payload.get("error"):
        return f"the batch did not run: {payload['error']}"
    counts = ", ".join(f"{n} {status}" for status, n in payload["counts"].items())
    lines = [f"batch {'completed' if payload['ok'] else 'did not complete'}: {counts}"]
    lines += [
        f"  {run['run']}: {run['status']}"
        + (f": {run['error']}" if run["error"] else "")
        + (f" {run['run_url']}" if run["run_url"] else "")
        for run in payload["runs"]
        if run["status"] != "COMPLETED"
    ]
    if payload.get("report_dir"):
        lines.append(f"reports: {payload['report_dir']}")
    return "\n".join(lines)
