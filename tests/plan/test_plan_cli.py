"""The validate, plan and schema commands."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.testing import CliRunner

from hexbatch.cli.plan import plan, schema, validate

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
DEMO = str(CONFIGS / "demo.yaml")
BAD = "version: 1\ndefaults: {timout: 5m}\nprojects:\n  - id: nope\n"


def _cli() -> click.Group:
    return click.Group(commands=[validate, plan, schema])


def _bad_manifest(tmp_path: Path) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    return str(path)


def test_validate_accepts_the_demo() -> None:
    """validate exits 0 and says how many runs a valid manifest has."""
    result = CliRunner().invoke(_cli(), ["validate", DEMO])
    assert result.exit_code == 0, result.output
    assert "valid, 3 projects, 21 runs" in result.output


def test_validate_lists_every_issue_and_exits_2(tmp_path: Path) -> None:
    """validate prints each issue on stderr with its position and exits 2."""
    path = _bad_manifest(tmp_path)
    result = CliRunner().invoke(_cli(), ["validate", path])
    assert result.exit_code == 2
    assert f"{path}:2:12: defaults.timout: unknown key 'timout'" in result.stderr
    assert f"{path}:4:9: projects[0].id:" in result.stderr
    assert "2 problems found" in result.stderr
    assert result.stdout == ""


def test_plan_json_follows_the_plan_schema() -> None:
    """plan --json prints hexbatch.plan/1 with key, project_id, project and params per run."""
    result = CliRunner().invoke(_cli(), ["plan", DEMO, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "hexbatch.plan/1"
    assert len(document["runs"]) == 21
    first = document["runs"][0]
    assert set(first) == {"key", "project_id", "project", "params"}
    assert first["project"] == "daily-revenue"
    assert first["params"] == {"run_date": "2025-01-01"}


def test_plan_table_groups_by_project_within_80_columns(tmp_path: Path) -> None:
    """The readable plan has one header per project with its count, no line over 80 columns,
    then the totals and how long the trigger budget alone needs."""
    # A store that does not exist: a demo run kept beside the manifest must add no estimate.
    no_history = str(tmp_path / "state.db")
    result = CliRunner().invoke(_cli(), ["plan", DEMO, "--state", no_history])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].startswith("daily-revenue")
    assert lines[0].endswith("(14 runs)")
    assert any(line.startswith("pricing-sweep") and "(6 runs)" in line for line in lines)
    assert lines[-2].startswith("21 runs in 3 projects, plan ")
    assert lines[-1] == "21 triggers need at least 3 s at 20 every 3s"


def test_plan_exits_2_on_a_bad_manifest(tmp_path: Path) -> None:
    """plan refuses an invalid manifest the same way validate does."""
    result = CliRunner().invoke(_cli(), ["plan", _bad_manifest(tmp_path), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_plan_warns_about_collapsed_duplicates(tmp_path: Path) -> None:
    """Duplicate parameter sets are planned once and reported as a warning on stderr."""
    path = tmp_path / "dup.yaml"
    path.write_text(
        "version: 1\nprojects:\n  - id: 5a8591dd-4039-49df-9202-96385ba3eff8\n"
        "    runs: [{a: 1}, {a: 1}, {a: 2}]\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(_cli(), ["plan", str(path), "--json"])
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)["runs"]) == 2
    assert "1 duplicate run(s) collapsed" in result.stderr


def test_schema_prints_a_json_schema() -> None:
    """schema prints a draft 2020-12 JSON Schema forbidding unknown top-level keys."""
    result = CliRunner().invoke(_cli(), ["schema"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["additionalProperties"] is False
