"""The end-of-run console summary: content, 80-column layout and colour rules."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from hexbatch.report.console import FAILURES_SHOWN, render_console
from tests.report.builders import large_report, small_report

# Any SGR sequence that sets a foreground or background colour.
COLOUR_CODE = re.compile(r"\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7])(;[0-9;]*)?m")


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test without the variables that steer rich's colour detection."""
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def _render(width: int = 80, force_terminal: bool | None = None) -> str:
    """Render the small report on a console writing into a string."""
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=force_terminal)
    render_console(small_report(), console)
    return out.getvalue()


def test_summary_has_counts_failures_and_slowest_runs() -> None:
    """The summary shows the verdict, the counts, the failed runs and the slowest runs."""
    text = _render(width=200)

    assert text.startswith("hexbatch: failed, 6 runs in 2m 00s")
    assert "Did not complete (5)" in text
    assert "Slowest runs" in text
    assert "cell 3 raised KeyError" in text


def test_failed_runs_show_their_run_url() -> None:
    """The failure table carries the link to each failed run (possibly folded)."""
    flat = re.sub(r"[\s│|]", "", _render(width=200))

    assert "https://app.hex.tech/acme/app/p/latest?runId=r2b" in flat


def test_every_line_fits_in_80_columns() -> None:
    """No line is wider than the 80-column terminal it was drawn for."""
    lines = _render(width=80).splitlines()

    assert max(len(line) for line in lines) <= 80


def test_no_colour_when_not_a_terminal() -> None:
    """Writing to a file or pipe produces no escape codes at all."""
    assert "\x1b[" not in _render()


def test_colour_on_a_terminal() -> None:
    """On a terminal the statuses are coloured."""
    assert COLOUR_CODE.search(_render(force_terminal=True))


def test_no_color_is_respected_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """With NO_COLOR set, a default-built console prints no colour even on a terminal."""
    monkeypatch.setenv("NO_COLOR", "1")

    assert not COLOUR_CODE.search(_render(force_terminal=True))


def test_long_failure_lists_are_cut() -> None:
    """Only the first failures are listed, with the total in the title."""
    out = io.StringIO()
    report = large_report(400, hostile=False)
    failures = sum(1 for run in report.runs if not run.ok)

    render_console(report, Console(file=out, width=200))

    text = out.getvalue()
    assert f"Did not complete ({failures}), first {FAILURES_SHOWN} shown" in text
    assert text.count("raised ValueError") == FAILURES_SHOWN


def test_user_strings_are_not_read_as_rich_markup() -> None:
    """Square-bracket text in params is printed literally, not as console markup."""
    report = small_report()
    report.runs[1].params = {"tag": "[bold red]x[/]"}
    out = io.StringIO()

    render_console(report, Console(file=out, width=120))

    assert "[bold red]x[/]" in out.getvalue()
