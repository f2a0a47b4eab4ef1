"""The trigger's own rules, in this process: a cancelled trigger cancels Hex's runs only
when its task was stopped, and asks Airflow for that state the way a triggerer answers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from hexbatch import status
from hexbatch.integrations.batch_job import BatchJob, record
from hexbatch.simulator import Scenario, run_simulator
from hexbatch.state import StateStore
from tests.engine.conftest import P1, manifest, project, scenario
from tests.integrations.extras import require

require("airflow")

from hexbatch.integrations import airflow as integration  # noqa: E402


class _Trigger(integration.HexBatchTrigger):
    """The trigger with the task's state as the test says (a triggerer asks Airflow's API)."""

    state: str | None = None

    async def task_state(self) -> str | None:
        return self.state


async def _first_event(trigger: integration.HexBatchTrigger) -> Any:
    """The one event the trigger fires, as the triggerer waits for it."""
    return await anext(trigger.run())


async def _cancel_while_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task_state: str | None
) -> tuple[Any, BatchJob, dict[str, Any]]:
    """Start a trigger on two 10 s runs, cancel it once both run; the simulator, the job,
    and the event of a second trigger driving the batch afterwards."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}])
    slow = project(duration={"min": 1000, "max": 1000})
    ahead = [0.0]  # seconds the simulator's clock is put forward

    def clock() -> float:
        return time.monotonic() + ahead[0]

    sim = Scenario.from_mapping(scenario([slow]))
    async with run_simulator(sim, clock=clock) as simulator:
        credentials = (simulator.token, simulator.base_url)
        monkeypatch.setattr(integration, "connection_credentials", lambda _: credentials)
        job = await record(BatchJob(str(path), state=str(tmp_path / "state.db")), *credentials)
        trigger = _Trigger(**job.to_kwargs())
        trigger.state = task_state
        running = asyncio.create_task(_first_event(trigger))
        with anyio.fail_after(10):
            while simulator.ledger.requests["RunProject"] < 2:  # noqa: ASYNC110 - no event
                await asyncio.sleep(0.01)
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
        if task_state != "failed":  # let the runs end in Hex, then drive the batch again
            ahead[0] = 20.0
        event = await _first_event(_Trigger(**job.to_kwargs()))
    return simulator, job, event.payload


async def test_a_trigger_cancelled_because_its_task_was_stopped_cancels_the_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator, job, after = await _cancel_while_running(tmp_path, monkeypatch, "failed")

    assert simulator.ledger.requests["CancelRun"] == 2
    assert simulator.ledger.requests["RunProject"] == 2
    assert after["counts"] == {status.CANCELLED: 2}  # the batch ended: reported as stored
    with StateStore(job.state or "") as store:
        assert store.batch(job.batch_id or 0).finished


async def test_a_trigger_let_go_by_its_triggerer_leaves_the_runs_to_the_next_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator, _, after = await _cancel_while_running(tmp_path, monkeypatch, "deferred")

    assert simulator.ledger.requests["CancelRun"] == 0
    assert simulator.ledger.requests["RunProject"] == 2  # reattached, not triggered again
    assert after["counts"] == {status.COMPLETED: 2}


async def test_a_trigger_that_cannot_tell_its_task_state_leaves_the_runs_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator, _, _ = await _cancel_while_running(tmp_path, monkeypatch, None)

    assert simulator.ledger.requests["CancelRun"] == 0


async def test_the_task_state_is_read_for_the_triggers_own_task_instance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    asked: list[dict[str, Any]] = []

    def states(**query: Any) -> dict[str, dict[str, str]]:
        asked.append(query)
        return {"run-1": {"batch": "success", "batch_2": "failed"}}

    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(states))
    trigger = integration.HexBatchTrigger(manifest="m.yaml")
    ti = SimpleNamespace(dag_id="d", task_id="batch", run_id="run-1", map_index=-1)

    # A triggerer sets the task instance it runs the trigger for; these stand in for it.
    monkeypatch.setattr(trigger, "task_instance", ti)
    plain = await trigger.task_state()
    monkeypatch.setattr(trigger, "task_instance", SimpleNamespace(**{**vars(ti), "map_index": 2}))
    mapped = await trigger.task_state()
    monkeypatch.setattr(trigger, "task_instance", None)
    unknown = await trigger.task_state()

    assert (plain, mapped, unknown) == ("success", "failed", None)
    assert asked[0] == {"dag_id": "d", "task_ids": ["batch"], "run_ids": ["run-1"], "map_index": -1}


async def test_a_task_state_airflow_cannot_give_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    def refuse(**_: Any) -> dict[str, Any]:
        raise RuntimeError("no supervisor here")

    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(refuse))
    trigger = integration.HexBatchTrigger(manifest="m.yaml")
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    monkeypatch.setattr(trigger, "task_instance", ti)

    assert await trigger.task_state() is None


# Building an operator makes Airflow import its own deprecated aliases: its warnings, not ours.
@pytest.mark.filterwarnings(r"ignore:The `airflow\.:FutureWarning")
def test_the_readmes_operator_example_builds_the_operator_it_describes() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Airflow\n", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}

    exec(compile(code, "README.md (Airflow)", "exec"), namespace)  # noqa: S102 - our own README

    operator = namespace["nightly"]
    assert isinstance(operator, integration.HexBatchOperator)
    assert (operator.as_of, operator.skip_completed, operator.deferrable) == (
        "{{ ds }}",
        True,
        True,
    )
    assert operator.retries == 2
    assert set(operator.template_fields) >= {"manifest", "state", "as_of", "report_dir"}
