"""Run triggers in lists: runTrigger on every payload, runTriggerFilter, list_runs modes."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hexbatch.simulator import ledger_of
from tests.simulator.conftest import AUTH, BASE, OPEN, FakeClock, MakeClient, scenario_with
from tests.simulator.schema import check

Client = TestClient[Any, Any]
RUNS = f"/api/v1/projects/{OPEN}/runs"


async def _mixed(make_client: MakeClient, clock: FakeClock, **behaviour: Any) -> Client:
    """Two past scheduled runs of OPEN, then two API runs of ours."""
    projects = [*BASE["projects"]]
    projects[1] = {**projects[1], "scheduled_runs": 2}
    client = await make_client(scenario_with(projects=projects, behaviour=behaviour), clock=clock)
    for index in range(2):
        response = await client.post(RUNS, json={"inputParams": {"n": index}}, headers=AUTH)
        assert response.status == 201
        clock.advance(1)
    return client


async def _triggers(client: Client, query: str = "") -> list[str]:
    response = await client.get(RUNS + query, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    check("ProjectRunsResponsePayload", body)
    return [run["runTrigger"] for run in body["runs"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["API", "API", "SCHEDULED", "SCHEDULED"]),
        ("?runTriggerFilter=ALL", ["API", "API", "SCHEDULED", "SCHEDULED"]),
        ("?runTriggerFilter=API", ["API", "API"]),
        ("?runTriggerFilter=SCHEDULED", ["SCHEDULED", "SCHEDULED"]),
        ("?runTriggerFilter=APP_REFRESH", []),
    ],
)
async def test_run_trigger_filter_narrows_the_list(
    make_client: MakeClient, clock: FakeClock, query: str, expected: list[str]
) -> None:
    """By default the list holds every trigger type; runTriggerFilter narrows it."""
    client = await _mixed(make_client, clock)

    assert await _triggers(client, query) == expected


@pytest.mark.parametrize("envelope", ["tsoa", "new"])
async def test_unknown_run_trigger_filter_gets_400(
    make_client: MakeClient, clock: FakeClock, envelope: str
) -> None:
    """A runTriggerFilter outside the documented values is refused in the scenario's envelope."""
    client = await _mixed(make_client, clock, error_envelope=envelope)
    response = await client.get(RUNS + "?runTriggerFilter=api", headers=AUTH)

    assert response.status == 400
    body = await response.json()
    if envelope == "tsoa":
        check("TsoaErrorResponsePayload", body)
        assert "runTriggerFilter" in body["reason"]
    else:
        assert body["code"] == "BAD_REQUEST"
        assert "runTriggerFilter" in body["message"]


async def test_api_only_host_ignores_the_filter(make_client: MakeClient, clock: FakeClock) -> None:
    """list_runs: api_only lists API runs whatever the parameter says, without runTrigger."""
    client = await _mixed(make_client, clock, list_runs="api_only")
    for query in ("", "?runTriggerFilter=SCHEDULED", "?runTriggerFilter=nonsense"):
        response = await client.get(RUNS + query, headers=AUTH)
        body = await response.json()

        assert response.status == 200
        assert len(body["runs"]) == 2
        assert all("runTrigger" not in run for run in body["runs"])


async def test_all_host_ignores_the_filter(make_client: MakeClient, clock: FakeClock) -> None:
    """list_runs: all lists every trigger type even when asked for API runs only."""
    client = await _mixed(make_client, clock, list_runs="all")

    assert await _triggers(client, "?runTriggerFilter=API") == [
        "API",
        "API",
        "SCHEDULED",
        "SCHEDULED",
    ]


async def test_run_status_carries_run_trigger(make_client: MakeClient, clock: FakeClock) -> None:
    """GetRunStatus reports runTrigger for our runs and for scheduled ones."""
    client = await _mixed(make_client, clock)
    listed = (await (await client.get(RUNS, headers=AUTH)).json())["runs"]
    seen = []
    for run in listed:
        body = await (await client.get(f"{RUNS}/{run['runId']}", headers=AUTH)).json()
        check("ProjectStatusResponsePayload", body)
        seen.append(body["runTrigger"])

    assert seen == ["API", "API", "SCHEDULED", "SCHEDULED"]


async def test_pages_keep_both_filters(make_client: MakeClient, clock: FakeClock) -> None:
    """nextPage and previousPage keep runTriggerFilter and statusFilter, so paging never
    wanders into runs the first page excluded."""
    projects = [*BASE["projects"]]
    projects[1] = {**projects[1], "scheduled_runs": 4}
    client = await make_client(scenario_with(projects=projects), clock=clock)
    ours = []
    for index in range(5):
        created = await client.post(RUNS, json={"inputParams": {"n": index}}, headers=AUTH)
        ours.append((await created.json())["runId"])
    url: str | None = str(
        client.make_url(RUNS + "?limit=2&runTriggerFilter=API&statusFilter=PENDING")
    )
    seen: list[str] = []
    links: list[str] = []
    while url is not None:
        async with client.session.get(url, headers=AUTH) as response:
            body = await response.json()
        seen += [run["runId"] for run in body["runs"]]
        links += [link for link in (body["nextPage"], body["previousPage"]) if link]
        url = body["nextPage"]

    assert seen == list(reversed(ours))
    assert len(links) == 4  # two nextPage links, then two previousPage links
    for link in links:
        assert "runTriggerFilter=API" in link
        assert "statusFilter=PENDING" in link


async def test_ledger_records_each_list_filter(make_client: MakeClient, clock: FakeClock) -> None:
    """The ledger keeps each list request's runTriggerFilter, throttled ones included."""
    client = await make_client(
        scenario_with(limits={"requests": {"count": 3, "per": 60}}), clock=clock
    )
    statuses = [
        (await client.get(RUNS + query, headers=AUTH)).status
        for query in (
            "",
            "?runTriggerFilter=API",
            "?runTriggerFilter=ALL&limit=5",
            "?runTriggerFilter=API",
        )
    ]
    await client.get(f"/api/v1/project/{OPEN}/runs?runTriggerFilter=SCHEDULED", headers=AUTH)
    snapshot = await (await client.get("/_sim/ledger")).json()

    assert statuses == [200, 200, 200, 429]
    assert ledger_of(client.app).list_filters == [None, "API", "ALL", "API", "SCHEDULED"]
    assert snapshot["list_filters"] == [None, "API", "ALL", "API", "SCHEDULED"]
    assert snapshot["throttled"] == {"GetProjectRuns": 2}
