"""ListProjects' filters and the project fields a bulk refresh selects by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hexbatch.simulator import ledger_of
from tests.simulator.conftest import AUTH, FakeClock, MakeClient, scenario_with
from tests.simulator.schema import _spec_2025, check

Client = TestClient[Any, Any]
COLLECTION = "0c2f6a1e-93d4-4b6e-8f2a-5d7c1b9e0a34"


def _pid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


PROJECTS: list[dict[str, Any]] = [
    {
        "id": _pid(1),
        "title": "Revenue nightly",
        "status": "Production",
        "categories": ["nightly", "finance"],
        "collection": COLLECTION,
        "owner": "Ana@Example.com",
        "published_results_updated_at": "2026-03-01T02:00:00Z",
        "schedules": [{"trigger": "SCHEDULED", "every": "24h", "enabled": True}],
    },
    {
        "id": _pid(2),
        "title": "Churn draft",
        "status": "Draft",
        "categories": ["nightly"],
        "creator": "bo@example.com",
        "published_results_updated_at": "3h",
        "schedules": [{"trigger": "SCHEDULED", "every": "1h", "enabled": False}],
    },
    {"id": _pid(3), "title": "Weekly ops", "status": "Production", "categories": ["weekly"]},
    {"id": _pid(4), "title": "Old report", "status": "Production", "archived": True},
    {"id": _pid(5), "title": "Binned", "categories": ["nightly"], "trashed": True},
]


@pytest.fixture
async def client(make_client: MakeClient, clock: FakeClock) -> Client:
    """A workspace of five projects with statuses, categories and owners."""
    return await make_client(scenario_with(projects=PROJECTS), clock=clock)


async def _titles(client: Client, query: Any) -> list[str]:
    response = await client.get("/api/v1/projects", params=query, headers=AUTH)
    assert response.status == 200, await response.text()
    body = await response.json()
    return [project["title"] for project in body["values"]]


async def test_without_filters_archived_and_trashed_projects_are_left_out(client: Client) -> None:
    """As Hex does by default (includeArchived and includeTrashed are false)."""
    assert await _titles(client, {}) == ["Revenue nightly", "Churn draft", "Weekly ops"]
    assert await _titles(client, {"includeArchived": "true", "includeTrashed": "true"}) == [
        project["title"] for project in PROJECTS
    ]


@pytest.mark.parametrize(
    "query",
    [
        [("statuses", "Production"), ("statuses", "Draft")],
        [("statuses", "Production,Draft")],
    ],
    ids=["repeated", "comma"],
)
async def test_an_array_filter_is_read_repeated_or_comma_separated(
    client: Client, query: list[tuple[str, str]]
) -> None:
    """Hex does not document how arrays are encoded: both forms mean the same."""
    assert await _titles(client, query) == ["Revenue nightly", "Churn draft", "Weekly ops"]


async def test_filters_combine_with_and_and_categories_match_any(client: Client) -> None:
    """statuses AND categories; a project with any of the categories matches."""
    both = [("categories", "nightly"), ("statuses", "Production")]
    either = [("categories", "weekly"), ("categories", "finance")]

    assert await _titles(client, both) == ["Revenue nightly"]
    assert await _titles(client, either) == ["Revenue nightly", "Weekly ops"]
    assert await _titles(client, [("statuses", "production")]) == []


async def test_owner_creator_and_collection_filters(client: Client) -> None:
    """Emails compare without case; the creator defaults to the owner."""
    assert await _titles(client, {"ownerEmail": "ana@example.com"}) == ["Revenue nightly"]
    assert await _titles(client, {"creatorEmail": "BO@example.com"}) == ["Churn draft"]
    assert await _titles(client, {"creatorEmail": "ana@example.com"}) == ["Revenue nightly"]
    assert await _titles(client, {"collectionId": COLLECTION}) == ["Revenue nightly"]


async def test_a_bad_flag_is_refused(client: Client) -> None:
    """includeArchived takes true or false only."""
    response = await client.get("/api/v1/projects?includeArchived=yes", headers=AUTH)

    assert response.status == 400


async def test_pages_walk_the_filtered_projects(make_client: MakeClient) -> None:
    """Cursors count the projects the filters keep, not the whole workspace."""
    projects = [
        {"id": _pid(n), "title": f"P{n}", "categories": ["nightly"] if n % 2 else []}
        for n in range(1, 8)
    ]
    client = await make_client(scenario_with(projects=projects))
    seen: list[str] = []
    query: dict[str, str] = {"categories": "nightly", "limit": "2"}
    for _ in range(5):
        body = await (await client.get("/api/v1/projects", params=query, headers=AUTH)).json()
        seen += [project["title"] for project in body["values"]]
        if body["pagination"]["after"] is None:
            break
        query["after"] = body["pagination"]["after"]

    assert seen == ["P1", "P3", "P5", "P7"]


async def test_project_fields_in_hex_shapes(client: Client, clock: FakeClock) -> None:
    """status.name, categories[].name, schedules[] and publishedResultsUpdatedAt."""
    query = {"includeArchived": "true", "includeTrashed": "true"}
    body = await (await client.get("/api/v1/projects", params=query, headers=AUTH)).json()
    first, second, third, archived, trashed = body["values"]
    started = datetime.now(UTC)

    assert first["status"] == {"name": "Production"}
    assert first["categories"] == [
        {"name": "nightly", "description": None},
        {"name": "finance", "description": None},
    ]
    assert first["owner"] == first["creator"] == {"email": "Ana@Example.com"}
    assert first["analytics"]["publishedResultsUpdatedAt"] == "2026-03-01T02:00:00.000Z"
    assert [(s["cadence"], s["enabled"]) for s in first["schedules"]] == [("DAILY", True)]
    assert first["schedules"][0]["daily"] == {"timezone": "+00:00", "minute": 0, "hour": 0}
    assert second["schedules"][0]["cadence"] == "HOURLY"
    assert second["schedules"][0]["enabled"] is False
    updated = datetime.fromisoformat(second["analytics"]["publishedResultsUpdatedAt"])
    assert abs((started - timedelta(hours=3)) - updated) < timedelta(minutes=1)
    assert third["status"] == {"name": "Production"}
    assert third["schedules"] == []
    assert archived["categories"] == []
    assert archived["status"] == {"name": "Production"}
    assert trashed["status"] is None
    assert archived["archivedAt"] is not None
    assert archived["trashedAt"] is None
    assert trashed["trashedAt"] is not None


async def test_a_disabled_schedule_starts_no_runs(make_client: MakeClient) -> None:
    """It is listed in the project's schedules, and Hex runs nothing on it."""
    clock = FakeClock()
    projects = [
        {"id": _pid(1), "title": "On", "schedules": [{"trigger": "SCHEDULED", "every": 10}]},
        {
            "id": _pid(2),
            "title": "Off",
            "schedules": [{"trigger": "SCHEDULED", "every": 10, "enabled": False}],
        },
    ]
    client = await make_client(scenario_with(projects=projects), clock=clock)
    clock.advance(35)

    scheduled = ledger_of(client.app).scheduled

    assert {run.project_id for run in scheduled} == {_pid(1)}
    assert len(scheduled) == 4


async def test_the_ledger_keeps_each_project_query(client: Client) -> None:
    """Repeated parameters are kept with every value."""
    await client.get("/api/v1/projects?statuses=A&statuses=B&limit=5", headers=AUTH)

    queries = ledger_of(client.app).project_queries

    assert queries == [{"statuses": ["A", "B"], "limit": ["5"]}]


async def test_filtered_answers_match_the_schema_of_both_eras(make_client: MakeClient) -> None:
    """Projects with statuses, categories, schedules and results times are still
    ProjectsListApiResource, in the 2025 spec and today's."""
    client = await make_client(scenario_with(projects=PROJECTS))
    query = {"includeArchived": "true", "includeTrashed": "true", "statuses": "Production"}
    body = await (await client.get("/api/v1/projects", params=query, headers=AUTH)).json()

    assert len(body["values"]) == 3
    check("ProjectsListApiResource", body, "2025")
    check("ProjectsListApiResource", body, "2026")


def test_the_filters_the_simulator_reads_are_the_documented_ones() -> None:
    """Every ListProjects filter the simulator honours is a parameter of Hex's spec, arrays
    where the spec says so."""
    parameters = {
        p["name"]: p["schema"] for p in _spec_2025()["paths"]["/v1/projects"]["get"]["parameters"]
    }
    honoured = {
        "statuses": "array",
        "categories": "array",
        "creatorEmail": "string",
        "ownerEmail": "string",
        "collectionId": "string",
        "includeArchived": "boolean",
        "includeTrashed": "boolean",
    }

    assert {name: parameters[name]["type"] for name in honoured} == honoured
    assert (
        parameters["statuses"]["items"] == parameters["categories"]["items"] == {"type": "string"}
    )
