"""The report a batch returns while it runs and the one `hexbatch report` reads back from the
state store are one document, field for field, however the batch went."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hexbatch.batch import BatchOptions, BatchRun
from hexbatch.engine import WorkItem
from hexbatch.manifest import load_manifest
from hexbatch.outcome import Attempt, BatchReport
from hexbatch.plan import build_plan
from hexbatch.report import render_json
from hexbatch.resume import StoreJournal
from hexbatch.simulator import Scenario, run_simulator
from hexbatch.state import StateError, StateStore
from tests.engine.conftest import P1, P2, fast_settings, manifest, project, scenario
from tests.state.conftest import T0, new_batch, planned

P3 = "33333333-3333-4333-8333-333333333333"

_FLAKY = {"when": {"n": 2}, "status": "UNABLE_TO_ALLOCATE_KERNEL", "first_attempts": 1}
_FAILING = {"when": {"n": 3}, "status": "ERRORED"}
# main: completes, completes on its retry, fails; slow: times out (an attempt error);
# typed: one trigger Hex refuses (422 on an input), one that completes.
_SIM = scenario(
    [
        project(outcome={"rules": [_FLAKY, _FAILING]}),
        project(P2, duration=100000),
        project(P3, inputs={"m": {"type": "integer"}}),
    ]
)
_ENTRIES: list[dict[str, Any]] = [
    {"id": P1, "name": "main", "runs": [{"n": 1}, {"n": 2}, {"n": 3}]},
    {"id": P2, "name": "slow", "timeout": "300ms", "runs": [{"m": 1}]},
    {"id": P3, "name": "typed", "retries": {"attempts": 0}, "runs": [{"m": "x"}, {"m": 2}]},
]
_RETRIES = {"retries": {"attempts": 1, "on": ["UNABLE_TO_ALLOCATE_KERNEL"]}}


async def _run(path: Path, state: Path, **options: Any) -> tuple[BatchReport, int]:
    """Run the manifest against a fresh simulator; the live report and the batch's id."""
    async with run_simulator(Scenario.from_mapping(_SIM)) as served:
        run = BatchRun(
            path,
            BatchOptions(
                base_url=served.base_url,
                env={"HEX_API_TOKEN": served.token},
                state=state,
                **options,
            ),
            fast_settings(),
        )
        report = await run.execute()
    assert run.recorded is not None
    return report, run.recorded.id


def _stored(state: Path, batch_id: int) -> dict[str, Any]:
    with StateStore(state) as store:
        document: dict[str, Any] = json.loads(render_json(store.report(batch_id)))
    return document


def _differences(live: Any, stored: Any, where: str = "") -> list[str]:
    """Every field where the two documents differ, by its path (empty: the same document)."""
    if isinstance(live, dict) and isinstance(stored, dict):
        return [
            found
            for name in sorted(live.keys() | stored.keys())
            for found in _differences(live.get(name), stored.get(name), f"{where}.{name}")
        ]
    if isinstance(live, list) and isinstance(stored, list) and len(live) == len(stored):
        return [
            found
            for index, (one, other) in enumerate(zip(live, stored, strict=True))
            for found in _differences(one, other, f"{where}[{index}]")
        ]
    return [] if live == stored else [f"{where}: live {live!r}, stored {stored!r}"]


async def _same(path: Path, state: Path, **options: Any) -> dict[str, Any]:
    report, batch_id = await _run(path, state, **options)
    live: dict[str, Any] = json.loads(render_json(report))
    stored = _stored(state, batch_id)
    with StateStore(state) as store:
        numbers = [[a.number for a in run.attempts] for run in store.report(batch_id).runs]
    assert [[a.number for a in run.attempts] for run in report.runs] == numbers
    # Unfinished batches too: the store keeps when the process stopped driving it.
    assert _differences(live, stored) == []
    return live


async def test_a_batch_its_rerun_and_a_skipping_batch_report_the_same_live_and_stored(
    tmp_path: Path,
) -> None:
    """A retry, a failure, a timeout, a refused trigger; then `--rerun failed` of that batch;
    then a new batch with `--skip-completed`: each live report is the stored one."""
    path = manifest(tmp_path, _ENTRIES, sim=_SIM, defaults=_RETRIES)
    state = tmp_path / "st.db"

    first = await _same(path, state)
    rerun = await _same(path, state, rerun="failed")
    skipping = await _same(path, state, new=True, skip_completed=True)

    statuses = [run["status"] for run in first["runs"]]
    assert statuses[:4] == ["COMPLETED", "COMPLETED", "ERRORED", "TIMED_OUT"]
    assert statuses[4:] == ["TRIGGER_FAILED", "COMPLETED"]
    assert [len(run["attempts"]) for run in first["runs"]] == [1, 2, 1, 1, 1, 1]
    assert "timeout" in first["runs"][3]["attempts"][0]["error"]
    assert first["runs"][4]["attempts"][0]["error"]
    assert first["manifest"] == str(path.resolve())
    assert [len(run["attempts"]) for run in rerun["runs"]] == [1, 2, 2, 2, 2, 1]
    with StateStore(state) as store:
        stored_runs = store.runs(1)
    assert [attempt.number for attempt in stored_runs[1].attempts] == [1, 2]
    # The run's identity travels unchanged from the plan through the store.
    assert [run.run for run in stored_runs] == [
        item.planned for item in build_plan(load_manifest(path)).items
    ]
    assert [run["status"] for run in skipping["runs"]].count("ALREADY_COMPLETED") == 3


async def test_a_batch_stopped_by_fail_fast_reports_the_same_live_and_stored(
    tmp_path: Path,
) -> None:
    """Runs never triggered because the batch stopped read the same live and stored."""
    path = manifest(
        tmp_path,
        [{"id": P1, "name": "main", "runs": [{"n": 3}, {"n": 1}, {"n": 4}]}],
        sim=_SIM,
        defaults={"max_in_flight": 1},
    )
    state = tmp_path / "st.db"

    stopped = await _same(path, state, fail_fast=True)

    assert [run["status"] for run in stopped["runs"]] == ["ERRORED", "SKIPPED", "SKIPPED"]


def test_the_attempts_a_run_makes_are_numbered_after_the_recorded_ones(tmp_path: Path) -> None:
    """A resumed run handed attempts 1 and 3 numbers the one it makes 4."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])
    (spec,) = build_plan(load_manifest(path)).items
    item = WorkItem(spec, [Attempt(None, number=1), Attempt(None, number=3)])
    item.attempts.append(Attempt(None, status="COMPLETED"))

    outcome = item.outcome("COMPLETED")

    assert [attempt.number for attempt in outcome.attempts] == [1, 3, 4]


async def test_a_batch_reported_from_memory_says_what_its_records_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the batch cannot be marked finished, its report comes from memory: that report
    and the stored records agree on every run and attempt."""
    path = manifest(tmp_path, _ENTRIES, sim=_SIM, defaults=_RETRIES)
    state = tmp_path / "st.db"

    def full(*args: object, **kwargs: object) -> None:
        raise StateError("st.db failed: database or disk is full")

    with monkeypatch.context() as patched:
        patched.setattr(StateStore, "finish_batch", full)
        report, batch_id = await _run(path, state)

    live: dict[str, Any] = json.loads(render_json(report))
    assert _differences(live["runs"], _stored(state, batch_id)["runs"]) == []


async def test_a_driver_taken_over_leaves_the_runs_it_did_not_trigger_to_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's lease is taken over after the first trigger: the old driver records no
    reason for the runs it did not trigger (the new driver is about to), they stay PLANNED."""
    path = manifest(
        tmp_path,
        [{"id": P1, "name": "main", "runs": [{"n": 1}, {"n": 4}]}],
        sim=_SIM,
        defaults={"max_in_flight": 1},
    )
    state = tmp_path / "st.db"
    triggered = StoreJournal.record_triggered

    def then_taken_over(journal: StoreJournal, *args: Any, **kwargs: Any) -> None:
        triggered(journal, *args, **kwargs)
        journal.store.database.execute(
            "UPDATE leases SET holder = 'new', host = 'ci-9', pid = 5", (), durable=True, doing=""
        )

    monkeypatch.setattr(StoreJournal, "record_triggered", then_taken_over)
    report, batch_id = await _run(path, state)

    assert [run.status for run in report.runs] == ["COMPLETED", "SKIPPED"]
    with StateStore(state) as store:
        assert [run.status for run in store.runs(batch_id)] == ["COMPLETED", "PLANNED"]


async def test_a_batch_left_unfinished_ends_where_its_driver_stopped(tmp_path: Path) -> None:
    """Fail-fast leaves the batch unfinished: the store keeps the moment the driver stopped,
    and its report ends there, as the live one did, not at the last recorded moment."""
    path = manifest(tmp_path, _ENTRIES, defaults={"max_in_flight": 1, **_RETRIES})
    state = tmp_path / "state.db"

    live, batch_id = await _run(path, state, fail_fast=True)

    with StateStore(state) as store:
        info = store.batch(batch_id)
        stored = store.report(batch_id)
    assert not info.finished
    assert info.stopped_at == live.finished_at
    assert stored.finished_at == live.finished_at


def test_a_batch_resumed_since_it_stopped_ends_at_its_latest_record(tmp_path: Path) -> None:
    """A driver that resumed the batch and died wrote no stop: the report ends at the
    latest moment recorded since, not at the older stop."""
    with StateStore(tmp_path / "state.db") as store:
        batch = new_batch(store, planned(1))
        store.record_stopped(batch.id, T0)
        stopped = store.report(batch.id).finished_at
        store.record_triggered(batch.id, "k0", 1, "r0", None, T0.replace(hour=T0.hour + 1))
        resumed = store.report(batch.id).finished_at

    assert stopped == T0
    assert resumed == T0.replace(hour=T0.hour + 1)
