"""One batch as an orchestrator task drives it: the engine's run, its reports and a payload
small and serialisable enough for a task's result (an Airflow event, XCom).

Kept free of any orchestrator import so that it is tested with the core install.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import anyio

from hexbatch.batch import BatchOptions, BatchRun, PreflightError
from hexbatch.engine import Control, EngineSettings
from hexbatch.engine.context import utc_now
from hexbatch.errors import HexbatchError
from hexbatch.manifest import Manifest, load_manifest
from hexbatch.manifest.relative import local_today
from hexbatch.outcome import BatchReport, RunOutcome
from hexbatch.plan import build_plan
from hexbatch.report import write_report_dir
from hexbatch.report.writer import ReportsNotWritten


@dataclass(frozen=True, slots=True)
class BatchJob:
    """What a task asks for: every field is plain data, so it crosses to a triggerer as is.

    The token is not part of it: it is read from the orchestrator's connection by whoever
    drives the batch, so it is never stored with the task's deferral.
    """

    manifest: str
    state: str | None = None
    as_of: str | None = None
    skip_completed: bool = False
    report_dir: str | None = None
    fail_fast: bool = False

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
        }

    def check(self) -> Manifest:
        """Load the manifest and plan its runs: bad input ends the task before anything runs.

        Raises:
            ManifestError: the manifest (or a date in it) is not valid.
            ValueError: ``as_of`` is not a date.
        """
        manifest = load_manifest(self.manifest)
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
        )


async def drive(
    job: BatchJob,
    token: str,
    base_url: str | None,
    *,
    control: Control | None = None,
    settings: EngineSettings | None = None,
) -> dict[str, Any]:
    """Run (or resume) the job's batch, notify, write its reports; return the outcome payload.

    A batch that cannot start (a refused preflight, a store another driver holds) is an
    outcome too, with ``error`` set: the caller turns it into a failed task.
    """
    try:
        manifest = await asyncio.to_thread(load_manifest, job.manifest)
        run = BatchRun(
            manifest,
            job.options(manifest, token, base_url),
            settings or EngineSettings(),
            control or Control(),
        )
        try:
            report = await run.execute()
        except PreflightError as error:
            await run.notify_refused(error)
            raise
        await run.notify(report)
    except (HexbatchError, OSError) as error:
        return {"ok": False, "error": str(error), "counts": {}, "runs": [], "report_dir": None}
    written = await asyncio.to_thread(_write_reports, report, job.report_dir)
    return outcome_payload(report, written)


class WorkerDrive:
    """A batch driven on the calling thread's own event loop (an orchestrator's worker), which
    :meth:`kill` may stop from any thread or signal handler."""

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
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self) -> dict[str, Any]:
        """Drive the batch to its end; the outcome payload as :func:`drive` returns it."""
        return anyio.run(self._drive)

    async def _drive(self) -> dict[str, Any]:
        self._loop = asyncio.get_running_loop()
        try:
            return await drive(
                self.job,
                self._token,
                self._base_url,
                control=self._control,
                settings=self._settings,
            )
        finally:
            self._loop = None

    def kill(self, reason: str) -> None:
        """Cancel the batch's live runs in Hex (the store records them); the batch then ends.

        The engine's cancel scopes belong to its loop: the cancel is handed to that loop,
        never run on the caller's thread.
        """
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._control.cancel_live, reason)


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
                "run": _label(run),
                "status": run.status,
                "error": run.error,
                "run_url": run.run_url,
            }
            for run in report.runs
        ],
        "report_dir": report_dir,
    }


def _label(run: RunOutcome) -> str:
    params = ", ".join(f"{name}={value}" for name, value in run.params.items())
    return f"{run.project} ({params})" if params else run.project


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
