"""Planning ``select:`` entries: one set of runs per selected project, keys per project id."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hexbatch.manifest import Manifest, ManifestError, load_manifest
from hexbatch.plan import build_plan, run_key
from hexbatch.selection import (
    EntrySelection,
    LeftOut,
    SelectedProject,
    Selection,
    selection_key,
)

A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"
C = "cccccccc-0000-4000-8000-000000000003"
AT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)

MANIFEST = f"""
version: 1
projects:
  - select: {{categories: [nightly], statuses: [Production]}}
    max_in_flight: 1
    params: {{mode: full}}
    matrix: {{region: [us, eu]}}
  - id: {C}
    name: checks
  - select: {{title: "Exec *"}}
    skip_if_fresh: 6h
"""


@pytest.fixture(name="manifest")
def _manifest(tmp_path: Path) -> Manifest:
    path = tmp_path / "bulk.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return load_manifest(path, env={})


def _selection(manifest: Manifest, *chosen: tuple[SelectedProject, ...]) -> Selection:
    entries = tuple(
        EntrySelection(selection_key(spec), spec.index, projects)
        for spec, projects in zip(manifest.selectors, chosen, strict=True)
    )
    return Selection(AT, entries)


def test_without_a_selection_only_the_named_projects_are_planned(manifest: Manifest) -> None:
    """select: entries wait for their selection; the plan says so."""
    plan = build_plan(manifest)

    assert [item.project_id for item in plan.items] == [C]
    assert plan.unselected
    assert plan.as_json()["selection"] is None


def test_each_selected_project_runs_the_entrys_inputs(manifest: Manifest) -> None:
    """Every project gets the entry's params and matrix; keys are the project id's; the
    project is labelled by its title and keeps the entry's settings and index."""
    selection = _selection(
        manifest,
        (SelectedProject(A, "Revenue"), SelectedProject(B, "Churn")),
        (SelectedProject(A, "Revenue"),),
    )

    plan = build_plan(manifest, selection=selection)

    runs = [(item.project_name, dict(item.params)) for item in plan.items]
    assert runs == [
        ("Revenue", {"mode": "full", "region": "us"}),
        ("Revenue", {"mode": "full", "region": "eu"}),
        ("Churn", {"mode": "full", "region": "us"}),
        ("Churn", {"mode": "full", "region": "eu"}),
        ("checks", {}),
        ("Revenue", {}),
    ]
    assert plan.items[0].key == run_key(A, {"mode": "full", "region": "us"})
    assert [item.project.index for item in plan.items] == [0, 0, 0, 0, 1, 2]
    assert {item.project.max_in_flight for item in plan.items[:4]} == {1}
    assert not plan.unselected
    assert plan.as_json()["selection"] == selection.as_json()
    assert plan.counts() == {0: 4, 1: 1, 2: 1}


def test_a_projects_keys_do_not_depend_on_which_entry_or_order_chose_it(
    manifest: Manifest,
) -> None:
    """The plan hash is the same whatever order the selection lists its projects in."""
    one = _selection(manifest, (SelectedProject(A, "Revenue"), SelectedProject(B, "Churn")), ())
    other = _selection(manifest, (SelectedProject(B, "Churn"), SelectedProject(A, "Revenue")), ())

    assert build_plan(manifest, selection=one).plan_hash == (
        build_plan(manifest, selection=other).plan_hash
    )


def test_a_run_two_entries_share_collapses_into_one(tmp_path: Path) -> None:
    """A project selected by an entry and named by another, with the same inputs, runs once."""
    path = tmp_path / "overlap.yaml"
    path.write_text(
        f"version: 1\nprojects:\n  - id: {A}\n  - select: {{statuses: [Production]}}\n",
        encoding="utf-8",
    )
    manifest = load_manifest(path, env={})
    selection = _selection(manifest, (SelectedProject(A, "Revenue"), SelectedProject(B, "B")))

    plan = build_plan(manifest, selection=selection)

    assert [item.project_id for item in plan.items] == [A, B]
    assert any("1 duplicate run(s) collapsed" in warning for warning in plan.warnings)


def test_a_selection_without_the_entry_is_refused(manifest: Manifest) -> None:
    """A selection made for other filters cannot plan this manifest."""
    stale = Selection(AT, (EntrySelection('{"select":{}}', 0, (SelectedProject(A, "x"),)),))

    with pytest.raises(ValueError, match=r"nothing for projects\[0\]"):
        build_plan(manifest, selection=stale)
    assert [spec.index for spec in stale.missing(manifest)] == [0, 2]


def test_a_select_entry_that_expands_to_nothing_is_an_error_before_any_selection(
    tmp_path: Path,
) -> None:
    """Its inputs are wrong whatever it selects: plan and validate say so without a token."""
    path = tmp_path / "empty.yaml"
    path.write_text(
        "version: 1\nprojects:\n  - select: {statuses: [P]}\n"
        "    matrix: {a: [1]}\n    exclude: [{a: 1}]\n",
        encoding="utf-8",
    )

    with pytest.raises(ManifestError, match="expands to no runs"):
        build_plan(load_manifest(path, env={}))


def test_the_selection_warns_of_schedules_and_of_entries_choosing_nothing(
    manifest: Manifest,
) -> None:
    """A project Hex also runs on its own schedule is named once; an entry with nothing
    chosen is named with what it left out."""
    fresh = LeftOut(B, "Exec B", "fresh", "published results updated 1h ago")
    selection = Selection(
        AT,
        (
            EntrySelection(
                selection_key(manifest.selectors[0]),
                0,
                (SelectedProject(A, "Revenue", scheduled=True),),
            ),
            EntrySelection(selection_key(manifest.selectors[1]), 2, (), (fresh,)),
        ),
    )

    warnings = build_plan(manifest, selection=selection).warnings

    assert warnings == (
        "projects[2]: select {title: 'Exec *'} chose no project (1 left out, see the selection)",
        f"projects[0]: 'Revenue' ({A}) has an enabled Hex schedule: it will also run on its"
        " own schedule",
    )
    assert list(selection.lines(manifest)) == [
        "projects[0]: 1 project, select {statuses: [Production], categories: [nightly]}",
        f"  + Revenue  {A}  (also on a Hex schedule)",
        "projects[2]: 0 projects, select {title: 'Exec *'}",
        f"  - Exec B  {B}",
        "      left out: published results updated 1h ago",
    ]


def test_an_empty_selection_is_said_clearly(manifest: Manifest) -> None:
    """When no entry chose anything, the plan warns that the select: entries run nothing."""
    selection = _selection(manifest, (), ())

    plan = build_plan(manifest, selection=selection)

    assert [item.project_id for item in plan.items] == [C]
    assert plan.warnings[-1] == (
        "the selection is empty: no select: entry chose a project, so they run nothing"
    )


def test_selection_text_round_trip(manifest: Manifest) -> None:
    """What a batch stores reads back equal; anything else is refused."""
    left = LeftOut(C, "Draft", "unpublished", "never published")
    selection = Selection(
        AT,
        (
            EntrySelection("k1", 0, (SelectedProject(A, "Revenue", scheduled=True),), (left,)),
            EntrySelection("k2", 2, ()),
        ),
    )

    assert Selection.loads(selection.dumps()) == selection
    for text in ("[]", '{"schema": "other"}', '{"schema": "hexbatch.selection/1"}'):
        with pytest.raises(ValueError):
            Selection.loads(text)


def test_moving_entries_keeps_their_selection(manifest: Manifest, tmp_path: Path) -> None:
    """Entries are matched by what they select with, not by position."""
    selection = _selection(manifest, (SelectedProject(A, "Revenue"),), (SelectedProject(B, "B"),))
    moved = tmp_path / "moved.yaml"
    head, first, named, last = MANIFEST.split("\n  - ")
    moved.write_text("\n  - ".join([head, last, named, first]) + "\n", encoding="utf-8")

    before = build_plan(manifest, selection=selection)
    after = build_plan(load_manifest(moved, env={}), selection=selection)

    assert after.plan_hash == before.plan_hash
