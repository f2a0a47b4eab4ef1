"""`--as-of` on plan and validate, and what they show of dates relative to today."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hexbatch.cli.main import cli
from tests.engine.conftest import P1, manifest, project, scenario

RELATIVE = """\
version: 1
projects:
  - id: 5a8591dd-4039-49df-9202-96385ba3eff8
    name: daily-revenue
    dates: {param: run_date, start: today-3d, end: yesterday}
"""


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"GITHUB_STEP_SUMMARY": ""})


@pytest.fixture
def relative(tmp_path: Path) -> str:
    path = tmp_path / "nightly.yaml"
    path.write_text(RELATIVE, encoding="utf-8")
    return str(path)


def test_plan_as_of_lists_the_three_days_before(relative: str) -> None:
    """`plan --as-of 2025-03-01` of start: today-3d, end: yesterday lists Feb 26 to 28 and
    shows the range it resolved to."""
    result = _invoke("plan", relative, "--as-of", "2025-03-01")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "dates relative to today are as of 2025-03-01"
    assert "  dates: 2025-02-26 … 2025-02-28 (start today-3d, end yesterday)" in lines
    shown = [line.split()[-1] for line in lines if "run_date=" in line]
    assert shown == ["run_date=2025-02-26", "run_date=2025-02-27", "run_date=2025-02-28"]
    assert "3 runs in 1 project" in result.stdout


def test_plan_json_has_the_as_of_and_the_resolved_range(relative: str) -> None:
    """plan --json says which day was today and each range's dates and written bounds."""
    result = _invoke("plan", relative, "--as-of", "2025-03-01", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["as_of"] == "2025-03-01"
    assert document["dates"] == [
        {
            "project": "daily-revenue",
            "index": 0,
            "param": "run_date",
            "start": "2025-02-26",
            "end": "2025-02-28",
            "step": "1d",
            "written": {"start": "today-3d", "end": "yesterday"},
        }
    ]
    assert [run["params"]["run_date"] for run in document["runs"]] == [
        "2025-02-26",
        "2025-02-27",
        "2025-02-28",
    ]


def test_another_day_is_another_plan(relative: str) -> None:
    """The plan hash follows the day: the next day's plan is a different one."""
    hashes = {
        day: json.loads(_invoke("plan", relative, "--as-of", day, "--json").stdout)["plan_hash"]
        for day in ("2025-03-01", "2025-03-02")
    }
    assert hashes["2025-03-01"] != hashes["2025-03-02"]


def test_a_plan_of_fixed_dates_shows_no_as_of(tmp_path: Path) -> None:
    """Fixed dates plan the same on any day: no as-of line, as_of null in JSON."""
    path = tmp_path / "fixed.yaml"
    path.write_text(
        RELATIVE.replace("today-3d", "2025-02-26").replace("yesterday", "2025-02-28"),
        encoding="utf-8",
    )

    table = _invoke("plan", str(path), "--as-of", "2025-03-01")
    document = json.loads(_invoke("plan", str(path), "--json").stdout)

    assert "as of" not in table.stdout
    assert "dates:" not in table.stdout
    assert document["as_of"] is None
    assert document["dates"][0]["written"] == {"start": "2025-02-26", "end": "2025-02-28"}


def test_validate_as_of_counts_the_runs_of_that_day(relative: str) -> None:
    """validate --as-of resolves the dates on that day and says so."""
    result = _invoke("validate", relative, "--as-of", "2025-03-01")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{relative}: valid, 1 project, 3 runs (dates as of 2025-03-01)"


def test_validate_finds_a_range_that_runs_backwards_on_that_day(tmp_path: Path) -> None:
    """A range that ends before it starts on the --as-of day is a located error, exit 2."""
    path = tmp_path / "growing.yaml"
    path.write_text(RELATIVE.replace("today-3d", "2025-03-01"), encoding="utf-8")

    result = _invoke("validate", str(path), "--as-of", "2025-03-01")
    later = _invoke("validate", str(path), "--as-of", "2025-03-02")

    assert result.exit_code == 2
    assert f"{path}:5:" in result.stderr
    assert "projects[0].dates.end: 2025-02-28 is before start 2025-03-01" in result.stderr
    assert later.exit_code == 0, later.output


@pytest.mark.parametrize("command", ["plan", "validate", "run"])
@pytest.mark.parametrize("value", ["2025-02-30", "yesterday", "03/01/2025"])
def test_an_as_of_that_is_not_a_date_is_a_usage_error(
    relative: str, command: str, value: str
) -> None:
    """--as-of takes YYYY-MM-DD only: anything else exits 2 naming the option."""
    result = _invoke(command, relative, "--as-of", value)

    assert result.exit_code == 2
    assert "Invalid value for '--as-of'" in result.stderr
    assert "YYYY-MM-DD" in result.stderr or "%Y-%m-%d" in result.stderr


def test_nonsense_in_the_manifest_is_exit_2_with_the_forms(tmp_path: Path) -> None:
    """`end: tomorrow` fails validate with file:line:col, the key and the accepted forms."""
    path = tmp_path / "bad.yaml"
    path.write_text(RELATIVE.replace("yesterday", "tomorrow"), encoding="utf-8")

    result = _invoke("validate", str(path))

    assert result.exit_code == 2
    assert f"{path}:5:52: projects[0].dates.end: 'tomorrow' is not a date" in result.stderr
    assert "today-N / today+N with a unit d, w or mo" in result.stderr


def test_run_as_of_triggers_the_dates_of_that_day(tmp_path: Path) -> None:
    """`run --as-of 2025-03-01` of the same range triggers Feb 26 to 28."""
    dates = {"param": "run_date", "start": "today-3d", "end": "yesterday"}
    path = manifest(tmp_path, [{"id": P1, "dates": dates}], sim=scenario([project()]))

    result = _invoke(
        "run", str(path), "--simulate", "--no-progress", "--as-of", "2025-03-01", "--json", "-"
    )

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert [run["params"]["run_date"] for run in body["runs"]] == [
        "2025-02-26",
        "2025-02-27",
        "2025-02-28",
    ]
