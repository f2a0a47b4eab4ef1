"""The ``run`` command: a manifest in, every run's outcome out, exit code to match.

Exit codes (contract, see :mod:`hexbatch.exits`): 0 every run completed; 1 some run did
not complete; 2 usage, manifest, configuration or authentication error (nothing
triggered); 130 interrupted (the partial report is still written).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

import anyio
import click
import structlog
from rich.console import Console

from hexbatch.batch import BatchOptions, BatchRun, PreflightError
from hexbatch.cli.logs import LOG_FORMATS, configure_logging
from hexbatch.cli.plan import as_date, as_of_option
from hexbatch.cli.progress import describe, show_progress
from hexbatch.engine import Control, Snapshot
from hexbatch.engine.viewmodel import BatchView
from hexbatch.errors import HexbatchError, sole_error
from hexbatch.exits import EXIT_FAILED_RUNS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, exit_code
from hexbatch.manifest import ManifestError
from hexbatch.outcome import BatchReport
from hexbatch.report import render_console, write_github_step_summary, write_report_dir
from hexbatch.report.writer import FILE_NAMES, ReportsNotWritten
from hexbatch.resume import RERUN_CHOICES, NothingToRerun
from hexbatch.terminal import escape_control


def _usage_error(message: str, code: int = EXIT_USAGE) -> NoReturn:
    # Messages can carry project titles and Hex's own error text: show them as text.
    shown = "\n".join(escape_control(line) for line in message.splitlines())
    click.echo(f"error: {shown}", err=True)
    sys.exit(code)


def _stopped(run: BatchRun, error: HexbatchError) -> NoReturn:
    """Say why the batch stopped before its report, and exit with the code ``error`` means."""
    if isinstance(error, NothingToRerun):
        click.echo(str(error), err=True)
        sys.exit(exit_code(error))
    message = str(error)
    if isinstance(error, ManifestError):
        for issue in error.issues:
            click.echo(str(issue), err=True)
        message = f"{len(error.issues)} problem(s) in the manifest; nothing was triggered"
    elif isinstance(error, PreflightError):
        # A batch refused tonight (a token Hex no longer accepts, a project unpublished
        # since yesterday) is a failed night, worth the failure notifications.
        _notify(functools.partial(run.notify_refused, error))
    _usage_error(message, exit_code(error))


class _Interrupts:
    """First SIGINT/SIGTERM: stop triggering; second: cancel the live runs in Hex."""

    def __init__(self, control: Control, run: BatchRun, *, cancel_at_first: bool) -> None:
        self.control = control
        self.run = run
        self.cancel_at_first = cancel_at_first
        self.count = 0

    async def watch(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
            async for signum in received:
                self.count += 1
                name = signal.Signals(signum).name
                if self.count == 1 and not self.cancel_at_first:
                    self.control.stop(f"{name} received")
                    snapshot = self.run.engine.snapshot() if self.run.engine else None
                    waiting = f" ({describe(snapshot)})" if snapshot else ""
                    click.echo(
                        f"\n{name}: no new runs will start; waiting for the live ones to finish"
                        f"{waiting}. Press Ctrl-C again to cancel them in Hex.",
                        err=True,
                    )
                else:
                    self.control.cancel_live(f"{name} received")
                    click.echo(f"\n{name}: cancelling the live runs in Hex…", err=True)


def shows_live_view(log_format: str, *, progress: bool) -> bool:
    """True when ``run`` draws the live view: console logs, progress on, stderr a terminal."""
    return log_format == "console" and progress and Console(stderr=True).is_terminal


async def _execute(
    run: BatchRun, *, progress: bool, cancel_on_interrupt: bool, as_events: bool
) -> tuple[BatchReport, bool]:
    interrupts = _Interrupts(run.control, run, cancel_at_first=cancel_on_interrupt)

    def snapshot() -> Snapshot | None:
        return run.engine.snapshot() if run.engine else None

    def view() -> BatchView | None:
        return run.engine.view_model() if run.engine else None

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(interrupts.watch)
            if progress:
                # The display keeps the batch's time (real for the command line).
                display = functools.partial(show_progress, time=run.settings.time)
                group.start_soon(display, snapshot, Console(stderr=True), None, as_events, view)
            report = await run.execute()
            group.cancel_scope.cancel()
    except BaseExceptionGroup as failures:
        raise sole_error(failures) from None
    return report, interrupts.count > 0


async def _abandonable(send: Callable[[], Awaitable[object]]) -> None:
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
                async for signum in received:
                    name = signal.Signals(signum).name
                    click.echo(
                        f"\n{name}: the notifications still being sent are abandoned", err=True
                    )
                    group.cancel_scope.cancel()

        group.start_soon(watch)
        await send()
        group.cancel_scope.cancel()


def _notify(send: Callable[[], Awaitable[object]]) -> None:
    """Send the batch's notifications (``notify:``) once it has ended; Ctrl-C abandons them.

    Whatever happens here, the exit code stays the batch's own.
    """
    try:
        anyio.run(_abandonable, send)
    except Exception as error:  # noqa: BLE001 - a notification never changes the exit code
        structlog.get_logger("hexbatch.notify").error("notify_failed", error=str(error))


def _check_combinations(flags: dict[str, Any]) -> None:
    """Refuse flags that would silently do nothing together."""
    if flags["rerun"] and flags["new"]:
        _usage_error("--rerun reopens the latest batch; it cannot be combined with --new")
    if flags["rerun"] and flags["dry_run"]:
        _usage_error("--dry-run keeps no state, so there is nothing to --rerun")
    if flags["rerun"] and flags["simulate"] and not flags["state"]:
        _usage_error("a --simulate batch keeps no state unless --state is given: nothing to rerun")
    if flags["skip_completed"] and flags["dry_run"]:
        _usage_error("--dry-run keeps no state, so it cannot tell which runs completed before")
    if flags["skip_completed"] and flags["simulate"] and not flags["state"]:
        _usage_error(
            "a --simulate batch keeps no state unless --state is given: --skip-completed "
            "has no earlier batches to look at"
        )


def _probe(folder: Path, what: str) -> None:
    """Create and remove a file in ``folder``: only a real write proves it can be written."""
    try:
        fd, name = tempfile.mkstemp(prefix=".hexbatch-probe-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as error:
        _usage_error(f"{what}: cannot write in {folder}: {error.strerror or error}")


def _check_outputs(json_path: str | None, report_dir: str | None) -> None:
    """Refuse unusable output paths before anything is triggered."""
    try:
        if report_dir:
            folder = Path(report_dir)
            folder.mkdir(parents=True, exist_ok=True)
            _probe(folder, f"--report-dir {report_dir}")
            for name in FILE_NAMES.values():
                if (folder / name).is_dir():
                    _usage_error(
                        f"--report-dir {report_dir}: {folder / name} is a directory, in the way "
                        "of that report; move it or choose another folder"
                    )
        if json_path and json_path != "-":
            target = Path(json_path)
            if target.is_dir():
                _usage_error(f"--json {json_path} is a directory; give a file path")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                _usage_error(f"--json {json_path}: cannot create {target.parent}: {error.strerror}")
            _probe(target.parent, f"--json {json_path}")
            if target.exists() and not os.access(target, os.W_OK):
                _usage_error(f"--json {json_path}: the file cannot be written")
    except OSError as error:
        _usage_error(f"cannot write reports there: {error.strerror or error}")


def _write_outputs(report: BatchReport, json_path: str | None, report_dir: str | None) -> bool:
    """Write the requested reports, each on its own; False (after saying which and why) when
    one could not be written."""
    written_all = True
    if json_path:
        text = json.dumps(report.to_json(), indent=2) + "\n"
        if json_path == "-":
            click.echo(text, nl=False)
        else:
            try:
                Path(json_path).write_text(text, encoding="utf-8")
            except OSError as error:
                click.echo(f"error: could not write --json {json_path}: {error}", err=True)
                written_all = False
    if report_dir:
        try:
            written = write_report_dir(report, Path(report_dir))
        except ReportsNotWritten as error:
            written = error.written
            click.echo(f"error: {error}", err=True)
            written_all = False
        except OSError as error:
            written = {}
            click.echo(f"error: could not write the reports in {report_dir}: {error}", err=True)
            written_all = False
        if written:
            click.echo("reports: " + ", ".join(str(path) for path in written.values()), err=True)
    try:
        write_github_step_summary(report)
    except OSError as error:
        click.echo(f"warning: could not append to GITHUB_STEP_SUMMARY: {error}", err=True)
    return written_all


def _options(flags: dict[str, Any]) -> BatchOptions:
    """The batch's options from ``run``'s flags."""
    return BatchOptions(
        base_url=flags["base_url"],
        simulate=flags["simulate"],
        max_in_flight=flags["max_in_flight"],
        fail_fast=flags["fail_fast"] or flags["cancel_on_fail_fast"],
        cancel_on_fail_fast=flags["cancel_on_fail_fast"],
        dry_run=flags["dry_run"],
        allow_insecure_http=flags["allow_insecure_http"],
        state=flags["state"],
        new=flags["new"],
        rerun=flags["rerun"],
        priority=flags["priority"],
        skip_completed=flags["skip_completed"],
        as_of=as_date(flags["as_of"]),
    )


@click.command("run")
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--base-url", help="Hex API base URL (overrides HEX_API_BASE_URL and the manifest).")
@click.option("--simulate", is_flag=True, help="Run against the built-in Hex API simulator.")
@click.option(
    "--state",
    type=click.Path(dir_okay=False),
    help="State store (default: .hexbatch/state.db beside the manifest).",
)
@click.option("--new", is_flag=True, help="Start a new batch even if the last one is unfinished.")
@click.option(
    "--rerun",
    type=click.Choice(RERUN_CHOICES),
    help="Give runs that ended failed, unknown, or all runs a new attempt.",
)
@click.option(
    "--skip-completed",
    is_flag=True,
    help="Trigger only runs whose key never completed in an earlier batch of the state store.",
)
@click.option(
    "--priority",
    type=click.Choice(["high", "normal", "low"]),
    help="Who goes first when the token's quota is scarce (overrides the manifest).",
)
@as_of_option
@click.option(
    "--json", "json_path", metavar="PATH", help="Write the JSON report here ('-': stdout)."
)
@click.option("--report-dir", metavar="DIR", help="Write every report format into DIR.")
@click.option("--max-in-flight", type=click.IntRange(min=1), help="Runs alive at once.")
@click.option("--fail-fast", is_flag=True, help="Start nothing new after the first failure.")
@click.option(
    "--cancel-on-fail-fast", is_flag=True, help="With --fail-fast, also cancel the live runs."
)
@click.option("--cancel-on-interrupt", is_flag=True, help="Cancel live runs at the first Ctrl-C.")
@click.option("--dry-run", is_flag=True, help="Send every trigger with Hex's dryRun flag.")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="console", show_default=True)
@click.option("--no-progress", is_flag=True, help="No progress display.")
@click.option("-v", "--verbose", is_flag=True, help="Log every poll too.")
@click.option(
    "--allow-insecure-http", is_flag=True, help="Allow plain http to a non-loopback Hex host."
)
def run_command(manifest: str, **flags: Any) -> None:
    """Run every run a MANIFEST plans, and report each outcome."""
    live_view = shows_live_view(flags["log_format"], progress=not flags["no_progress"])
    # Info lines would scroll over the live view; warnings and errors still show above it.
    configure_logging(
        flags["log_format"], verbose=flags["verbose"], quiet=live_view and not flags["verbose"]
    )
    options = _options(flags)
    _check_combinations(flags)
    _check_outputs(flags["json_path"], flags["report_dir"])
    run = BatchRun(manifest, options)
    try:
        report, interrupted = anyio.run(
            lambda: _execute(
                run,
                progress=not flags["no_progress"],
                cancel_on_interrupt=flags["cancel_on_interrupt"],
                as_events=flags["log_format"] == "json",
            )
        )
    except HexbatchError as error:
        _stopped(run, error)
    except OSError as error:  # e.g. a state store in a folder that cannot be written
        _usage_error(str(error))
    written = _write_outputs(report, flags["json_path"], flags["report_dir"])
    render_console(report, Console(stderr=flags["json_path"] == "-"))
    _notify(lambda: run.notify(report))
    _exit(run, report, interrupted=interrupted, written=written)


def _exit(run: BatchRun, report: BatchReport, *, interrupted: bool, written: bool) -> NoReturn:
    """Exit with the code the batch's end means, once its reports are out."""
    if run.control.fatal is not None:
        _usage_error(
            f"{run.control.fatal}\nNothing more was triggered; the runs not started are SKIPPED."
        )
    if interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if run.journal is not None and run.journal.failed is not None:
        # Runs were triggered and followed; only their record is incomplete.
        click.echo(
            f"error: the state store could not record everything ({run.journal.failed}); "
            "these reports come from memory and the batch is left unfinished. Once the disk "
            "has room, run the same command again: it resumes from what was recorded.",
            err=True,
        )
        sys.exit(EXIT_FAILED_RUNS)
    sys.exit(EXIT_OK if report.ok and written else EXIT_FAILED_RUNS)
