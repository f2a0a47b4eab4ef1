"""Every response body of every endpoint, on both path families, matches Hex's schemas."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.simulator.conftest import (
    AUTH,
    DRAFT,
    MISSING,
    OPEN,
    REVENUE,
    FakeClock,
    MakeClient,
    RecordingSleep,
    scenario_with,
)
from tests.simulator.schema import TIMESTAMP, check

Client = TestClient[Any, Any]


async def _trigger(client: Client, path: str = f"/api/v1/projects/{OPEN}/runs") -> dict[str, Any]:
    response = await client.post(path, json={"inputParams": {"x": 1}}, headers=AUTH)
    assert response.status == 201
    body: dict[str, Any] = await response.json()
    return body


async def test_list_projects_matches_schema(client: Client) -> None:
    """ListProjects returns a ProjectsListApiResource."""
    response = await client.get("/api/v1/projects", headers=AUTH)

    assert response.status == 200
    check("ProjectsListApiResource", await response.json())


async def test_project_timestamps_have_milliseconds_and_z(client: Client) -> None:
    """Project timestamps are ISO 8601 with milliseconds and a Z suffix."""
    body = await (await client.get(f"/api/v1/projects/{REVENUE}", headers=AUTH)).json()

    for key in ("createdAt", "lastEditedAt", "lastPublishedAt"):
        assert TIMESTAMP.match(body[key]), key


async def test_get_project_matches_schema(client: Client) -> None:
    """GetProject returns a ProjectApiResource, unpublished ones too."""
    for project_id in (REVENUE, DRAFT):
        response = await client.get(f"/api/v1/projects/{project_id}", headers=AUTH)

        assert response.status == 200
        check("ProjectApiResource", await response.json())


async def test_unpublished_project_has_no_publish_time(client: Client) -> None:
    """An unpublished project shows lastPublishedAt null, the documented way to tell."""
    body = await (await client.get(f"/api/v1/projects/{DRAFT}", headers=AUTH)).json()

    assert body["lastPublishedAt"] is None


@pytest.mark.parametrize("path", [f"/api/v1/projects/{OPEN}/runs", f"/api/v1/project/{OPEN}/run"])
async def test_run_project_matches_schema(client: Client, path: str) -> None:
    """RunProject answers 201 with a ProjectRunResponsePayload on both path families."""
    body = await _trigger(client, path)

    check("ProjectRunResponsePayload", body)
    assert body["runStatusUrl"].endswith(f"/api/v1/projects/{OPEN}/runs/{body['runId']}")
    assert f"/app/projects/{OPEN}/runs/{body['runId']}" in body["runUrl"]


@pytest.mark.parametrize("family", ["/api/v1/projects/{p}/runs/{r}", "/api/v1/project/{p}/run/{r}"])
async def test_run_status_matches_schema_in_every_state(
    client: Client, clock: FakeClock, family: str
) -> None:
    """GetRunStatus payloads validate while pending, running and finished."""
    run_id = (await _trigger(client))["runId"]
    path = family.format(p=OPEN, r=run_id)
    seen = []
    for step in (0, 10, 100):
        clock.advance(step)
        body = await (await client.get(path, headers=AUTH)).json()
        check("ProjectStatusResponsePayload", body)
        seen.append(body["status"])

    assert seen == ["PENDING", "RUNNING", "COMPLETED"]


async def test_finished_run_times_are_consistent(client: Client, clock: FakeClock) -> None:
    """startTime, endTime and elapsedTime (ms) of a finished run agree."""
    run_id = (await _trigger(client))["runId"]
    clock.advance(100)
    body = await (await client.get(f"/api/v1/projects/{OPEN}/runs/{run_id}", headers=AUTH)).json()

    assert TIMESTAMP.match(body["startTime"])
    assert TIMESTAMP.match(body["endTime"])
    assert body["elapsedTime"] == pytest.approx(50_000)


@pytest.mark.parametrize("path", [f"/api/v1/projects/{OPEN}/runs", f"/api/v1/project/{OPEN}/runs"])
async def test_project_runs_matches_schema(client: Client, path: str) -> None:
    """GetProjectRuns returns a ProjectRunsResponsePayload on both path families."""
    await _trigger(client)
    response = await client.get(path, headers=AUTH)

    assert response.status == 200
    body = await response.json()
    check("ProjectRunsResponsePayload", body)
    assert len(body["runs"]) == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", f"/api/v1/projects/{MISSING}", 404),
        ("GET", "/api/v1/projects/not-a-uuid", 400),
        ("POST", f"/api/v1/projects/{DRAFT}/runs", 422),
        ("GET", f"/api/v1/projects/{OPEN}/runs/{MISSING}", 404),
        ("DELETE", f"/api/v1/project/{OPEN}/run/{MISSING}", 404),
        ("GET", f"/api/v1/projects/{OPEN}/runs?limit=0", 400),
        ("GET", "/api/v1/projects?limit=101", 400),
    ],
)
async def test_errors_use_the_tsoa_envelope(
    client: Client, method: str, path: str, status: int
) -> None:
    """Error bodies are TsoaErrorResponsePayload with a reason and a traceId."""
    response = await client.request(method, path, headers=AUTH)

    assert response.status == status
    body = await response.json()
    check("TsoaErrorResponsePayload", body)
    assert body["traceId"]


async def test_invalid_inputs_match_invalid_param_payload(client: Client) -> None:
    """A 422 for bad inputs is an InvalidParamPayload."""
    response = await client.post(
        f"/api/v1/projects/{REVENUE}/runs",
        json={"inputParams": {"run_date": "yesterday"}},
        headers=AUTH,
    )

    assert response.status == 422
    check("InvalidParamPayload", await response.json())


async def test_cancel_answers_204_without_body(client: Client) -> None:
    """CancelRun answers 204 with an empty body."""
    run_id = (await _trigger(client))["runId"]
    response = await client.delete(f"/api/v1/projects/{OPEN}/runs/{run_id}", headers=AUTH)

    assert response.status == 204
    assert await response.read() == b""


async def test_fault_responses_match_schemas(make_client: MakeClient, clock: FakeClock) -> None:
    """not_found, list_lag, late_create, seeded runs and epoch-reset 429s keep Hex's shapes."""
    faults = [
        {"operation": "GetRunStatus", "kind": "not_found", "delay": 5, "every_nth": 1},
        {"operation": "GetProjectRuns", "kind": "list_lag", "delay": 5, "every_nth": 1},
        {"operation": "RunProject", "kind": "late_create", "delay": 1, "every_nth": 1},
    ]
    client = await make_client(
        scenario_with(
            faults=faults,
            preexisting_runs=[{"project": OPEN, "status": "RUNNING", "age": 60}],
            behaviour={"rate_limit_reset": "epoch_ms", "retry_after": False},
            limits={"requests": {"count": 6, "per": 60}},
        ),
        clock=clock,
        sleep=RecordingSleep(),
    )
    runs = f"/api/v1/projects/{OPEN}/runs"
    created = await _trigger(client)
    check("ProjectRunResponsePayload", created)
    young = await client.get(f"{runs}/{created['runId']}", headers=AUTH)
    assert young.status == 404
    check("TsoaErrorResponsePayload", await young.json())
    listed = await (await client.get(runs, headers=AUTH)).json()
    check("ProjectRunsResponsePayload", listed)
    assert [run["status"] for run in listed["runs"]] == ["RUNNING"]  # only the seeded run
    clock.advance(5)
    status = await client.get(f"{runs}/{created['runId']}", headers=AUTH)
    check("ProjectStatusResponsePayload", await status.json())
    for _ in range(2):
        await client.get("/api/v1/projects", headers=AUTH)
    throttled = await client.get("/api/v1/projects", headers=AUTH)
    assert throttled.status == 429
    check("TsoaErrorResponsePayload", await throttled.json())
