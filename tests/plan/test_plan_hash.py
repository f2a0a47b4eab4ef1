"""The plan hash ignores entry order, so an unfinished batch resumes after entries are moved."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hexbatch.manifest import load_manifest
from hexbatch.plan import Plan, build_plan
from hexbatch.resume import open_batch
from hexbatch.state import StateError, StateStore

A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"
ENTRY_A = f"  - id: {A}\n    runs: [{{n: 1}}, {{n: 2}}]\n"
ENTRY_B = f"  - id: {B}\n    name: bee\n    matrix: {{c: [x, y]}}\n"
NOW = datetime(2025, 1, 9, 6, 0, tzinfo=UTC)


def _plan(path: Path, *entries: str) -> Plan:
    path.write_text("version: 1\nprojects:\n" + "".join(entries), encoding="utf-8")
    return build_plan(load_manifest(path, env={}))


def _open(store: StateStore, planned: Plan) -> tuple[int, tuple[str, ...], int]:
    opened = open_batch(
        store, planned.manifest, planned, base_url="https://x.example/api/v1", version="t", now=NOW
    )
    return opened.info.id, opened.order, len(opened.work)


def test_reordering_entries_keeps_the_plan_hash(tmp_path: Path) -> None:
    """Moving a project entry (or a run) keeps the hash; the runs keep their keys."""
    path = tmp_path / "m.yaml"
    first = _plan(path, ENTRY_A, ENTRY_B)
    moved = _plan(path, ENTRY_B, ENTRY_A.replace("{n: 1}, {n: 2}", "{n: 2}, {n: 1}"))
    assert moved.plan_hash == first.plan_hash
    assert sorted(item.key for item in moved.items) == sorted(item.key for item in first.items)
    assert [item.key for item in moved.items] != [item.key for item in first.items]


def test_changing_a_run_changes_the_plan_hash(tmp_path: Path) -> None:
    """A run added, removed or sent with other params is a different plan."""
    path = tmp_path / "m.yaml"
    first = _plan(path, ENTRY_A, ENTRY_B)
    assert _plan(path, ENTRY_A).plan_hash != first.plan_hash
    assert _plan(path, ENTRY_A, ENTRY_B.replace("[x, y]", "[x, z]")).plan_hash != first.plan_hash


def test_an_unfinished_batch_resumes_after_reordering(tmp_path: Path) -> None:
    """The same batch is resumed, in the new plan order, with every run still to do."""
    path = tmp_path / "m.yaml"
    with StateStore(tmp_path / "state.db") as store:
        first_id, _, _ = _open(store, _plan(path, ENTRY_A, ENTRY_B))
        moved = _plan(path, ENTRY_B, ENTRY_A)
        batch_id, order, to_do = _open(store, moved)

    assert batch_id == first_id
    assert order == tuple(item.key for item in moved.items)
    assert to_do == 4


def test_a_changed_plan_is_still_refused(tmp_path: Path) -> None:
    """Resuming with a run changed stays refused."""
    path = tmp_path / "m.yaml"
    with StateStore(tmp_path / "state.db") as store:
        _open(store, _plan(path, ENTRY_A, ENTRY_B))
        with pytest.raises(StateError, match="different plan"):
            _open(store, _plan(path, ENTRY_A, ENTRY_B.replace("[x, y]", "[x, z]")))


def test_a_hash_stored_by_0_1_0_still_matches_the_same_order(tmp_path: Path) -> None:
    """Plan.matches accepts the order-dependent hash 0.1.0 stored, for unchanged plans."""
    path = tmp_path / "m.yaml"
    planned = _plan(path, ENTRY_A, ENTRY_B)
    ordered = "\n".join(item.key for item in planned.items)
    old_hash = hashlib.sha256(ordered.encode("ascii")).hexdigest()

    assert planned.matches(planned.plan_hash)
    assert planned.matches(old_hash)
    assert not _plan(path, ENTRY_B, ENTRY_A).matches(old_hash)
    assert not planned.matches("0" * 64)
