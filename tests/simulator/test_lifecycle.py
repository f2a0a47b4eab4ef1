"""Run lifecycle in virtual time: pending, running, outcomes, attempts, cancel, time scale."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hexbatch.simulator import ledger_of
from tests.simulator.conftest import AUTH, OPEN, REVENUE, FakeClock, MakeClient, scenario_with

Client = TestClient[Any, Any]
RUNS = f"/api/v1/projects/{REVENUE}/runs"


async def _trigger(client: Client, params: dict[str, Any], path: str = RUNS) -> str:
    response = await client.post(path, json={"inputParams": params}, headers=AUTH)
    assert response.status == 201
    run_id: str = (await response.json())["runId"]
    return run_id


async def _status(client: Client, run_id: str, path: str = RUNS) -> dict[str, Any]:
    body: dict[str, Any] = await (await client.get(f"{path}/{run_id}", headers=AUTH)).json()
    return body


async def test_run_moves_pending_running_completed(client: Client, clock: FakeClock) -> None:
    """A run is PENDING for its pending time, RUNNING for its duration, then COMPLETED."""
    path = f"/api/v1/projects/{OPEN}/runs"
    run_id = await _trigger(client, {}, path)
    seen = []
    for step in (4.9, 0.2, 49.7, 0.2):
        seen.append((await _status(client, run_id, path))["status"])
        clock.advance(step)
    seen.append((await _status(client, run_id, path))["status"])

    assert seen == ["PENDING", "PENDING", "RUNNING", "RUNNING", "COMPLETED"]


async def test_pending_run_has_no_start_time(client: Client) -> None:
    """startTime, endTime and elapsedTime stay null while a run is pending."""
    body = await _status(client, await _trigger(client, {}))

    assert (body["startTime"], body["endTime"], body["elapsedTime"]) == (None, None, None)


async def test_running_run_reports_elapsed_time(client: Client, clock: FakeClock) -> None:
    """A running run has a startTime, no endTime and a growing elapsedTime in ms."""
    run_id = await _trigger(client, {})
    clock.advance(15)
    body = await _status(client, run_id)

    assert body["status"] == "RUNNING"
    assert body["endTime"] is None
    assert body["elapsedTime"] == 5000


async def test_rule_on_params_sets_outcome(client: Client, clock: FakeClock) -> None:
    """A run whose params match a rule ends with the rule's status (one bad date)."""
    bad = await _trigger(client, {"run_date": "2025-01-09"})
    good = await _trigger(client, {"run_date": "2025-01-10"})
    clock.advance(1000)

    assert (await _status(client, bad))["status"] == "ERRORED"
    assert (await _status(client, good))["status"] == "COMPLETED"


async def test_first_attempt_rule_lets_the_retry_complete(client: Client, clock: FakeClock) -> None:
    """A first_attempts rule fails only the first attempt of those params."""
    first = await _trigger(client, {"region": "eu"})
    clock.advance(1000)
    second = await _trigger(client, {"region": "eu"})
    clock.advance(1000)

    assert (await _status(client, first))["status"] == "UNABLE_TO_ALLOCATE_KERNEL"
    assert (await _status(client, second))["status"] == "COMPLETED"


async def test_kernel_failure_never_starts(client: Client, clock: FakeClock) -> None:
    """UNABLE_TO_ALLOCATE_KERNEL ends after pending, with no startTime."""
    run_id = await _trigger(client, {"region": "eu"})
    clock.advance(10)
    body = await _status(client, run_id)

    assert body["status"] == "UNABLE_TO_ALLOCATE_KERNEL"
    assert body["startTime"] is None
    assert body["endTime"] is not None


async def test_duration_stays_within_range(client: Client, clock: FakeClock) -> None:
    """Durations drawn from a range fall inside it."""
    run_id = await _trigger(client, {"run_date": "2025-01-02"})
    clock.advance(10 + 99)
    assert (await _status(client, run_id))["status"] == "RUNNING"
    clock.advance(102)
    assert (await _status(client, run_id))["status"] == "COMPLETED"


async def test_durations_repeat_under_the_same_seed(make_client: MakeClient) -> None:
    """Two simulators with the same seed give the same params the same run timings."""
    ends = []
    for _ in range(2):
        clock = FakeClock()
        client = await make_client(clock=clock)
        await _trigger(client, {"run_date": "2025-01-03"})
        run = ledger_of(client.app).runs[0]
        ends.append((run.start_at - run.created_at, run.end_at - run.created_at, run.run_id))

    assert ends[0] == ends[1]


async def test_durations_differ_between_params(client: Client) -> None:
    """Different params draw different durations from the same range."""
    await _trigger(client, {"run_date": "2025-01-03"})
    await _trigger(client, {"run_date": "2025-01-04"})
    first, second = ledger_of(client.app).runs

    assert first.end_at - first.start_at != second.end_at - second.start_at


async def test_cancel_turns_live_run_killed(client: Client, clock: FakeClock) -> None:
    """Cancelling a running run makes it KILLED with an endTime."""
    run_id = await _trigger(client, {})
    clock.advance(20)
    response = await client.delete(f"{RUNS}/{run_id}", headers=AUTH)
    clock.advance(1000)
    body = await _status(client, run_id)

    assert response.status == 204
    assert body["status"] == "KILLED"
    assert body["elapsedTime"] == 10_000


async def test_cancel_on_legacy_path(client: Client) -> None:
    """The legacy DELETE /project/{id}/run/{runId} cancels too."""
    run_id = await _trigger(client, {})
    await client.delete(f"/api/v1/project/{REVENUE}/run/{run_id}", headers=AUTH)

    assert (await _status(client, run_id))["status"] == "KILLED"


async def test_cancel_finished_run_is_204_by_default(client: Client, clock: FakeClock) -> None:
    """Cancelling a finished run answers 204 and leaves its status alone."""
    run_id = await _trigger(client, {})
    clock.advance(1000)
    response = await client.delete(f"{RUNS}/{run_id}", headers=AUTH)

    assert response.status == 204
    assert (await _status(client, run_id))["status"] == "COMPLETED"


async def test_cancel_finished_run_can_be_422(make_client: MakeClient, clock: FakeClock) -> None:
    """With cancel_finished: unprocessable, cancelling a finished run answers 422."""
    client = await make_client(scenario_with(behaviour={"cancel_finished": "unprocessable"}), clock)
    run_id = await _trigger(client, {})
    clock.advance(1000)
    response = await client.delete(f"{RUNS}/{run_id}", headers=AUTH)

    assert response.status == 422


async def test_time_scale_shrinks_durations(make_client: MakeClient, clock: FakeClock) -> None:
    """With time_scale 0.01 a 55-second run is over after 0.55 clock seconds."""
    client = await make_client(scenario_with(time_scale=0.01), clock)
    path = f"/api/v1/projects/{OPEN}/runs"
    run_id = await _trigger(client, {}, path)
    clock.advance(0.54)
    assert (await _status(client, run_id, path))["status"] == "RUNNING"
    clock.advance(0.02)
    assert (await _status(client, run_id, path))["status"] == "COMPLETED"


async def test_ledger_keeps_timeline(client: Client, clock: FakeClock) -> None:
    """The ledger lists each status a run went through."""
    await _trigger(client, {"run_date": "2025-01-09"})
    clock.advance(1000)
    entry = ledger_of(client.app).snapshot()["runs"][0]

    assert [step["status"] for step in entry["timeline"]] == ["PENDING", "RUNNING", "ERRORED"]
    assert entry["status"] == "ERRORED"
