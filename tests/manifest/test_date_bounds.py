"""Date ranges near year 9999 and absurd steps: manifest errors or plain dates, never tracebacks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from hexbatch.cli.main import cli
from hexbatch.manifest import DateRange, DateStep, ManifestError
from hexbatch.manifest.dates import date_count, range_dates
from hexbatch.plan import build_plan, date_values
from tests.engine.conftest import P1, project, scenario
from tests.manifest.conftest import LoadText

HEAD = """
version: 1
projects:
  - id: 11111111-1111-4111-8111-111111111111
"""


def _dates(start: str, end: str, step: str) -> str:
    return HEAD + f"    dates: {{param: d, start: {start}, end: {end}, step: {step}}}\n"


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"GITHUB_STEP_SUMMARY": ""})


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("5000000d", "step 5000000d is longer than 100 years (at most 36525d)"),
        ("120000mo", "step 120000mo is longer than 100 years (at most 1200mo)"),
        ("6000w", "step 6000w is longer than 100 years (at most 5218w)"),
        ("99999999", "step 99999999d is longer than 100 years (at most 36525d)"),
    ],
)
def test_absurd_steps_are_located_errors(load_text: LoadText, step: str, message: str) -> None:
    """A step above the documented maximum is an error at dates.step."""
    with pytest.raises(ManifestError) as raised:
        load_text(_dates("2025-01-01", "2025-01-31", step))
    (issue,) = raised.value.issues
    assert (issue.line, issue.path, issue.message) == (4, "projects[0].dates.step", message)


def test_the_longest_step_is_allowed(load_text: LoadText) -> None:
    """100 years exactly is still a step."""
    dates = load_text(_dates("2025-01-01", "2225-01-01", "1200mo")).projects[0].dates
    assert isinstance(dates, DateRange)
    assert date_values(dates) == ["2025-01-01", "2125-01-01", "2225-01-01"]


@pytest.mark.parametrize(
    ("start", "end", "step", "expected"),
    [
        ("9999-12-30", "9999-12-31", "1d", ["9999-12-30", "9999-12-31"]),
        ("9999-11-30", "9999-12-31", "1mo", ["9999-11-30", "9999-12-30"]),
        ("9999-12-01", "9999-12-31", "2w", ["9999-12-01", "9999-12-15", "9999-12-29"]),
        ("9999-12-31", "9999-12-31", "36525d", ["9999-12-31"]),
    ],
)
def test_ranges_ending_in_9999_plan_without_overflow(
    load_text: LoadText, start: str, end: str, step: str, expected: list[str]
) -> None:
    """The date after the last one is never computed past 9999-12-31."""
    planned = build_plan(load_text(_dates(start, end, step)))
    assert [item.params["d"] for item in planned.items] == expected


def test_a_step_longer_than_the_range_warns(load_text: LoadText) -> None:
    """Only the start runs when the step jumps past end: the plan says so."""
    manifest = load_text(_dates("2025-01-01", "2025-01-31", "1200mo"))
    planned = build_plan(manifest)
    assert [item.params["d"] for item in planned.items] == ["2025-01-01"]
    assert planned.warnings == (
        f"{manifest.source}:4: projects[0].dates.step: step 1200mo is longer than the range"
        " 2025-01-01..2025-01-31, so only 2025-01-01 runs",
    )


def test_a_single_day_range_does_not_warn(load_text: LoadText) -> None:
    """start == end is one date on purpose, whatever the step."""
    assert build_plan(load_text(_dates("2025-01-01", "2025-01-01", "1w"))).warnings == ()


def test_a_monthly_range_to_9999_is_counted_exactly(load_text: LoadText) -> None:
    """The run limit counts dates by step, so 2025..9999 monthly (95,700 dates) is allowed."""
    manifest = load_text(_dates("2025-01-31", "9999-12-31", "1mo"))
    dates = manifest.projects[0].dates
    assert isinstance(dates, DateRange)
    assert date_count(dates) == len(list(range_dates(dates))) == 95_700


@pytest.mark.parametrize(
    ("start", "end", "step"),
    [
        (dt.date(2024, 1, 31), dt.date(2024, 2, 28), DateStep(1, "month")),
        (dt.date(2024, 1, 31), dt.date(2024, 2, 29), DateStep(1, "month")),
        (dt.date(2024, 1, 31), dt.date(2025, 3, 30), DateStep(1, "month")),
        (dt.date(2024, 1, 31), dt.date(2025, 3, 31), DateStep(2, "month")),
        (dt.date(2024, 1, 1), dt.date(2024, 1, 14), DateStep(1, "week")),
        (dt.date(2024, 1, 1), dt.date(2024, 1, 15), DateStep(1, "week")),
        (dt.date(2024, 1, 1), dt.date(2023, 1, 15), DateStep(1, "day")),
        (dt.date(9998, 12, 31), dt.date(9999, 12, 31), DateStep(7, "day")),
    ],
)
def test_date_count_matches_the_dates_listed(start: dt.date, end: dt.date, step: DateStep) -> None:
    """date_count is exact: it equals the number of dates the range yields."""
    dates = DateRange("d", start, end, step, "%Y-%m-%d")
    assert date_count(dates) == len(list(range_dates(dates)))


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_exit_2_on_an_absurd_step(tmp_path: Path, command: str) -> None:
    """validate and plan print file:line and key, exit 2, no traceback."""
    path = tmp_path / "bigstep.yaml"
    path.write_text(_dates("2025-01-01", "2025-01-31", "120000mo").lstrip(), encoding="utf-8")
    result = _invoke(command, str(path))
    assert result.exit_code == 2, result.output
    assert f"{path}:4:" in result.stderr
    assert "projects[0].dates.step" in result.stderr
    assert "Traceback" not in result.output


def test_run_exits_2_on_an_absurd_step_and_triggers_nothing(tmp_path: Path) -> None:
    """run refuses the manifest before anything is triggered or stored."""
    path = tmp_path / "bigstep-run.yaml"
    document = {
        "version": 1,
        "simulate": {"scenario": scenario([project()])},
        "projects": [
            {
                "id": P1,
                "dates": {
                    "param": "d",
                    "start": "2025-01-01",
                    "end": "2025-01-31",
                    "step": "5000000d",
                },
            }
        ],
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    state = tmp_path / "state.db"

    result = _invoke(
        "run",
        str(path),
        "--simulate",
        "--no-progress",
        "--log-format",
        "json",
        "--state",
        str(state),
    )

    assert result.exit_code == 2, result.output
    assert "projects[0].dates.step: step 5000000d is longer than 100 years" in result.output
    assert '"run_triggered"' not in result.output
    assert not state.exists()
