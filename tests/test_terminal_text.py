"""What reaches a terminal is text: no rich markup, control characters escaped visibly."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from hexbatch import status as st
from hexbatch.cancel import CancelResult, CancelSummary
from hexbatch.cli.main import cli
from hexbatch.cli.plan import render_table
from hexbatch.cli.state import _print_summary
from hexbatch.manifest import load_manifest
from hexbatch.outcome import BatchReport, RunOutcome
from hexbatch.plan import build_plan
from hexbatch.report.console import render_console
from hexbatch.simulator import Scenario, SimulatorHandle
from hexbatch.state import BatchInfo
from hexbatch.terminal import escape_control
from tests.report.builders import T0, attempt
from tests.state.simulated import serve_in_thread

TOKEN = "hxtp_test_token_abcdef"
DRAFT = "Revenue [/draft] model"
LINK = "[link=https://evil.example]Click me[/link] and [bold]Sales [Q1][/bold]"
ESCAPES = "Ops \x1b]0;pwned\x07 \x1b[2J\x9b31m end"
ESCAPES_SHOWN = "Ops \\x1b]0;pwned\\x07 \\x1b[2J\\x9b31m end"
# What must never reach the terminal from data: window title, clear screen, C1 CSI, BEL.
RAW = ("\x1b]0;", "\x1b[2J", "\x9b", "\x07")
# A hyperlink (OSC 8) to the address hidden in the [link=…] title.
EVIL_LINK = re.compile(r"\x1b\]8;[^;]*;https://evil")


@contextmanager
def serve(titles: list[str]) -> Iterator[SimulatorHandle]:
    """Serve a scenario whose projects have these titles, from a thread, until the block exits."""
    scenario = Scenario.from_mapping(
        {
            "seed": 1,
            "tokens": [{"value": TOKEN, "name": "t"}],
            "projects": [
                {
                    "id": f"{n + 1}" * 8
                    + f"-{n + 1}{n + 1}{n + 1}{n + 1}" * 3
                    + "-"
                    + f"{n + 1}" * 12,
                    "title": title,
                }
                for n, title in enumerate(titles)
            ],
        }
    )
    with serve_in_thread(scenario) as handle:
        yield handle


def _projects(base_url: str, width: int = 200) -> Result:
    return CliRunner().invoke(
        cli,
        ["projects", "--base-url", base_url],
        env={"HEX_API_TOKEN": TOKEN, "COLUMNS": str(width), "HEX_API_BASE_URL": ""},
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text, [brackets] too", "plain text, [brackets] too"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("a\nb\tc\rd\x00e\x7f", "a\\nb\\tc\\rd\\x00e\\x7f"),
        ("\x85\x9f", "\\x85\\x9f"),
        ("abc\u202edcba", "abc\\u202edcba"),
        ("café 東京 ✓", "café 東京 ✓"),
    ],
)
def test_escape_control_shows_control_characters(text: str, shown: str) -> None:
    """C0, DEL, C1 and bidi overrides are written out; spaces and printable text stay."""
    assert escape_control(text) == shown


def test_projects_shows_markup_like_titles_literally() -> None:
    """`[/draft]` does not crash `hexbatch projects`; a [link=…] title shows as written."""
    with serve([DRAFT, LINK]) as simulator:
        result = _projects(simulator.base_url)

    assert result.exit_code == 0, result.output
    assert DRAFT in result.stdout
    assert LINK in result.stdout
    assert EVIL_LINK.search(result.stdout) is None


def test_projects_escapes_control_characters_in_titles() -> None:
    """An escape sequence in a title is shown as \\x1b…, never sent to the terminal."""
    with serve([ESCAPES]) as simulator:
        result = _projects(simulator.base_url)

    assert result.exit_code == 0, result.output
    assert ESCAPES_SHOWN in result.stdout
    assert not any(raw in result.stdout for raw in RAW)


def _hostile_report() -> BatchReport:
    run = RunOutcome(
        "k1",
        "pid",
        f"{DRAFT} {ESCAPES}",
        {"x": LINK, "y": "\x1b[2J"},
        st.ERRORED,
        [attempt(0, 5, st.ERRORED, "r1", error=ESCAPES)],
        error=f"boom [red]x[/red] {ESCAPES}",
    )
    return BatchReport("m.yaml", T0, T0, [run])


@pytest.mark.parametrize("force_terminal", [True, False])
def test_console_summary_shows_text_and_escapes_control_characters(force_terminal: bool) -> None:
    """Project, params and error reach the summary as text with visible escapes."""
    out = io.StringIO()
    render_console(_hostile_report(), Console(file=out, width=400, force_terminal=force_terminal))
    text = out.getvalue()

    assert not any(raw in text for raw in RAW)
    assert EVIL_LINK.search(text) is None
    assert ESCAPES_SHOWN in text
    assert "[red]x[/red]" in text
    assert DRAFT in text
    assert LINK in text


def test_a_run_url_with_control_characters_is_not_a_link() -> None:
    """A run URL carrying an escape sequence is shown escaped and never made a hyperlink."""
    report = _hostile_report()
    report.runs[0].attempts[-1] = attempt(
        0, 5, st.ERRORED, "r1", url="https://x.example/\x1b]8;;https://evil.example\x07"
    )
    out = io.StringIO()
    render_console(report, Console(file=out, width=400, force_terminal=True))

    assert "\x1b]8;" not in out.getvalue()
    assert "https://x.example/\\x1b]8;;https://evil.example\\x07" in out.getvalue()


def test_plan_table_escapes_names_and_params(tmp_path: Path) -> None:
    """`hexbatch plan` prints names and params from the manifest with visible escapes."""
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nprojects:\n  - id: 11111111-1111-4111-8111-111111111111\n"
        '    name: "N \\e]0;t\\a"\n    params: {x: "\\e[2J"}\n',
        encoding="utf-8",
    )
    lines = "\n".join(render_table(build_plan(load_manifest(path, env={}))))

    assert "N \\x1b]0;t\\x07" in lines
    assert "x=\\x1b[2J" in lines
    assert not any(raw in lines for raw in RAW)


def test_cancel_summary_escapes_project_names_and_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`hexbatch cancel` prints names and Hex error text with visible escapes."""
    info = BatchInfo(1, "m.yaml", "h", "p", "https://x.example", "T", "0", T0, None)
    summary = CancelSummary(
        [
            CancelResult("k1", f"P {ESCAPES}", "r1", "failed", error=f"E {ESCAPES}"),
            CancelResult("k2", "Q", "r2", "finished", status="\x1b[2J"),
        ]
    )
    _print_summary(info, summary)
    captured = capsys.readouterr()

    assert f"P {ESCAPES_SHOWN} k1 (run r1): E {ESCAPES_SHOWN}" in captured.err
    assert "had already ended: \\x1b[2J" in captured.out
    assert not any(raw in captured.out + captured.err for raw in RAW)
