"""Injected faults observed from a real HTTP client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from hexbatch.simulator import ledger_of
from hexbatch.simulator.app import STATE_KEY
from tests.simulator.conftest import (
    AUTH,
    OPEN,
    FakeClock,
    GateSleep,
    MakeClient,
    RecordingSleep,
    scenario_with,
)
from tests.simulator.schema import check

Client = TestClient[Any, Any]
RUNS = f"/api/v1/projects/{OPEN}/runs"


async def _with_faults(make_client: MakeClient, *faults: dict[str, Any], **kw: Any) -> Client:
    return await make_client(scenario_with(faults=list(faults)), **kw)


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_error_fault_answers_before_doing_anything(
    make_client: MakeClient, status: int
) -> None:
    """An error fault answers its status and creates no run."""
    client = await _with_faults(
        make_client, {"operation": "RunProject", "kind": "error", "status": status, "every_nth": 1}
    )
    response = await client.post(RUNS, json={}, headers=AUTH)

    assert response.status == status
    assert ledger_of(client.app).runs == []


async def test_gateway_errors_are_not_json(make_client: MakeClient) -> None:
    """A 502 looks like a gateway's HTML page, not an API error."""
    client = await _with_faults(
        make_client, {"operation": "*", "kind": "error", "status": 502, "every_nth": 1}
    )
    response = await client.get("/api/v1/projects", headers=AUTH)

    assert response.content_type == "text/html"


async def test_every_nth_fires_on_multiples(make_client: MakeClient) -> None:
    """every_nth: 3 fails the third and sixth requests only."""
    client = await _with_faults(
        make_client, {"operation": "ListProjects", "kind": "error", "every_nth": 3}
    )
    statuses = [(await client.get("/api/v1/projects", headers=AUTH)).status for _ in range(6)]

    assert statuses == [200, 200, 500, 200, 200, 500]


async def test_faults_apply_only_to_their_operation(make_client: MakeClient) -> None:
    """A RunProject fault leaves other operations alone."""
    client = await _with_faults(
        make_client, {"operation": "RunProject", "kind": "error", "every_nth": 1}
    )
    response = await client.get("/api/v1/projects", headers=AUTH)

    assert response.status == 200


async def test_max_times_caps_a_fault(make_client: MakeClient) -> None:
    """max_times: 1 fires a fault once and never again."""
    client = await _with_faults(
        make_client, {"operation": "*", "kind": "error", "every_nth": 1, "max_times": 1}
    )
    statuses = [(await client.get("/api/v1/projects", headers=AUTH)).status for _ in range(3)]

    assert statuses == [500, 200, 200]


async def test_probability_is_repeatable_under_the_seed(make_client: MakeClient) -> None:
    """The same seed makes a probabilistic fault fire on the same requests."""
    patterns = []
    for _ in range(2):
        client = await _with_faults(
            make_client, {"operation": "*", "kind": "error", "probability": 0.5}
        )
        patterns.append(
            [(await client.get("/api/v1/projects", headers=AUTH)).status for _ in range(12)]
        )

    assert patterns[0] == patterns[1]
    assert {200, 500} == set(patterns[0])


async def test_latency_waits_before_serving(make_client: MakeClient) -> None:
    """A latency fault sleeps its scaled delay and then serves normally."""
    sleep = RecordingSleep()
    client = await make_client(
        scenario_with(
            time_scale=0.5,
            faults=[{"operation": "*", "kind": "latency", "delay": "3s", "every_nth": 1}],
        ),
        sleep=sleep,
    )
    response = await client.get("/api/v1/projects", headers=AUTH)

    assert response.status == 200
    assert sleep.calls == [1.5]


async def test_slow_answer_outlasts_client_timeout_after_creating_run(
    make_client: MakeClient,
) -> None:
    """A slow RunProject times the client out although the run was created."""
    client = await _with_faults(
        make_client, {"operation": "RunProject", "kind": "slow", "delay": 0.3, "every_nth": 1}
    )
    with pytest.raises(asyncio.TimeoutError):
        await client.post(RUNS, json={}, headers=AUTH, timeout=aiohttp.ClientTimeout(total=0.05))

    assert len(ledger_of(client.app).runs) == 1


async def test_reset_drops_connection_after_creating_run(make_client: MakeClient) -> None:
    """A reset fault breaks the connection, yet the run exists (the ambiguous case)."""
    client = await _with_faults(
        make_client, {"operation": "RunProject", "kind": "reset", "every_nth": 1}
    )
    with pytest.raises(aiohttp.ClientError):
        await client.post(RUNS, json={}, headers=AUTH)

    assert len(ledger_of(client.app).runs) == 1
    assert [f.kind for f in ledger_of(client.app).faults] == ["reset"]


async def test_malformed_body_is_not_json(make_client: MakeClient) -> None:
    """A malformed fault sends a truncated JSON body with the normal status."""
    client = await _with_faults(
        make_client, {"operation": "RunProject", "kind": "malformed", "every_nth": 1}
    )
    response = await client.post(RUNS, json={}, headers=AUTH)
    text = await response.text()

    assert response.status == 201
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert len(ledger_of(client.app).runs) == 1


async def test_flap_swaps_running_for_pending(make_client: MakeClient, clock: FakeClock) -> None:
    """A flap fault reports a RUNNING run as PENDING on the affected request."""
    client = await _with_faults(
        make_client, {"operation": "GetRunStatus", "kind": "flap", "every_nth": 2}, clock=clock
    )
    created = await (await client.post(RUNS, json={}, headers=AUTH)).json()
    clock.advance(10)
    path = f"{RUNS}/{created['runId']}"
    seen = [(await (await client.get(path, headers=AUTH)).json())["status"] for _ in range(4)]

    assert seen == ["RUNNING", "PENDING", "RUNNING", "PENDING"]


async def test_flap_leaves_finished_runs_alone(make_client: MakeClient, clock: FakeClock) -> None:
    """Flapping never changes a terminal status."""
    client = await _with_faults(
        make_client, {"operation": "GetProjectRuns", "kind": "flap", "every_nth": 1}, clock=clock
    )
    await client.post(RUNS, json={}, headers=AUTH)
    clock.advance(1000)
    body = await (await client.get(RUNS, headers=AUTH)).json()

    assert body["runs"][0]["status"] == "COMPLETED"


async def _create(client: Client) -> str:
    response = await client.post(RUNS, json={}, headers=AUTH)
    assert response.status == 201
    run_id: str = (await response.json())["runId"]
    return run_id


async def test_not_found_hides_a_young_run_until_its_delay(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """not_found with a delay answers 404 while the run is younger than the scaled delay."""
    client = await make_client(
        scenario_with(
            time_scale=0.5,
            faults=[{"operation": "GetRunStatus", "kind": "not_found", "delay": 4, "every_nth": 1}],
        ),
        clock=clock,
    )
    path = f"{RUNS}/{await _create(client)}"
    statuses = []
    for step in (0, 1.9, 0.2):
        clock.advance(step)
        response = await client.get(path, headers=AUTH)
        statuses.append(response.status)
        if response.status == 404:
            check("TsoaErrorResponsePayload", await response.json())

    assert statuses == [404, 404, 200]
    assert [f.kind for f in ledger_of(client.app).faults] == ["not_found"] * 3


async def test_not_found_without_delay_is_persistent(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """Without a delay, every read the fault selects is 404, however old the run."""
    client = await make_client(
        scenario_with(
            faults=[{"operation": "GetRunStatus", "kind": "not_found", "every_nth": 1}],
        ),
        clock=clock,
    )
    path = f"{RUNS}/{await _create(client)}"
    clock.advance(10_000)
    statuses = [(await client.get(path, headers=AUTH)).status for _ in range(3)]

    assert statuses == [404, 404, 404]


async def test_not_found_respects_every_nth_and_max_times(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """A not_found fault fires on its every_nth reads, at most max_times times."""
    fault = {"operation": "GetRunStatus", "kind": "not_found", "every_nth": 2, "max_times": 2}
    client = await make_client(scenario_with(faults=[fault]), clock=clock)
    path = f"{RUNS}/{await _create(client)}"
    statuses = [(await client.get(path, headers=AUTH)).status for _ in range(6)]

    assert statuses == [200, 404, 200, 404, 200, 200]
    assert len(ledger_of(client.app).faults) == 2


async def _listed_ids(client: Client) -> list[str]:
    response = await client.get(RUNS, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    check("ProjectRunsResponsePayload", body)
    return [run["runId"] for run in body["runs"]]


async def test_list_lag_lists_a_run_only_after_its_delay(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """list_lag leaves runs younger than the scaled delay out of the project's run list."""
    client = await make_client(
        scenario_with(
            time_scale=0.5,
            faults=[
                {"operation": "GetProjectRuns", "kind": "list_lag", "delay": 4, "every_nth": 1}
            ],
        ),
        clock=clock,
    )
    older = await _create(client)
    clock.advance(1.5)
    newer = await _create(client)
    seen = []
    for step in (0, 0.6, 1.5):
        clock.advance(step)
        seen.append(await _listed_ids(client))

    assert seen == [[], [older], [newer, older]]
    assert [f.kind for f in ledger_of(client.app).faults] == ["list_lag"] * 3


async def test_list_lag_respects_every_nth(make_client: MakeClient, clock: FakeClock) -> None:
    """Only the listings the fault selects lag; the others show every run."""
    fault = {"operation": "GetProjectRuns", "kind": "list_lag", "delay": 60, "every_nth": 2}
    client = await make_client(scenario_with(faults=[fault]), clock=clock)
    run_id = await _create(client)
    seen = [await _listed_ids(client) for _ in range(3)]

    assert seen == [[run_id], [], [run_id]]


async def _until_disconnected(client: Client) -> None:
    """Wait until the server has seen the client's connection close (its handler cancelled)."""
    runner = client.server.runner
    assert runner is not None
    server = runner.server
    assert server is not None
    for _ in range(500):
        if not server.connections:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the server never saw the client disconnect")


async def test_late_create_makes_the_run_after_the_client_gave_up(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """late_create holds RunProject past the client's timeout and creates the run anyway.

    The server cancels the handler of a client that disconnected; the run must
    still appear once the delay is over.
    """
    sleep = GateSleep()
    fault = {"operation": "RunProject", "kind": "late_create", "delay": "35s", "every_nth": 1}
    client = await make_client(
        scenario_with(time_scale=0.5, faults=[fault]),
        clock=clock,
        sleep=sleep,
    )
    ledger = ledger_of(client.app)
    with pytest.raises(asyncio.TimeoutError):
        await client.post(
            RUNS,
            json={"inputParams": {"n": 1}},
            headers=AUTH,
            timeout=aiohttp.ClientTimeout(total=0.05),
        )
    held = set(client.app[STATE_KEY].late)
    await _until_disconnected(client)

    assert sleep.calls == [17.5]
    assert len(held) == 1
    assert ledger.runs == []  # nothing yet: the backend is still working on it
    clock.advance(17.5)
    sleep.gate.set()
    await asyncio.wait_for(asyncio.gather(*held, return_exceptions=True), timeout=5)

    assert [run.params for run in ledger.runs] == [{"n": 1}]
    assert await _listed_ids(client) == [ledger.runs[0].run_id]
    assert [f.kind for f in ledger.faults] == ["late_create"]


async def test_late_create_answers_a_patient_client(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """A client that waits out the delay gets the normal 201; max_times limits the fault."""
    fault = {"operation": "RunProject", "kind": "late_create", "delay": 5, "every_nth": 1}
    client = await make_client(
        scenario_with(faults=[{**fault, "max_times": 1}]), clock=clock, sleep=RecordingSleep()
    )
    first = await client.post(RUNS, json={}, headers=AUTH)
    second = await client.post(RUNS, json={}, headers=AUTH)

    assert (first.status, second.status) == (201, 201)
    check("ProjectRunResponsePayload", await first.json())
    assert [f.kind for f in ledger_of(client.app).faults] == ["late_create"]
    assert len(ledger_of(client.app).runs) == 2
