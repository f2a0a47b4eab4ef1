"""The orchestrator-free part of the integrations: a job's plain-data form, its checks, and
the outcome a task reports (run without any orchestrator installed)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import anyio
import pytest

from hexbatch import status
from hexbatch.integrations import batch_job
from hexbatch.integrations.batch_job import BatchJob, WorkerDrive, drive, record, summary
from hexbatch.manifest import ManifestError
from hexbatch.simulator import Scenario, run_simulator
from tests.engine.conftest import P1, fast_settings, manifest, project, scenario


def test_as_of_takes_a_date_or_the_day_of_a_timestamp() -> None:
    assert BatchJob("m.yaml", as_of="2025-03-02").as_of_date() == dt.date(2025, 3, 2)
    assert BatchJob("m.yaml", as_of="2025-03-02T06:00:00+00:00").as_of_date() == dt.date(2025, 3, 2)
    assert BatchJob("m.yaml", as_of="").as_of_date() is None
    assert BatchJob("m.yaml").as_of_date() is None


def test_a_job_round_trips_through_its_keyword_arguments() -> None:
    job = BatchJob(
        "m.yaml",
        state="s.db",
        as_of="2025-03-02",
        skip_completed=True,
        batch_name="n@r",
        batch_id=3,
    )

    assert BatchJob(**job.to_kwargs()) == job


def test_check_refuses_a_manifest_that_is_not_valid(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nprojects:\n  - id: 42\n", encoding="utf-8")

    with pytest.raises(ManifestError, match=r"broken\.yaml"):
        BatchJob(str(broken)).check()


async def test_drive_reports_each_run_and_a_summary_of_what_did_not_complete(
    tmp_path: Path,
) -> None:
    dates = {"param": "run_date", "start": "2025-02-27", "end": "2025-02-28"}
    rule = {"when": {"run_date": "2025-02-28"}, "status": "ERRORED"}
    path = manifest(tmp_path, [{"id": P1, "dates": dates}])
    sim = Scenario.from_mapping(scenario([project(outcome={"rules": [rule]})]))
    job = BatchJob(str(path), state=str(tmp_path / "state.db"), report_dir=str(tmp_path / "r"))

    async with run_simulator(sim) as simulator:
        payload = await drive(job, simulator.token, simulator.base_url, settings=fast_settings())

    assert payload["ok"] is False
    assert payload["counts"] == {"COMPLETED": 1, "ERRORED": 1}
    assert all(run["run_url"] for run in payload["runs"])
    assert payload["report_dir"] == str((tmp_path / "r").resolve())
    text = summary(payload)
    assert text.startswith("batch did not complete: 1 COMPLETED, 1 ERRORED")
    assert "2025-02-28" in text
    assert "2025-02-27" not in text


async def test_a_token_hex_refuses_is_an_outcome_not_a_crash(tmp_path: Path) -> None:
    path = manifest(tmp_path, [{"id": P1}])
    sim = Scenario.from_mapping(scenario([project()]))

    async with run_simulator(sim) as simulator:
        payload = await drive(
            BatchJob(str(path), state=str(tmp_path / "state.db")),
            "hxtp_not_a_known_token",
            simulator.base_url,
            settings=fast_settings(),
        )

    assert payload["ok"] is False
    assert summary(payload).startswith("the batch did not run: nothing was triggered")


async def test_a_second_driver_of_a_recorded_batch_waits_and_reports_it_once_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trigger that runs twice at once: the lease keeps one driver, the other waits for
    it and then reports the batch the first one finished; no run is triggered twice."""
    monkeypatch.setattr(batch_job, "LEASE_POLL_S", 0.02)
    dates = {"param": "run_date", "start": "2025-02-26", "end": "2025-02-28"}
    path = manifest(tmp_path, [{"id": P1, "dates": dates}], defaults={"max_in_flight": 1})
    sim = Scenario.from_mapping(scenario([project()]))

    async with run_simulator(sim) as simulator:
        job = await record(
            BatchJob(str(path), state=str(tmp_path / "state.db")),
            simulator.token,
            simulator.base_url,
        )
        first = asyncio.create_task(
            drive(job, simulator.token, simulator.base_url, settings=fast_settings())
        )
        while not simulator.ledger.runs:  # noqa: ASYNC110 - the simulator offers no event
            await asyncio.sleep(0.01)
        second = await drive(job, simulator.token, simulator.base_url, settings=fast_settings())
        driven = await first

    assert driven["ok"] is True
    assert second == driven
    runs = [str(run.params["run_date"]) for run in simulator.ledger.runs]
    assert sorted(runs) == ["2025-02-26", "2025-02-27", "2025-02-28"]


async def test_a_job_without_a_batch_id_is_refused_while_another_drives_it(
    tmp_path: Path,
) -> None:
    """Without a recorded batch to wait for, a second driver cannot tell the batch it
    would find from a new one: it reports who drives the batch and triggers nothing."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])
    slow = project(duration={"min": 300, "max": 300})
    job = BatchJob(str(path), state=str(tmp_path / "state.db"))

    async with run_simulator(Scenario.from_mapping(scenario([slow]))) as simulator:
        first = asyncio.create_task(
            drive(job, simulator.token, simulator.base_url, settings=fast_settings())
        )
        while not simulator.ledger.runs:  # noqa: ASYNC110 - the simulator offers no event
            await asyncio.sleep(0.01)
        second = await drive(job, simulator.token, simulator.base_url, settings=fast_settings())
        await first

    assert second["ok"] is False
    assert "is being driven by process" in second["error"]
    assert len(simulator.ledger.runs) == 1


async def test_a_retry_reopens_the_batch_and_triggers_only_its_failed_runs(
    tmp_path: Path,
) -> None:
    dates = {"param": "run_date", "start": "2025-02-27", "end": "2025-02-28"}
    rule = {"when": {"run_date": "2025-02-28"}, "status": "ERRORED", "first_attempts": 1}
    path = manifest(tmp_path, [{"id": P1, "dates": dates}])
    sim = Scenario.from_mapping(scenario([project(outcome={"rules": [rule]})]))
    job = BatchJob(str(path), state=str(tmp_path / "state.db"))

    async with run_simulator(sim) as simulator:
        token, url = simulator.token, simulator.base_url
        first = await drive(await record(job, token, url), token, url, settings=fast_settings())
        retried = await record(job, token, url, retry=True)
        second = await drive(retried, token, url, settings=fast_settings())
        third = await drive(
            await record(job, token, url, retry=True), token, url, settings=fast_settings()
        )

    assert first["counts"] == {"COMPLETED": 1, "ERRORED": 1}
    assert second["counts"] == {"COMPLETED": 2}
    assert third == second  # nothing failed: the finished batch is reported as it is
    runs = [str(run.params["run_date"]) for run in simulator.ledger.runs]
    assert sorted(runs) == ["2025-02-27", "2025-02-28", "2025-02-28"]
    assert retried.batch_id == 1


async def test_a_detached_drive_leaves_hex_running_and_the_next_driver_follows(
    tmp_path: Path,
) -> None:
    """A triggerer that stops (its task still deferred) lets go of the batch without
    cancelling anything; the next driver reattaches to the same runs."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}])
    sim = Scenario.from_mapping(scenario([project(duration={"min": 100, "max": 100})]))

    async with run_simulator(sim) as simulator:
        token, url = simulator.token, simulator.base_url
        job = await record(BatchJob(str(path), state=str(tmp_path / "state.db")), token, url)
        worker = WorkerDrive(job, token, url, settings=fast_settings())
        driving = asyncio.create_task(asyncio.to_thread(worker.run))
        with anyio.fail_after(10):
            while simulator.ledger.requests["RunProject"] < 2:  # noqa: ASYNC110 - no event
                await asyncio.sleep(0.01)
            worker.detach("the triggerer stopped")
            detached = await driving
        resumed = await drive(job, token, url, settings=fast_settings())

    assert detached["ok"] is False
    assert "stopped driving the batch (the triggerer stopped)" in detached["error"]
    assert simulator.ledger.requests["CancelRun"] == 0
    assert simulator.ledger.requests["RunProject"] == 2
    assert resumed["counts"] == {status.COMPLETED: 2}


async def test_a_stop_asked_before_the_drive_starts_is_honoured(tmp_path: Path) -> None:
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])

    async with run_simulator(Scenario.from_mapping(scenario([project()]))) as simulator:
        token, url = simulator.token, simulator.base_url
        job = await record(BatchJob(str(path), state=str(tmp_path / "state.db")), token, url)
        worker = WorkerDrive(job, token, url, settings=fast_settings())
        worker.detach("stopped at once")
        payload = await asyncio.to_thread(worker.run)

    assert "stopped at once" in payload["error"]
    assert simulator.ledger.requests["RunProject"] == 0


async def test_killing_a_worker_drive_cancels_its_live_runs_in_hex(tmp_path: Path) -> None:
    """A task killed while its worker drives the batch (another thread, as a signal handler
    may be) cancels the runs Hex is running; they end CANCELLED in the report."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}])
    slow = project(duration={"min": 3000, "max": 3000})  # 30 s real: only a cancel ends it
    sim = Scenario.from_mapping(scenario([slow]))

    async with run_simulator(sim) as simulator:
        worker = WorkerDrive(
            BatchJob(str(path), state=str(tmp_path / "state.db")),
            simulator.token,
            simulator.base_url,
            settings=fast_settings(),
        )
        driving = asyncio.create_task(asyncio.to_thread(worker.run))
        with anyio.fail_after(10):
            while simulator.ledger.requests["RunProject"] < 2:  # noqa: ASYNC110 - no event
                await asyncio.sleep(0.01)
            worker.kill("the task was killed")
            payload = await driving

    assert payload["counts"] == {status.CANCELLED: 2}
    assert simulator.ledger.requests["CancelRun"] == 2
