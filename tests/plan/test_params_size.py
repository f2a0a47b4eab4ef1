"""A plan whose params are very large (a big value multiplied by dates) warns before running."""

from __future__ import annotations

from pathlib import Path

from hexbatch.manifest import load_manifest
from hexbatch.plan import PARAMS_WARN_RUN_BYTES, PARAMS_WARN_TOTAL_BYTES, Plan, build_plan

ID = "11111111-1111-4111-8111-111111111111"


def _plan(tmp_path: Path, value_size: int, days: int) -> Plan:
    path = tmp_path / "m.yaml"
    path.write_text(
        f"version: 1\nprojects:\n  - id: {ID}\n    name: big\n"
        f"    params: {{blob: {'x' * value_size}}}\n"
        f"    dates: {{param: d, start: 2025-01-01, end: 2025-01-{days:02d}}}\n",
        encoding="utf-8",
    )
    return build_plan(load_manifest(path, env={}))


def test_thresholds_are_the_documented_ones() -> None:
    """10 MB for the whole plan, 1 MB for one run (of canonical JSON)."""
    assert (PARAMS_WARN_TOTAL_BYTES, PARAMS_WARN_RUN_BYTES) == (10_000_000, 1_000_000)


def test_small_params_do_not_warn(tmp_path: Path) -> None:
    """An ordinary plan has no size warning."""
    assert _plan(tmp_path, 1_000, 31).warnings == ()


def test_one_run_over_1_mb_warns_naming_it(tmp_path: Path) -> None:
    """A run whose params exceed 1 MB gets a warning with its entry, name and key."""
    planned = _plan(tmp_path, 1_100_000, 1)
    (warning,) = planned.warnings
    assert warning.startswith(f"projects[0] (big): run {planned.items[0].key} sends 1.1 MB")
    assert "over 1.0 MB" in warning


def test_a_plan_over_10_mb_warns(tmp_path: Path) -> None:
    """11 dates of a 950 kB value: no run is over 1 MB, the plan is over 10 MB."""
    (warning,) = _plan(tmp_path, 950_000, 11).warnings
    assert warning.startswith("the plan's params add up to 10.5 MB (over 10.0 MB)")
