"""Pagination: cursors for projects, offsets and nextPage URLs for runs."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hexbatch.simulator import ledger_of
from tests.simulator.conftest import AUTH, BASE, OPEN, FakeClock, MakeClient, scenario_with

Client = TestClient[Any, Any]
RUNS = f"/api/v1/projects/{OPEN}/runs"


def _many_projects(count: int) -> list[dict[str, Any]]:
    return [
        {"id": f"00000000-0000-4000-8000-{index:012d}", "title": f"Project {index}"}
        for index in range(count)
    ]


async def test_project_cursor_walks_every_project_once(make_client: MakeClient) -> None:
    """Following pagination.after visits every project once, newest first, then null."""
    client = await make_client(scenario_with(projects=_many_projects(5)))
    titles: list[str] = []
    cursor = None
    for _ in range(10):
        query = {"limit": "2"} if cursor is None else {"limit": "2", "after": cursor}
        body = await (await client.get("/api/v1/projects", params=query, headers=AUTH)).json()
        titles += [project["title"] for project in body["values"]]
        cursor = body["pagination"]["after"]
        if cursor is None:
            break

    assert titles == [f"Project {index}" for index in range(5)]


async def test_project_before_cursor_goes_back(make_client: MakeClient) -> None:
    """pagination.before returns the previous page."""
    client = await make_client(scenario_with(projects=_many_projects(5)))
    first = await (await client.get("/api/v1/projects?limit=2", headers=AUTH)).json()
    query = {"limit": "2", "after": first["pagination"]["after"]}
    second = await (await client.get("/api/v1/projects", params=query, headers=AUTH)).json()
    query = {"limit": "2", "before": second["pagination"]["before"]}
    back = await (await client.get("/api/v1/projects", params=query, headers=AUTH)).json()

    assert first["pagination"]["before"] is None
    assert back["values"] == first["values"]


async def test_projects_default_page_is_25(make_client: MakeClient) -> None:
    """Without limit, ListProjects returns 25 projects per page."""
    client = await make_client(scenario_with(projects=_many_projects(30)))
    body = await (await client.get("/api/v1/projects", headers=AUTH)).json()

    assert len(body["values"]) == 25


async def test_bad_cursor_gets_400(client: Client) -> None:
    """An unreadable cursor is refused with 400."""
    response = await client.get("/api/v1/projects?after=%%%", headers=AUTH)

    assert response.status == 400


async def _five_runs(client: Client, clock: FakeClock) -> list[str]:
    ids = []
    for index in range(5):
        body = {"inputParams": {"n": index}}
        ids.append((await (await client.post(RUNS, json=body, headers=AUTH)).json())["runId"])
        clock.advance(1)
    return ids


async def test_runs_are_listed_newest_first(client: Client, clock: FakeClock) -> None:
    """GetProjectRuns lists the most recent run first."""
    ids = await _five_runs(client, clock)
    body = await (await client.get(RUNS, headers=AUTH)).json()

    assert [run["runId"] for run in body["runs"]] == list(reversed(ids))


async def test_next_page_urls_visit_every_run(client: Client, clock: FakeClock) -> None:
    """Following nextPage (absolute URLs with limit/offset) visits every run once."""
    ids = await _five_runs(client, clock)
    seen: list[str] = []
    url: str | None = str(client.make_url(RUNS + "?limit=2"))
    pages = 0
    while url is not None:
        async with client.session.get(url, headers=AUTH) as response:
            body = await response.json()
        seen += [run["runId"] for run in body["runs"]]
        url = body["nextPage"]
        pages += 1

    assert pages == 3
    assert seen == list(reversed(ids))


async def test_previous_page_points_back(client: Client, clock: FakeClock) -> None:
    """previousPage is null on the first page and carries the earlier offset later."""
    await _five_runs(client, clock)
    first = await (await client.get(RUNS + "?limit=2", headers=AUTH)).json()
    later = await (await client.get(RUNS + "?limit=2&offset=3", headers=AUTH)).json()

    assert first["previousPage"] is None
    assert "offset=1" in later["previousPage"]
    assert "limit=2" in later["previousPage"]


async def test_status_filter_selects_runs(client: Client, clock: FakeClock) -> None:
    """statusFilter keeps only runs currently in that status."""
    await _five_runs(client, clock)
    run = ledger_of(client.app).runs[0]
    await client.delete(f"{RUNS}/{run.run_id}", headers=AUTH)
    body = await (await client.get(RUNS + "?statusFilter=KILLED", headers=AUTH)).json()

    assert [item["runId"] for item in body["runs"]] == [run.run_id]


async def test_unknown_status_filter_gets_400(client: Client) -> None:
    """A statusFilter that is not a run status is refused with 400."""
    response = await client.get(RUNS + "?statusFilter=DONE", headers=AUTH)

    assert response.status == 400


async def test_scheduled_runs_hidden_when_api_only(make_client: MakeClient) -> None:
    """With list_runs: api_only (the 2025 host), past scheduled runs are not listed."""
    projects = [{**BASE["projects"][1], "scheduled_runs": 3}]
    client = await make_client(
        scenario_with(projects=projects, behaviour={"list_runs": "api_only"})
    )
    body = await (await client.get(RUNS, headers=AUTH)).json()

    assert body["runs"] == []


async def test_scheduled_runs_listed_by_default(make_client: MakeClient) -> None:
    """By default (list_runs: filtered, no runTriggerFilter) past scheduled runs are listed,
    and not in the ledger, which holds API runs only."""
    projects = [{**BASE["projects"][1], "scheduled_runs": 3}]
    client = await make_client(scenario_with(projects=projects))
    body = await (await client.get(RUNS, headers=AUTH)).json()

    assert [run["status"] for run in body["runs"]] == ["COMPLETED"] * 3
    assert [run["runTrigger"] for run in body["runs"]] == ["SCHEDULED"] * 3
    assert ledger_of(client.app).runs == []
