"""The ``history``, ``report`` and ``cancel`` commands: look at and act on a state store.

Every problem with the store itself (absent, damaged, foreign, newer) or with the
configuration prints one line to stderr and exits 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.live import Live

from hexbatch.batch_status import BatchStatus, batch_status
from hexbatch.cancel import CancelSummary, cancel_everywhere
from hexbatch.cli.view import render_view, span
from hexbatch.config import Flags, config_for
from hexbatch.errors import ConfigurationError
from hexbatch.exits import EXIT_FAILED_RUNS, EXIT_USAGE, exit_code
from hexbatch.outcome import iso
from hexbatch.report import FORMATS, render
from hexbatch.state import BatchInfo, BatchSummary, StateError, StateStore
from hexbatch.state.leases import Lease, LeaseHeldError, this_host
from hexbatch.state.location import STATE_ENV
from hexbatch.terminal import escape_control

# Batches `history` shows unless told otherwise: a nightly store keeps one a night.
HISTORY_LIMIT = 20

# A path, sqlite:///path or a database URL; kept as text, since a Path would fold
# the URL's "//".
_STATE = click.argument("state", type=str)
_BATCH = click.option(
    "--batch", "batch_id", type=int, help="Batch id (see `hexbatch history`); default: the latest."
)


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextlib.contextmanager
def _opened(state: str | None, *, read_only: bool = False) -> Iterator[StateStore]:
    """Open the existing store ``state`` names (None: the one ``HEXBATCH_STATE`` names); any
    StateError, now or while it is used, exits 2.

    ``read_only`` (commands that only read) also opens a store that cannot be
    written, e.g. on read-only media, and says so on stderr.
    """
    try:
        location = config_for(Flags(state=state)).state
        if location is None:
            _fail(f"give the state store (a path or a postgresql:// URL), or set {STATE_ENV}")
        with StateStore.open_existing(location, read_only=read_only) as store:
            if store.note:
                click.echo(f"note: {store.note}", err=True)
            yield store
    except StateError as error:
        _fail(str(error), exit_code(error))


def _chosen_batch(store: StateStore, batch_id: int | None) -> BatchInfo:
    if batch_id is None:
        batch_id = store.latest_batch_id()
        if batch_id is None:
            raise StateError(f"{store.where} holds no batches yet")
    return store.batch(batch_id)


def _duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "unfinished"
    # Under a minute a tenth of a second still tells something; above, the view's spans.
    return f"{seconds:.1f}s" if round(seconds) < 60 else span(seconds)


def history_line(summary: BatchSummary) -> str:
    """One batch as a line: id, start, duration, counts per status, manifest."""
    started = summary.started_at.strftime("%Y-%m-%d %H:%M:%S")
    counts = " ".join(f"{status}={count}" for status, count in summary.counts.items())
    return (
        f"{summary.id:>4}  {started}  {_duration_text(summary.duration_s):>10}  "
        f"{counts or 'no runs'}  {escape_control(summary.manifest)}"
    )


def history_json(summary: BatchSummary) -> dict[str, Any]:
    """One batch as a JSON object for ``history --json``."""
    return {
        "id": summary.id,
        "manifest": summary.manifest,
        "started_at": iso(summary.started_at),
        "finished_at": iso(summary.finished_at),
        "duration_s": summary.duration_s,
        "runs": summary.total,
        "counts": summary.counts,
    }


@click.command()
@_STATE
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help=f"Show the latest N batches (default {HISTORY_LIMIT}).",
)
@click.option(
    "--before",
    "before_id",
    type=int,
    metavar="ID",
    help="Only batches older than batch ID (to page back from the oldest one shown).",
)
@click.option("--all", "show_all", is_flag=True, help="Show every batch.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of lines.")
def history(
    state: str, limit: int | None, before_id: int | None, show_all: bool, as_json: bool
) -> None:
    """List the latest batches kept in STATE, oldest first: id, start (UTC), duration,
    counts, manifest.

    Shows the latest 20 (or --limit N) and says how many older ones there are;
    --before ID pages back and --all lists every batch.
    """
    if show_all and limit is not None:
        raise click.UsageError("--all and --limit cannot be combined")
    with _opened(state, read_only=True) as store:
        shown = None if show_all else (limit or HISTORY_LIMIT)
        summaries = store.batches(limit=shown, before_id=before_id)
        older = store.batch_count(before_id=summaries[0].id) if summaries and shown else 0
        where = store.where
    if as_json:
        click.echo(json.dumps([history_json(summary) for summary in summaries], indent=2))
    elif not summaries:
        before = "" if before_id is None else f" before batch {before_id}"
        click.echo(f"{where} holds no batches{before}{'' if before else ' yet'}.")
    else:
        for summary in summaries:
            click.echo(history_line(summary))
    if older:
        # On stderr: the lines (or the JSON) on stdout stay one batch each.
        click.echo(
            f"{older} older batch{'es' if older > 1 else ''} not shown: "
            f"--before {summaries[0].id} pages back, --all shows every batch",
            err=True,
        )


@click.command()
@_STATE
@_BATCH
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="json",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file instead of standard output.",
)
def report(state: str, batch_id: int | None, fmt: str, output: Path | None) -> None:
    """Render the report of a batch in STATE (the latest by default), finished or not."""
    with _opened(state, read_only=True) as store:
        text = render(store.report(_chosen_batch(store, batch_id).id), fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write {output}: {error.strerror}")
    click.echo(f"wrote {output}", err=True)


@click.command()
@_STATE
@_BATCH
def cancel(state: str, batch_id: int | None) -> None:
    """Cancel in Hex every run that a batch in STATE (the latest by default) shows in flight.

    Each run is cancelled at the Hex URL its attempt was triggered at. A store that a
    `hexbatch run` process is driving is refused: that process would record its own
    view of the runs over this one; interrupt it twice instead.
    """
    with _opened(state) as store:
        info = _chosen_batch(store, batch_id)
        runs = store.runs(info.id)
        unresolved = [run.key for run in runs if run.unresolved]
        if not any(run.in_flight for run in runs):
            click.echo(f"batch {info.id} has no runs in flight; nothing to cancel.")
            _print_unresolved(unresolved)
            return
        try:
            lease, _ = store.take_lease(info.name)
        except LeaseHeldError as error:
            _refuse_while_driven(state, error)
        try:
            # The batch's own variable: the one its runs were triggered with.
            config = config_for(Flags(token_env=info.token_env, keeps_state=False))
            if not config.token_present:
                _fail(
                    f"{config.token_env} is not set: export the Hex API token of batch "
                    f"{info.id} in it to cancel its runs"
                )
            token = os.environ[config.token_env].strip()
            summary = _run_cancel(store, info, token)
        finally:
            store.release_lease(lease)
    summary.unresolved = unresolved
    _print_summary(info, summary)
    if summary.count("failed"):
        # Some run may still be alive in Hex: not every run ended as asked.
        sys.exit(EXIT_FAILED_RUNS)


def _refuse_while_driven(state: str, error: LeaseHeldError) -> NoReturn:
    lease = error.lease
    here = lease.host == this_host()
    again = f" (`kill -INT {lease.pid}` twice)" if here else ""
    _fail(
        f"{error} (in {state}). Press Ctrl-C twice in that process{again} to cancel its live "
        "runs in Hex and record them. `hexbatch cancel` is for a batch no process is driving.",
        exit_code(error),
    )


def _run_cancel(store: StateStore, info: BatchInfo, token: str) -> CancelSummary:
    """Cancel the runs at each Hex URL where the batch has some in flight, one URL at a time."""
    try:
        return asyncio.run(cancel_everywhere(store, info.id, token))
    except ConfigurationError as error:
        _fail(str(error), exit_code(error))


def _print_summary(info: BatchInfo, summary: CancelSummary) -> None:
    for result in summary.results:
        where = escape_control(f"{result.project} {result.key} (run {result.run_id})")
        if result.action == "cancelled":
            click.echo(f"cancelled  {where}")
        elif result.action == "finished":
            ended = escape_control(str(result.status))
            click.echo(f"finished   {where} had already ended: {ended}")
        else:
            click.echo(f"FAILED     {where}: {escape_control(str(result.error))}", err=True)
    _print_unresolved(summary.unresolved)
    click.echo(
        f"batch {info.id}: {summary.count('cancelled')} cancelled, "
        f"{summary.count('finished')} already finished, {summary.count('failed')} failed."
    )


def _print_unresolved(keys: list[str]) -> None:
    for key in keys:
        click.echo(
            f"unknown    {key}: its trigger's outcome is not settled yet, so there is no run id "
            "to cancel; the next `hexbatch run` of the batch settles it",
            err=True,
        )


def _lease_text(lease: Lease, now: datetime) -> str:
    seen = _duration_text(max(0.0, (now - lease.heartbeat_at).total_seconds()))
    return (
        f"driven by process {lease.pid} on {escape_control(lease.host)} since "
        f"{iso(lease.started_at)}, last heartbeat {seen} ago"
    )


def _status_text(status: BatchStatus, now: datetime) -> str:
    """The human view of ``hexbatch status``: a few lines, every value escaped."""
    info = status.info
    since = _duration_text((now - info.started_at).total_seconds())
    state = "finished" if info.finished else f"running for {since}"
    lines = [
        f"batch {info.id} ({escape_control(info.name or info.manifest)}): {status.total} runs, "
        f"started {iso(info.started_at)}, {state}",
        "  " + ", ".join(f"{name} {count}" for name, count in status.counts.items()),
    ]
    if status.lease is not None and not info.finished:
        lines.append("  " + _lease_text(status.lease, now))
    if status.quota_wait_s >= 1:
        lines.append(f"  triggers waited {_duration_text(status.quota_wait_s)} for quota")
    if status.estimated_end is not None:
        lines.append(f"  estimated end {iso(status.estimated_end)}")
    for run in status.live:
        age = run.age_s(now)
        lines.append(
            f"  live {escape_control(run.project)}[{escape_control(run.params)}] "
            f"{run.status} {run.run_id} for {_duration_text(age)}"
        )
    return "\n".join(lines)


@click.command()
@click.argument("state", type=str, required=False)
@_BATCH
@click.option("--json", "as_json", is_flag=True, help="Print a hexbatch.status/1 document.")
@click.option("--watch", is_flag=True, help="Refresh in place until Ctrl-C.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.5),
    default=2.0,
    show_default=True,
    help="Seconds between refreshes with --watch.",
)
def status(
    state: str | None, batch_id: int | None, as_json: bool, watch: bool, interval: float
) -> None:
    """Show a batch's progress from STATE (default: $HEXBATCH_STATE), from any machine:
    runs per status, live runs and their age, the process driving it, the estimated end."""
    console = Console()
    if watch and not as_json and console.is_terminal:
        _watch_view(state, batch_id, interval, console)
        return
    while True:
        now = datetime.now(UTC)
        with _opened(state, read_only=True) as store:
            found = batch_status(store, _chosen_batch(store, batch_id).id, now)
        if as_json:
            click.echo(json.dumps(found.to_json(now), indent=2))
        else:
            if watch:
                click.clear()
            click.echo(_status_text(found, now))
        if not watch or found.info.finished:
            return
        time.sleep(interval)


def _watch_view(state: str | None, batch_id: int | None, interval: float, console: Console) -> None:
    """``status --watch`` on a terminal: the same live view ``run`` draws, until finished."""
    with Live(console=console, auto_refresh=False, transient=False) as live:
        while True:
            now = datetime.now(UTC)
            with _opened(state, read_only=True) as store:
                found = batch_status(store, _chosen_batch(store, batch_id).id, now)
            live.update(render_view(found.view(now), console), refresh=True)
            if found.info.finished:
                return
            time.sleep(interval)
