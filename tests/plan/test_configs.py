"""Every example manifest under configs/ validates, plans and matches the JSON Schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hexbatch.manifest import load_manifest
from hexbatch.manifest.schema import manifest_json_schema
from hexbatch.manifest.yamlpos import load_yaml
from hexbatch.plan import build_plan

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MANIFESTS = sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.endswith("-scenario.yaml"))
# The variables the examples read with ${VAR} and no default, as their comments export them.
EXAMPLE_ENV = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
    "ALERTS_WEBHOOK_URL": "https://alerts.example.com/hooks/hexbatch",
}


def _data(path: Path) -> Any:
    return load_yaml(path.read_text(encoding="utf-8"), str(path)).data


def test_there_are_example_manifests() -> None:
    """The demo and the three realistic examples exist."""
    names = {path.name for path in MANIFESTS}
    assert {
        "demo.yaml",
        "nightly-sweep.yaml",
        "backfill.yaml",
        "bulk-refresh.yaml",
        "rolling-window.yaml",
    } <= names


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_example_validates_and_plans(path: Path) -> None:
    """The example loads without issues and expands to at least one run per project it
    names by id (select: entries choose theirs when a batch starts)."""
    plan = build_plan(load_manifest(path, env=EXAMPLE_ENV))
    assert len(plan.items) >= len(plan.manifest.projects) - len(plan.manifest.selectors)
    assert plan.warnings == ()


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_example_matches_the_json_schema(path: Path) -> None:
    """The published JSON Schema accepts every example."""
    jsonschema.Draft202012Validator(manifest_json_schema()).validate(_data(path))


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    """The schema itself passes the meta-schema check."""
    jsonschema.Draft202012Validator.check_schema(manifest_json_schema())


def test_schema_rejects_an_unknown_key() -> None:
    """A misspelt project key fails the schema as it fails the loader."""
    data = _data(CONFIGS / "demo.yaml")
    data["projects"][0]["parms"] = {"a": 1}
    validator = jsonschema.Draft202012Validator(manifest_json_schema())
    assert not validator.is_valid(data)


def test_backfill_expands_days_weeks_and_months() -> None:
    """The backfill example has 90 daily, 13 weekly and 3 monthly runs with formatted dates."""
    plan = build_plan(load_manifest(CONFIGS / "backfill.yaml", env={}))
    counts = plan.counts()
    assert counts == {0: 90, 1: 13, 2: 3}
    periods = [item.params["period"] for item in plan.items if item.project.index == 2]
    assert periods == ["2025-01", "2025-02", "2025-03"]


def test_the_rolling_window_runs_the_last_week_and_two_closed_months() -> None:
    """As of 2025-03-01 the rolling window runs Feb 22 to 28 and the closed months 2025-01
    and 2025-02; a day later, the window moves by one day."""
    manifest = load_manifest(CONFIGS / "rolling-window.yaml", env={})
    plan = build_plan(manifest, dt.date(2025, 3, 1))
    later = build_plan(manifest, dt.date(2025, 3, 2))

    days = [item.params["run_date"] for item in plan.items if item.project.index == 0]
    periods = [item.params["period"] for item in plan.items if item.project.index == 1]
    assert days == [f"2025-02-{day}" for day in range(22, 29)]
    assert periods == ["2025-01", "2025-02"]
    assert later.items[0].params["run_date"] == "2025-02-23"
    assert (plan.as_of, manifest.timezone) == (dt.date(2025, 3, 1), "Europe/Paris")
