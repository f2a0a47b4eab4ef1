"""GitHub-flavoured Markdown summary of a batch, fit for a CI step summary.

Every user-provided string (project names, params, errors, URLs) passes through
:func:`escape_md` or :func:`md_link` so that a ``|`` cannot break a table and
``<script>`` or ``[text](javascript:...)`` cannot become live markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final
from urllib.parse import quote

from hexbatch.outcome import BatchReport, RunOutcome, iso
from hexbatch.report.facts import (
    failed_runs,
    format_seconds,
    ordered_counts,
    params_text,
    project_versions,
    queue_time,
    request_usage,
    retried_runs,
    safe_url,
    slowest_runs,
)

SLOWEST_SHOWN: Final = 10
MAX_CELL_CHARS: Final = 300
# Characters with an inline meaning in a GFM table cell (emphasis, code, links, cell
# borders, strike-through, GitHub's $math$); a backslash makes them literal. Block
# markers such as ``#`` or ``-`` mean nothing inside a cell and stay readable.
_MD_SPECIALS: Final = re.compile(r"([\\`*_\[\]|~$])")
# Characters that stay raw in a link target; the rest is percent-encoded so that
# parentheses, pipes, spaces and angle brackets cannot end the link or the cell.
_URL_SAFE: Final = "/:?#@!$&'*+,;=%-._~"


def escape_md(text: str, limit: int = MAX_CELL_CHARS) -> str:
    """Make a user string inert inside a GFM table cell: one line, specials escaped, shortened."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    escaped = _MD_SPECIALS.sub(r"\\\1", flat)
    # Raw HTML is allowed in GFM; entity-encode what could open a tag or an entity.
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_link(label: str, url: str | None) -> str:
    """A Markdown link when the URL is http(s), otherwise the escaped label without a link."""
    target = safe_url(url)
    if target is None:
        return "-" if url is None else escape_md(url)
    return f"[{escape_md(label)}]({quote(target, safe=_URL_SAFE)})"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """A GFM table; ``align`` holds one of ``l``/``r`` per column (default left)."""
    marks = [":---" if align[i : i + 1] != "r" else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _params_cell(run: RunOutcome) -> str:
    """The params of a run as inline text, or a dash when it has none."""
    text = params_text(run.params)
    return escape_md(text) if text else "-"


def _clip(runs: Sequence[RunOutcome], max_rows: int | None) -> tuple[Sequence[RunOutcome], int]:
    """Keep at most ``max_rows`` runs; also return how many were left out."""
    if max_rows is None or len(runs) <= max_rows:
        return runs, 0
    return runs[:max_rows], len(runs) - max_rows


def _left_out_note(count: int) -> list[str]:
    """A line telling the reader that rows were left out and where to find them."""
    if not count:
        return []
    return ["", f"*… and {count} more not shown here: see `report.json` for every run.*"]


def _title(report: BatchReport) -> list[str]:
    """Heading with the verdict, then one line of batch facts."""
    verdict = "✅ ok" if report.ok else "❌ failed"
    facts = (
        f"{len(report.runs)} runs from {escape_md(report.manifest)}, "
        f"started {iso(report.started_at)}, took {format_seconds(report.duration_s)}."
    )
    waited = queue_time(report)
    if waited is not None:
        facts += (
            f" Runs queued for a kernel {format_seconds(waited.queued_s)} in total and ran "
            f"{format_seconds(waited.run_s)} ({waited.attempts} attempts)."
        )
    return [f"# hexbatch: {verdict}", "", facts]


def _versions_section(report: BatchReport) -> list[str]:
    """The published version each project ran; a re-publish mid-batch stands out."""
    versions = project_versions(report)
    if not versions:
        return []
    rows = [
        (
            escape_md(entry.project),
            escape_md(entry.text),
            "⚠️ re-published during the batch" if entry.changed else "-",
        )
        for entry in versions
    ]
    return ["", "## Project versions", "", *_table(("Project", "Versions", "Note"), rows)]


def _rate_limits_section(report: BatchReport) -> list[str]:
    """The rate-limit headers Hex last sent per request kind: the workspace's real limits."""
    if not report.rate_limits:
        return []
    rows = [
        (
            escape_md(kind),
            _number(seen.limit),
            _number(seen.remaining),
            format_seconds(seen.reset_s),
            format_seconds(seen.retry_after_s),
        )
        for kind, seen in sorted(report.rate_limits.items())
    ]
    header = ("Kind", "Limit", "Remaining", "Resets in", "Last Retry-After")
    return ["", "### Rate limits Hex announced", "", *_table(header, rows, "lrrrr")]


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _counts_section(report: BatchReport) -> list[str]:
    """Runs per status, failures first."""
    rows = [(escape_md(status), str(count)) for status, count in ordered_counts(report)]
    return ["", "## Runs per status", "", *_table(("Status", "Runs"), rows, "lr")]


def _failures_section(report: BatchReport, max_rows: int | None) -> list[str]:
    """Every run that did not complete, with params, error and run link."""
    failures = failed_runs(report)
    if not failures:
        return []
    shown, left_out = _clip(failures, max_rows)
    rows = [
        (
            escape_md(run.project),
            _params_cell(run),
            escape_md(run.status),
            escape_md(run.error) if run.error else "-",
            md_link(run.run_id or "run", run.run_url),
        )
        for run in shown
    ]
    header = ("Project", "Params", "Status", "Error", "Run")
    return [
        "",
        f"## Failures ({len(failures)})",
        "",
        *_table(header, rows),
        *_left_out_note(left_out),
    ]


def _slowest_section(report: BatchReport, max_rows: int | None) -> list[str]:
    """The runs that took longest from first trigger to final finish."""
    limit = SLOWEST_SHOWN if max_rows is None else min(SLOWEST_SHOWN, max_rows)
    slowest = slowest_runs(report.runs, limit)
    if not slowest:
        return []
    rows = [
        (
            escape_md(run.project),
            _params_cell(run),
            escape_md(run.status),
            format_seconds(seconds),
            md_link(run.run_id or "run", run.run_url),
        )
        for run, seconds in slowest
    ]
    header = ("Project", "Params", "Status", "Duration", "Run")
    return ["", "## Slowest runs", "", *_table(header, rows, "lllr")]


def _retries_section(report: BatchReport, max_rows: int | None) -> list[str]:
    """Runs triggered more than once, with the status of each attempt."""
    retried = retried_runs(report)
    if not retried:
        return []
    shown, left_out = _clip(retried, max_rows)
    rows = [
        (
            escape_md(run.project),
            _params_cell(run),
            str(len(run.attempts)),
            escape_md(" → ".join(a.status or "?" for a in run.attempts)),
            escape_md(run.status),
        )
        for run in shown
    ]
    header = ("Project", "Params", "Attempts", "Attempt statuses", "Final")
    return [
        "",
        f"## Retries ({len(retried)})",
        "",
        *_table(header, rows, "llr"),
        *_left_out_note(left_out),
    ]


def _requests_section(report: BatchReport) -> list[str]:
    """Hex API requests made by the batch, per kind."""
    usage = request_usage(report)
    header = [escape_md(kind) for kind in usage]
    return [
        "",
        "## API requests",
        "",
        *_table(header, [[str(n) for n in usage.values()]], "r" * len(usage)),
    ]


def render_markdown(report: BatchReport, max_rows: int | None = None) -> str:
    """Render the batch as GitHub-flavoured Markdown.

    ``max_rows`` caps the failure and retry tables (with a note saying how many
    rows were left out); the step-summary writer uses it to stay under GitHub's size limit.
    """
    lines = [
        *_title(report),
        *_counts_section(report),
        *_failures_section(report, max_rows),
        *_slowest_section(report, max_rows),
        *_retries_section(report, max_rows),
        *_versions_section(report),
        *_requests_section(report),
        *_rate_limits_section(report),
    ]
    return "\n".join(lines) + "\n"
