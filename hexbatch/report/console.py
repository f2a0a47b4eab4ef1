"""The end-of-run summary printed to the terminal.

Counts per status, then the runs that did not complete, then the slowest runs.
Every value from Hex or the manifest goes through :func:`hexbatch.terminal.plain`:
shown as text (no rich markup) with control characters escaped.
Colour is left to rich's Console: it is used only on a terminal and never when
``NO_COLOR`` is set. Tables fold long cells so they stay readable in 80 columns.
"""

from __future__ import annotations

from typing import Final

from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from hexbatch import status as st
from hexbatch.outcome import BatchReport
from hexbatch.report.facts import (
    failed_runs,
    format_seconds,
    ordered_counts,
    params_text,
    project_versions,
    queue_time,
    safe_url,
    slowest_runs,
)
from hexbatch.terminal import escape_control, plain

FAILURES_SHOWN: Final = 20
SLOWEST_SHOWN: Final = 5
STATUS_STYLES: Final = {
    st.COMPLETED: "green",
    st.ERRORED: "bold red",
    st.TRIGGER_FAILED: "bold red",
    st.UNKNOWN: "magenta",
    st.TIMED_OUT: "red",
    st.KILLED: "red",
    st.UNABLE_TO_ALLOCATE_KERNEL: "red",
    st.CANCELLED: "yellow",
    st.SKIPPED: "yellow",
    st.ALREADY_COMPLETED: "green",
}


def status_text(status: str) -> Text:
    """A status styled by its meaning; the words carry it too, so colour is never needed."""
    return plain(status, style=STATUS_STYLES.get(status, "magenta"))


def _headline(report: BatchReport) -> Text:
    """One line with the verdict, the number of runs, how long the batch took and how
    long its runs waited for kernels."""
    verdict = Text("ok", style="bold green") if report.ok else Text("failed", style="bold red")
    line = Text.assemble(
        "hexbatch: ",
        verdict,
        f", {len(report.runs)} runs in {format_seconds(report.duration_s)}",
    )
    waited = queue_time(report)
    if waited is not None:
        line.append(f"; queued {format_seconds(waited.queued_s)} in total")
    return line


def _versions_line(report: BatchReport) -> Text | None:
    """The project versions the runs executed, a re-publish mid-batch in yellow."""
    versions = project_versions(report)
    if not versions:
        return None
    line = Text("versions: ")
    for n, entry in enumerate(versions):
        if n:
            line.append(", ")
        line.append_text(plain(f"{entry.project} {entry.text}"))
        if entry.changed:
            line.append(" (re-published during the batch)", style="yellow")
    return line


def _counts_table(report: BatchReport) -> Table:
    """Runs per status, failures first."""
    table = Table()
    table.add_column("Status")
    table.add_column("Runs", justify="right")
    for status, count in ordered_counts(report):
        table.add_row(status_text(status), str(count))
    return table


def _failures_table(report: BatchReport) -> Table | None:
    """The runs that did not complete, with the error and the link to the run."""
    failures = failed_runs(report)
    if not failures:
        return None
    title = f"Did not complete ({len(failures)})"
    if len(failures) > FAILURES_SHOWN:
        title += f", first {FAILURES_SHOWN} shown"
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("Project", overflow="fold", max_width=18)
    table.add_column("Params", overflow="fold", max_width=20)
    table.add_column("Status", overflow="fold")
    # Errors and URLs fold rather than truncate: a URL must stay copyable whole.
    table.add_column("Error / run URL", overflow="fold", ratio=1)
    for run in failures[:FAILURES_SHOWN]:
        detail = plain(run.error or "-")
        url = safe_url(run.run_url)
        if url and escape_control(url) == url:
            # On a terminal that supports it the URL is a hyperlink, clickable even when folded.
            detail.append("\n" + url, style=Style(dim=True, link=url))
        elif run.run_url:
            detail.append("\n" + escape_control(run.run_url), style="dim")
        table.add_row(
            plain(run.project),
            plain(params_text(run.params) or "-"),
            status_text(run.status),
            detail,
        )
    return table


def _slowest_table(report: BatchReport) -> Table | None:
    """The few runs that took longest from first trigger to final finish."""
    slowest = slowest_runs(report.runs, SLOWEST_SHOWN)
    if not slowest:
        return None
    table = Table(title="Slowest runs", title_justify="left")
    table.add_column("Project", overflow="fold", max_width=24)
    table.add_column("Params", overflow="fold", ratio=1)
    table.add_column("Status")
    table.add_column("Took", justify="right")
    for run, seconds in slowest:
        table.add_row(
            plain(run.project),
            plain(params_text(run.params) or "-"),
            status_text(run.status),
            format_seconds(seconds),
        )
    return table


def render_console(report: BatchReport, console: Console) -> None:
    """Print the end-of-run summary on ``console``.

    Build the console with rich's defaults (``Console()`` or ``Console(stderr=True)``)
    so that colour follows the terminal and ``NO_COLOR``.
    """
    console.print(_headline(report))
    versions = _versions_line(report)
    if versions is not None:
        console.print(versions)
    console.print(_counts_table(report))
    for table in (_failures_table(report), _slowest_table(report)):
        if table is not None:
            console.print()
            console.print(table)
