"""Run timelines: stateEvents with the enable-expanded-stats header, and their variants."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.simulator.conftest import (
    AUTH,
    BASE,
    OPEN,
    REVENUE,
    FakeClock,
    MakeClient,
    scenario_with,
)
from tests.simulator.schema import TIMESTAMP, check

Client = TestClient[Any, Any]
RUNS = f"/api/v1/projects/{OPEN}/runs"
EXPANDED = {**AUTH, "enable-expanded-stats": "true"}


async def _trigger(client: Client, path: str = RUNS, params: dict[str, Any] | None = None) -> str:
    response = await client.post(path, json={"inputParams": params or {}}, headers=AUTH)
    assert response.status == 201
    run_id: str = (await response.json())["runId"]
    return run_id


async def _status(client: Client, run_id: str, headers: dict[str, str], path: str = RUNS) -> Any:
    response = await client.get(f"{path}/{run_id}", headers=headers)
    assert response.status == 200
    body = await response.json()
    check("ProjectStatusResponsePayload", body)
    return body


def _values(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(event["type"], event["value"]) for event in body["stateEvents"]]


async def test_timeline_grows_with_the_run(client: Client, clock: FakeClock) -> None:
    """With the header, stateEvents lists each status reached so far, with its time."""
    run_id = await _trigger(client)
    seen = []
    for step in (0, 5, 50):
        clock.advance(step)
        seen.append(_values(await _status(client, run_id, EXPANDED)))
    body = await _status(client, run_id, EXPANDED)

    assert seen == [
        [("STATUS", "PENDING")],
        [("STATUS", "PENDING"), ("STATUS", "RUNNING")],
        [("STATUS", "PENDING"), ("STATUS", "RUNNING"), ("STATUS", "COMPLETED")],
    ]
    stamps = [event["timestamp"] for event in body["stateEvents"]]
    assert all(TIMESTAMP.match(stamp) for stamp in stamps)
    assert stamps == sorted(stamps)
    assert stamps[1:] == [body["startTime"], body["endTime"]]
    assert body["flagConfigOverride"] is None


@pytest.mark.parametrize(
    "headers",
    [AUTH, {**AUTH, "enable-expanded-stats": "false"}, {**AUTH, "enable-expanded-stats": "1"}],
)
async def test_no_timeline_without_the_header(client: Client, headers: dict[str, str]) -> None:
    """Without enable-expanded-stats: true, neither stateEvents nor flagConfigOverride appear."""
    body = await _status(client, await _trigger(client), headers)

    assert "stateEvents" not in body
    assert "flagConfigOverride" not in body


@pytest.mark.parametrize("name", ["Enable-Expanded-Stats", "ENABLE-EXPANDED-STATS"])
async def test_header_name_is_case_insensitive(client: Client, name: str) -> None:
    """The header works whatever the case of its name, on the legacy path too."""
    path = f"/api/v1/project/{OPEN}/run"
    body = await _status(client, await _trigger(client), {**AUTH, name: "true"}, path)

    assert _values(body) == [("STATUS", "PENDING")]


async def test_ends_other_than_completed(client: Client, clock: FakeClock) -> None:
    """A killed run ends its timeline KILLED; a kernel failure never shows RUNNING."""
    killed = await _trigger(client)
    clock.advance(10)
    await client.delete(f"{RUNS}/{killed}", headers=AUTH)
    path = f"/api/v1/projects/{REVENUE}/runs"
    no_kernel = await _trigger(client, path, {"region": "eu"})
    clock.advance(100)

    assert [v for _, v in _values(await _status(client, killed, EXPANDED))] == [
        "PENDING",
        "RUNNING",
        "KILLED",
    ]
    assert [v for _, v in _values(await _status(client, no_kernel, EXPANDED, path))] == [
        "PENDING",
        "UNABLE_TO_ALLOCATE_KERNEL",
    ]


async def test_list_items_carry_no_timeline_by_default(client: Client, clock: FakeClock) -> None:
    """Run list items never carry stateEvents by default, header or not."""
    await _trigger(client)
    clock.advance(100)
    body = await (await client.get(RUNS, headers=EXPANDED)).json()

    check("ProjectRunsResponsePayload", body)
    assert "stateEvents" not in body["runs"][0]


async def test_list_items_can_carry_the_timeline(make_client: MakeClient, clock: FakeClock) -> None:
    """With list_state_events: true, list items carry stateEvents even without the header."""
    client = await make_client(scenario_with(behaviour={"list_state_events": True}), clock)
    await _trigger(client)
    clock.advance(100)
    body = await (await client.get(RUNS, headers=AUTH)).json()

    check("ProjectRunsResponsePayload", body)
    assert [v for _, v in _values(body["runs"][0])] == ["PENDING", "RUNNING", "COMPLETED"]
    assert body["runs"][0]["flagConfigOverride"] is None


async def test_extra_events_of_an_unknown_type(make_client: MakeClient, clock: FakeClock) -> None:
    """extra_state_events adds a KERNEL event once the run starts, between PENDING and
    RUNNING, so a client can be checked for lenience."""
    client = await make_client(scenario_with(behaviour={"extra_state_events": True}), clock)
    run_id = await _trigger(client)
    pending = _values(await _status(client, run_id, EXPANDED))
    clock.advance(100)
    done = await _status(client, run_id, EXPANDED)

    assert pending == [("STATUS", "PENDING")]
    assert _values(done) == [
        ("STATUS", "PENDING"),
        ("KERNEL", "ALLOCATED"),
        ("STATUS", "RUNNING"),
        ("STATUS", "COMPLETED"),
    ]
    assert done["stateEvents"][1]["timestamp"] == done["startTime"]


async def test_scheduled_runs_have_timelines(make_client: MakeClient, clock: FakeClock) -> None:
    """A scheduled run reports its timeline like any other."""
    projects = [*BASE["projects"]]
    projects[1] = {**projects[1], "schedules": [{"trigger": "SCHEDULED", "every": "1h"}]}
    client = await make_client(scenario_with(projects=projects), clock)
    clock.advance(40)
    [run] = (await (await client.get(RUNS, headers=AUTH)).json())["runs"]
    body = await _status(client, run["runId"], EXPANDED)

    assert body["runTrigger"] == "SCHEDULED"
    assert [v for _, v in _values(body)] == ["PENDING", "RUNNING", "COMPLETED"]
