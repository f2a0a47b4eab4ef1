"""build_plan: merge order, keys, hash and warnings."""

from __future__ import annotations

from pathlib import Path

from hexbatch.manifest import load_manifest
from hexbatch.plan import Plan, build_plan, canonical_json

ID = "5a8591dd-4039-49df-9202-96385ba3eff8"


def _plan(tmp_path: Path, body: str, name: str = "m.yaml") -> Plan:
    path = tmp_path / name
    path.write_text(f"version: 1\nprojects:\n  - id: {ID}\n{body}", encoding="utf-8")
    return build_plan(load_manifest(path, env={}))


def test_runs_then_matrix_then_dates_merge_over_params(tmp_path: Path) -> None:
    """Runs nest outside matrix cells, which nest outside dates; each merges over params."""
    plan = _plan(
        tmp_path,
        "    params: {a: 0, b: 0}\n    runs: [{a: 1}, {a: 2}]\n    matrix: {b: [x, y]}\n"
        "    dates: {param: d, start: 2025-01-01, end: 2025-01-02}\n",
    )
    assert [dict(item.params) for item in plan.items[:3]] == [
        {"a": 1, "b": "x", "d": "2025-01-01"},
        {"a": 1, "b": "x", "d": "2025-01-02"},
        {"a": 1, "b": "y", "d": "2025-01-01"},
    ]
    assert len(plan.items) == 8


def test_no_inputs_gives_one_run_with_empty_params(tmp_path: Path) -> None:
    """A project without runs, matrix or dates runs once with no inputs."""
    plan = _plan(tmp_path, "")
    assert [dict(item.params) for item in plan.items] == [{}]


def test_plan_hash_depends_on_the_set_of_runs_only(tmp_path: Path) -> None:
    """Renaming a project or reordering runs keeps the hash; changing a run changes it."""
    base = _plan(tmp_path, "    runs: [{a: 1}, {a: 2}]\n", "one.yaml")
    renamed = _plan(tmp_path, "    name: other\n    runs: [{a: 1}, {a: 2}]\n", "two.yaml")
    reordered = _plan(tmp_path, "    runs: [{a: 2}, {a: 1}]\n", "three.yaml")
    changed = _plan(tmp_path, "    runs: [{a: 1}, {a: 3}]\n", "four.yaml")
    assert base.plan_hash == renamed.plan_hash == reordered.plan_hash
    assert base.plan_hash != changed.plan_hash


def test_dates_in_params_become_text(tmp_path: Path) -> None:
    """An unquoted YAML date in params reaches Hex as the text the user wrote."""
    plan = _plan(tmp_path, "    params: {as_of: 2025-01-01}\n")
    assert plan.items[0].params == {"as_of": "2025-01-01"}


def test_run_spec_exposes_project_id_and_name(tmp_path: Path) -> None:
    """RunSpec has project_id and project_name shortcuts."""
    item = _plan(tmp_path, "    name: revenue\n").items[0]
    assert (item.project_id, item.project_name) == (ID, "revenue")


def test_canonical_json_is_sorted_compact_ascii() -> None:
    """Canonical JSON sorts keys, drops whitespace and escapes non-ASCII."""
    assert canonical_json({"b": "é", "a": [1, 2]}) == '{"a":[1,2],"b":"\\u00e9"}'


DESIGN_EXAMPLE = """
version: 1
projects:
  - id: 5a8591dd-4039-49df-9202-96385ba3eff8
    name: revenue
    max_in_flight: 2
    params: {region: us}
    runs: [{segment: a}, {segment: b}]
    matrix: {tier: [free, pro]}
    exclude: [{tier: free, segment: b}]
    include: [{tier: enterprise, segment: a}]
    dates: {param: run_date, start: 2025-01-01, end: 2025-01-31, step: 1d}
"""


def test_contract_example_crosses_runs_with_the_matrix(tmp_path: Path) -> None:
    """Exclude and include act on runs x matrix cells; each cell then runs for every date."""
    path = tmp_path / "design.yaml"
    path.write_text(DESIGN_EXAMPLE, encoding="utf-8")
    plan = build_plan(load_manifest(path, env={}))
    cells = [
        (item.params["segment"], item.params["tier"])
        for item in plan.items
        if item.params["run_date"] == "2025-01-01"
    ]
    assert cells == [("a", "free"), ("a", "pro"), ("b", "pro"), ("a", "enterprise")]
    assert len(plan.items) == 4 * 31
    assert all(item.params["region"] == "us" for item in plan.items)


def test_include_extends_run_entries_without_a_matrix(tmp_path: Path) -> None:
    """With runs only, an include adds keys to the runs it agrees with."""
    plan = _plan(tmp_path, "    runs: [{a: 1}, {a: 2}]\n    include: [{a: 2, b: x}]\n")
    assert [dict(item.params) for item in plan.items] == [{"a": 1}, {"a": 2, "b": "x"}]
