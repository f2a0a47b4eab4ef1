"""A batch recorded by one process and driven by another (an orchestrator's worker and its
triggerer): ``BatchRun.record`` opens it without triggering, ``BatchOptions(batch_id=…)``
drives exactly that batch (each state backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hexbatch.batch import BatchOptions, BatchRun, PreflightError
from hexbatch.errors import ConfigurationError
from hexbatch.outcome import BatchReport
from hexbatch.simulator import Scenario, run_simulator
from hexbatch.simulator.ledger import Ledger
from hexbatch.state import StateError, StateStore
from tests.engine.conftest import P1, fast_settings, manifest, project, scenario

RUNS = [{"n": n} for n in range(3)]


def _run(path: Path, served: Any, state: str, **options: Any) -> BatchRun:
    return BatchRun(
        path,
        BatchOptions(
            base_url=served.base_url, env={"HEX_API_TOKEN": served.token}, state=state, **options
        ),
        fast_settings(),
    )


async def _record_then_drive(
    path: Path, sim: dict[str, Any], state: str
) -> tuple[int, BatchRun, BatchReport, Ledger]:
    async with run_simulator(Scenario.from_mapping(sim)) as served:
        batch_id = await _run(path, served, state).record()
        triggered_when_recorded = served.ledger.requests["RunProject"]
        driver = _run(path, served, state, batch_id=batch_id)
        report = await driver.execute()
    assert triggered_when_recorded == 0
    return batch_id, driver, report, served.ledger


async def test_a_recorded_batch_is_driven_by_id_and_each_run_triggered_once(
    tmp_path: Path, state_location: str
) -> None:
    path = manifest(tmp_path, [{"id": P1, "runs": RUNS}])

    batch_id, driver, report, ledger = await _record_then_drive(
        path, scenario([project()]), state_location
    )

    assert report.counts() == {"COMPLETED": 3}
    assert sorted(run.params["n"] for run in ledger.runs) == [0, 1, 2]
    assert driver.recorded is not None
    assert driver.recorded.id == batch_id
    with StateStore(state_location) as store:
        assert [info.id for info in store.batches()] == [batch_id]
        assert store.batch(batch_id).finished


async def test_record_writes_every_planned_run_and_sends_no_trigger(
    tmp_path: Path, state_location: str
) -> None:
    path = manifest(tmp_path, [{"id": P1, "runs": RUNS}])

    async with run_simulator(Scenario.from_mapping(scenario([project()]))) as served:
        batch_id = await _run(path, served, state_location).record()

    assert served.ledger.requests["RunProject"] == 0
    with StateStore(state_location) as store:
        runs = store.runs(batch_id)
        assert not store.batch(batch_id).finished
    assert [run.final_status for run in runs] == [None, None, None]


async def test_a_finished_batch_given_by_id_is_reported_as_stored_without_a_request(
    tmp_path: Path, state_location: str
) -> None:
    """A second driver of a batch the first one finished (a trigger that ran twice)
    reports it and sends nothing: not a trigger, not a status read."""
    path = manifest(tmp_path, [{"id": P1, "runs": RUNS}])
    batch_id, _, first, _ = await _record_then_drive(path, scenario([project()]), state_location)

    async with run_simulator(Scenario.from_mapping(scenario([project()]))) as served:
        again = _run(path, served, state_location, batch_id=batch_id)
        report = await again.execute()
        deliveries = await again.notify(report)

    assert sum(served.ledger.requests.values()) == 0
    assert again.ended_before
    assert deliveries == []
    assert report.counts() == first.counts()
    assert [run.run_id for run in report.runs] == [run.run_id for run in first.runs]


async def test_a_batch_id_that_is_no_longer_the_latest_is_refused(
    tmp_path: Path, state_location: str
) -> None:
    path = manifest(tmp_path, [{"id": P1, "runs": RUNS}])
    old, _, _, _ = await _record_then_drive(path, scenario([project()]), state_location)

    async with run_simulator(Scenario.from_mapping(scenario([project()]))) as served:
        newer = await _run(path, served, state_location).record()
        with pytest.raises(StateError, match=rf"batch {old} is not the latest .*batch {newer}"):
            await _run(path, served, state_location, batch_id=old).execute()

    assert served.ledger.requests["RunProject"] == 0


async def test_record_refuses_a_batch_that_keeps_no_state(tmp_path: Path) -> None:
    path = manifest(tmp_path, [{"id": P1, "runs": RUNS}])

    async with run_simulator(Scenario.from_mapping(scenario([project()]))) as served:
        with pytest.raises(ConfigurationError, match="no store to record it in"):
            await _run(path, served, str(tmp_path / "s.db"), stateless=True).record()
        with pytest.raises(ConfigurationError, match="not with new or rerun"):
            await _run(path, served, str(tmp_path / "s.db"), batch_id=1, new=True).execute()

    assert sum(served.ledger.requests.values()) == 0


async def test_record_runs_the_preflight_check_and_records_nothing_it_refuses(
    tmp_path: Path, state_location: str
) -> None:
    path = manifest(tmp_path, [{"id": P1, "runs": RUNS}])
    unpublished = scenario([project(published=False)])

    async with run_simulator(Scenario.from_mapping(unpublished)) as served:
        with pytest.raises(PreflightError, match="not published"):
            await _run(path, served, state_location).record()

    with StateStore(state_location) as store:
        assert store.batches() == []


async def test_a_rerun_recorded_by_one_process_is_started_by_the_next(
    tmp_path: Path, state_location: str
) -> None:
    """``rerun="failed"`` recorded without driving (or a ``--rerun`` killed before its
    trigger): the next driver gives the failed run its new attempt instead of reporting
    its old end again, and gives it only once."""
    path = manifest(tmp_path, [{"id": P1, "runs": RUNS}])
    fails_n1 = scenario([project(outcome={"rules": [{"when": {"n": 1}, "status": "ERRORED"}]})])
    batch_id, _, first, _ = await _record_then_drive(path, fails_n1, state_location)

    async with run_simulator(Scenario.from_mapping(scenario([project()]))) as served:
        again = await _run(path, served, state_location, rerun="failed").record()
        report = await _run(path, served, state_location, batch_id=again).execute()
        twice = await _run(path, served, state_location, batch_id=again).execute()

    assert first.counts() == {"COMPLETED": 2, "ERRORED": 1}
    assert again == batch_id
    assert [run.params["n"] for run in served.ledger.runs] == [1]
    assert report.counts() == {"COMPLETED": 3}
    by_n = {run.params["n"]: run for run in report.runs}
    assert [attempt.status for attempt in by_n[1].attempts] == ["ERRORED", "COMPLETED"]
    assert twice.counts() == {"COMPLETED": 3}
