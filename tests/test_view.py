"""The live batch view, rendered at fixed terminal sizes from a fixed model."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from rich.console import Console

from hexbatch.cli.view import render_view
from hexbatch.engine.viewmodel import BatchView, FailedRun, ProjectRow, WaitReason

VIEW = BatchView(
    total=60,
    finished=Counter({"COMPLETED": 30, "ERRORED": 2, "TRIGGER_FAILED": 1}),
    elapsed=125.0,
    projects=(
        ProjectRow("daily-revenue", total=30, completed=20, failed=1, live=4),
        ProjectRow("a-very-long-project-name-indeed", total=20, completed=8, failed=2, live=2),
        ProjectRow("churn", total=10, completed=2),
    ),
    failures=(
        FailedRun("daily-revenue", "run_date=2025-01-09", "ERRORED", "cell 4: division by zero"),
        FailedRun(
            "a-very-long-project-name-indeed",
            "run_date=2025-01-10,region=emea,segment=enterprise",
            "TRIGGER_FAILED",
            "403 Forbidden",
        ),
        FailedRun("a-very-long-project-name-indeed", "run_date=2025-01-11", "ERRORED", ""),
    ),
    failed_count=3,
    waits=(WaitReason("Hex's trigger quota (429)", 42.0),),
)


def rendered(view: BatchView, width: int, height: int) -> str:
    console = Console(record=True, width=width, height=height, file=io.StringIO())
    console.print(render_view(view, console))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def test_the_view_fits_a_standard_terminal() -> None:
    assert rendered(VIEW, 80, 24) == (
        "batch running  33/60 finished  elapsed 2m05s  eta 1m42s\n"
        "ERRORED 2  TRIGGER_FAILED 1  COMPLETED 30\n"
        "waiting: Hex's trigger quota (429) (about 42s more)\n"
        "project               done  fail  live  wait\n"
        "daily-revenue           20     1     4     5  ███████████░░░░░\n"
        "a-very-long-project…     8     2     2     8  ███████░░░░░░░░░\n"
        "churn                    2     0     0     8  ███░░░░░░░░░░░░░\n"
        "failed so far: 3\n"
        "  ERRORED  a-very-long-project-name-indeed [run_date=2025-01-11]\n"
        "  TRIGGER_FAILED  a-very-long-project-name-indeed [run_date=2025-01-10,region=e…\n"
        "  ERRORED  daily-revenue [run_date=2025-01-09]  cell 4: division by zero"
    )


def test_a_small_terminal_gets_fewer_rows_and_says_how_many_are_left_out() -> None:
    text = rendered(VIEW, 60, 10)
    assert text == (
        "batch running  33/60 finished  elapsed 2m05s  eta 1m42s\n"
        "ERRORED 2  TRIGGER_FAILED 1  COMPLETED 30\n"
        "waiting: Hex's trigger quota (429) (about 42s more)\n"
        "project               done  fail  live  wait\n"
        "daily-revenue           20     1     4     5  ██████████░░░░\n"
        "  … and 2 more\n"
        "failed so far: 3\n"
        "  ERRORED  a-very-long-project-name-indeed [run_date=2025-0…\n"
        "  … and 2 more"
    )
    assert max(len(line) for line in text.splitlines()) <= 60
    assert len(text.splitlines()) < 10


def test_failures_beyond_those_kept_are_counted() -> None:
    view = BatchView(
        total=10,
        finished=Counter({"ERRORED": 9}),
        elapsed=9.0,
        projects=(ProjectRow("p", total=10, failed=9),),
        failures=(FailedRun("p", "", "ERRORED", "boom"),),
        failed_count=9,
    )
    assert rendered(view, 80, 24).splitlines()[-2:] == ["  ERRORED  p  boom", "  … and 8 more"]


def test_the_finished_view_says_so_and_has_no_eta() -> None:
    view = BatchView(
        total=2,
        finished=Counter({"COMPLETED": 2}),
        elapsed=3725.0,
        projects=(ProjectRow("p", total=2, completed=2),),
        done=True,
    )
    assert rendered(view, 80, 24) == (
        "batch finished  2/2 finished  elapsed 1h02m  eta —\n"
        "COMPLETED 2\n"
        "project               done  fail  live  wait\n"
        "p                        2     0     0     0  ████████████████"
    )


def test_no_color_means_no_escape_codes_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    def on_terminal() -> str:
        out = io.StringIO()
        console = Console(force_terminal=True, width=80, height=24, file=out)
        console.print(render_view(VIEW, console))
        return out.getvalue()

    assert "\x1b[" in on_terminal()  # colour is on by default, so the check below can fail
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b" not in on_terminal()


def test_control_characters_in_names_and_errors_are_shown_not_obeyed() -> None:
    """A project name or error holding an escape sequence cannot drive the terminal."""
    view = BatchView(
        total=1,
        finished=Counter({"ERRORED": 1}),
        elapsed=1.0,
        projects=(ProjectRow("evil\x1b[2J", total=1, failed=1),),
        failures=(FailedRun("evil\x1b[2J", "", "ERRORED", "bad\x1b]0;title\x07"),),
        failed_count=1,
    )
    out = io.StringIO()
    console = Console(force_terminal=True, no_color=True, width=80, height=24, file=out)
    console.print(render_view(view, console))

    assert "\x1b[2J" not in out.getvalue()
    assert "\\x1b[2J" in out.getvalue()
