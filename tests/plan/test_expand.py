"""Expansion of projects into ordered runs."""

from __future__ import annotations

from pathlib import Path

from hexbatch.manifest import load_manifest
from hexbatch.plan import build_plan

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_demo_manifest_plans_twenty_one_runs() -> None:
    """The demo expands to 14 dates, 6 sweep cells and 1 refresh, in manifest order."""
    plan = build_plan(load_manifest(CONFIGS / "demo.yaml", env={}))
    names = [item.project_name for item in plan.items]
    assert names == ["daily-revenue"] * 14 + ["pricing-sweep"] * 6 + ["exec-dashboard"]
    assert plan.items[0].params == {"run_date": "2025-01-01"}
    assert plan.items[14].params == {"model": "v2", "region": "us", "tier": "free"}
    assert [item.index for item in plan.items] == list(range(21))
