"""`hexbatch run` on a terminal: the live view replaces info log lines; elsewhere logs are kept."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hexbatch.cli.main import cli
from tests.engine.conftest import P1, manifest, project, scenario


def _three_runs(tmp_path: Path) -> Path:
    return manifest(
        tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(3)]}], sim=scenario([project()])
    )


def _run(tmp_path: Path, *extra: str, terminal: bool) -> Result:
    # TTY_COMPATIBLE makes rich treat the captured standard error as a terminal;
    # NO_COLOR keeps colour codes out of the text compared.
    env = {"GITHUB_STEP_SUMMARY": "", "TTY_COMPATIBLE": "1" if terminal else "0", "NO_COLOR": "1"}
    return CliRunner().invoke(
        cli, ["run", str(_three_runs(tmp_path)), "--simulate", *extra], env=env
    )


def test_on_a_terminal_info_lines_give_way_to_the_view(tmp_path: Path) -> None:
    """Info events (each trigger and end) are not printed over the live view."""
    result = _run(tmp_path, terminal=True)

    assert result.exit_code == 0, result.output
    assert "run_triggered" not in result.stderr
    assert "batch_started" not in result.stderr
    assert "batch finished  3/3 finished" in result.stderr


def test_verbose_brings_the_info_lines_back_on_a_terminal(tmp_path: Path) -> None:
    result = _run(tmp_path, "-v", terminal=True)

    assert result.exit_code == 0, result.output
    assert "run_triggered" in result.stderr
    assert "batch finished  3/3 finished" in result.stderr


def test_off_a_terminal_the_log_lines_stay(tmp_path: Path) -> None:
    """Output read by CI (not a terminal) keeps every info line and gets no view."""
    result = _run(tmp_path, terminal=False)

    assert result.exit_code == 0, result.output
    assert result.stderr.count("run_triggered") == 3
    assert "batch finished" not in result.stderr


def test_json_logs_on_a_terminal_are_unchanged(tmp_path: Path) -> None:
    """--log-format json keeps one JSON object per line, info events included, no view."""
    result = _run(tmp_path, "--log-format", "json", terminal=True)

    assert result.exit_code == 0, result.output
    events = [json.loads(line)["event"] for line in result.stderr.splitlines() if line.strip()]
    assert events.count("run_triggered") == 3


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is needed for a real terminal")
def test_in_a_real_terminal_the_view_stays_and_no_info_line_shows(tmp_path: Path) -> None:
    """Run in tmux: no info line on screen, project rows and the final summary kept."""
    path = _three_runs(tmp_path)
    done = tmp_path / "done"
    session = f"hexbatch-view-{os.getpid()}-{tmp_path.name}"
    command = (
        f"{sys.executable} -m hexbatch run {path} --simulate > /dev/null; touch {done}; sleep 60"
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command],
        check=True,
        env={"PATH": "/usr/bin:/bin", "TERM": "xterm-256color", "HOME": str(tmp_path)},
    )
    try:
        deadline = time.monotonic() + 60
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        screen = subprocess.run(
            ["tmux", "capture-pane", "-p", "-S", "-100", "-t", session],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    assert done.exists(), screen
    assert "run_triggered" not in screen
    assert "[info" not in screen
    assert "batch finished  3/3 finished" in screen
    assert "project               done  fail  live  wait" in screen
    assert screen.count("    3     0     0     0") == 1  # the project's row, all completed
