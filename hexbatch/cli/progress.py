"""Progress while a batch runs: a live line on a terminal, periodic summaries elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import structlog
from rich.console import Console
from rich.live import Live
from rich.text import Text

from hexbatch.cli.view import render_view, span
from hexbatch.clock import TimeSource
from hexbatch.engine import Snapshot
from hexbatch.engine.viewmodel import BatchView
from hexbatch.report.console import status_text
from hexbatch.status import REPORT_ORDER

log = structlog.get_logger("hexbatch.cli.progress")


def _eta(snapshot: Snapshot) -> str:
    done = sum(snapshot.finished.values())
    if not done or done >= snapshot.total:
        return "—"
    rate = done / max(snapshot.elapsed, 1e-9)
    return f"{(snapshot.total - done) / rate:.0f}s"


def describe(snapshot: Snapshot) -> str:
    """One plain line, for logs and non-terminal output."""
    done = sum(snapshot.finished.values())
    counts = ", ".join(
        f"{name} {snapshot.finished[name]}" for name in REPORT_ORDER if snapshot.finished[name]
    )
    return (
        f"{done}/{snapshot.total} finished"
        + (f" ({counts})" if counts else "")
        + f", {snapshot.live} in flight, {snapshot.pending} waiting,"
        + f" elapsed {snapshot.elapsed:.0f}s, eta {_eta(snapshot)}"
        + _quota_text(snapshot, ", ")
    )


def _quota_text(snapshot: Snapshot, separator: str) -> str:
    """How long triggers waited for the token's quota, once they have."""
    if snapshot.quota_wait < 1:
        return ""
    return f"{separator}quota wait {span(snapshot.quota_wait)}"


def _rich_line(snapshot: Snapshot) -> Text:
    done = sum(snapshot.finished.values())
    line = Text.assemble(("▶ ", "bold"), (f"{done}/{snapshot.total} finished", "bold"))
    for name in REPORT_ORDER:
        if snapshot.finished[name]:
            line.append("  ")
            line.append_text(status_text(name))
            line.append(f" {snapshot.finished[name]}")
    line.append(
        f"   {snapshot.live} in flight · {snapshot.pending} waiting · "
        f"{snapshot.elapsed:.0f}s · eta {_eta(snapshot)}" + _quota_text(snapshot, " · ")
    )
    return line


async def show_progress(
    snapshot: Callable[[], Snapshot | None],
    console: Console,
    interval: float | None = None,
    as_events: bool = False,
    view: Callable[[], BatchView | None] | None = None,
    *,
    time: TimeSource | None = None,
) -> None:
    """Show progress until cancelled: live on a terminal, else a line every ``interval``.

    On a terminal, ``view`` (when given) feeds the full live view, which stays on
    screen, marked finished, once cancelled; without it a single live line is shown.
    With ``as_events`` (JSON logs) the periodic lines are ``batch_progress`` log
    events instead of text, so the log stream stays one JSON object per line.
    ``time`` paces the redraws (the batch's own time source; real time by default).
    """
    sleep = (time or TimeSource()).sleep
    if console.is_terminal and not as_events and view is not None:
        await show_view(view, console, interval, time=time)
    elif console.is_terminal and not as_events:
        with Live(console=console, refresh_per_second=4, transient=True) as live:
            while True:
                current = snapshot()
                if current is not None:
                    live.update(_rich_line(current))
                await sleep(interval or 0.25)
    else:
        while True:
            await sleep(interval or 10.0)
            current = snapshot()
            if current is None:
                continue
            if as_events:
                log.info(
                    "batch_progress",
                    finished=sum(current.finished.values()),
                    total=current.total,
                    live=current.live,
                    waiting=current.pending,
                    counts=dict(current.finished),
                )
            else:
                console.print(
                    f"progress: {describe(current)}", markup=False, highlight=False, soft_wrap=True
                )


async def show_view(
    view: Callable[[], BatchView | None],
    console: Console,
    interval: float | None = None,
    *,
    time: TimeSource | None = None,
) -> None:
    """Redraw the live view in place until cancelled, then leave its final state on screen."""
    sleep = (time or TimeSource()).sleep
    with Live(console=console, auto_refresh=False, transient=False) as live:
        try:
            while True:
                current = view()
                if current is not None:
                    live.update(render_view(current, console), refresh=True)
                # At most four redraws a second: enough to watch, cheap on a slow link.
                await sleep(interval or 0.25)
        finally:
            final = view()
            if final is not None:
                live.update(render_view(replace(final, done=True), console), refresh=True)
