"""The Markdown summary: sections, ordering, escaping and links."""

from __future__ import annotations

import re

from hexbatch import status as st
from hexbatch.outcome import BatchReport
from hexbatch.report.markdown import escape_md, md_link, render_markdown
from tests.report.builders import HOSTILE, T0, large_report, small_report


def _table_rows(markdown: str, heading: str) -> list[str]:
    """The body rows of the table under ``heading``."""
    section = markdown.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return rows[2:]


def _cells(row: str) -> list[str]:
    """Split a table row on unescaped pipes, as GFM does."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]


def test_title_says_failed_when_a_run_did_not_complete() -> None:
    """The first line gives the verdict."""
    assert render_markdown(small_report()).startswith("# hexbatch: ❌ failed\n")


def test_title_says_ok_when_every_run_completed() -> None:
    """A batch with only completed runs is ok and has no failures section."""
    report = small_report()
    report.runs = report.runs[:1]

    text = render_markdown(report)

    assert text.startswith("# hexbatch: ✅ ok\n")
    assert "## Failures" not in text


def test_counts_put_failures_first() -> None:
    """The status table starts with ERRORED and ends with COMPLETED."""
    rows = _table_rows(render_markdown(small_report()), "Runs per status")

    assert rows[0] == "| ERRORED | 1 |"
    assert rows[-1] == "| COMPLETED | 1 |"


def test_failures_table_has_params_error_and_run_link() -> None:
    """A failed run shows its params, its error and a link to the Hex run."""
    rows = _table_rows(render_markdown(small_report()), "Failures (5)")

    assert _cells(rows[0]) == [
        "daily-revenue",
        "run\\_date=2025-01-10",
        "ERRORED",
        "cell 3 raised KeyError",
        "[r2b](https://app.hex.tech/acme/app/p/latest?runId=r2b)",
    ]


def test_pipes_in_user_strings_do_not_break_the_table() -> None:
    """Every failure row keeps exactly five cells, whatever its params and error contain."""
    rows = _table_rows(render_markdown(small_report()), "Failures (5)")

    assert all(len(_cells(row)) == 5 for row in rows)


def test_hostile_strings_cannot_become_html() -> None:
    """Angle brackets from params and errors are entity-encoded."""
    text = render_markdown(small_report())

    assert HOSTILE not in text
    assert "<img" not in text
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in text


def test_only_http_urls_become_links() -> None:
    """A javascript: URL is shown as inert text, never as a link target."""
    assert "](javascript" not in render_markdown(small_report())
    assert md_link("r", "javascript:alert(1)") == "javascript:alert(1)"


def test_link_targets_are_percent_encoded() -> None:
    """Parentheses, pipes and spaces in a URL cannot end the link or the cell."""
    assert md_link("r", "https://h/a(b)|c d") == "[r](https://h/a%28b%29%7Cc%20d)"


def test_escape_md_flattens_and_shortens_long_text() -> None:
    """Cell text is one line and at most the given length."""
    assert escape_md("a\n b*cdef", limit=5) == "a b\\*…"


def test_slowest_and_retries_sections_are_present() -> None:
    """The summary lists the slowest runs and the runs that were retried."""
    text = render_markdown(small_report())

    assert "1m 30s" in _table_rows(text, "Slowest runs")[0]
    assert "UNABLE\\_TO\\_ALLOCATE\\_KERNEL → ERRORED" in _table_rows(text, "Retries (1)")[0]


def test_request_usage_is_reported() -> None:
    """The requests block appears as a one-row table."""
    rows = _table_rows(render_markdown(small_report()), "API requests")

    assert _cells(rows[0]) == ["5", "40", "1", "1", "2"]


def test_max_rows_cuts_long_tables_with_a_note() -> None:
    """With a row cap the failures table is cut and says how many rows it left out."""
    report = large_report(300, hostile=False)
    failures = sum(1 for run in report.runs if run.status != st.COMPLETED)

    text = render_markdown(report, max_rows=10)

    assert len(_table_rows(text, f"Failures ({failures})")) == 10
    assert f"… and {failures - 10} more not shown here" in text


def test_an_empty_batch_still_renders() -> None:
    """A batch without runs has a title and the usual sections without tables of runs."""
    text = render_markdown(BatchReport("m.yaml", T0, T0, []))

    assert "0 runs from m.yaml" in text
    assert "## Slowest runs" not in text
