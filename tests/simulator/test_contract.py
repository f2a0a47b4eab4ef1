"""Every response body of every endpoint, on both path families, matches Hex's schemas.

Each test runs twice: with the behaviour pinned to the May 2025 choices (integer
projectVersion, API-only lists, no expanded stats) against the 2025 spec as
published, and with the defaults (today's Hex) against the 2026 schema derived in
tests/simulator/schema.py.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.simulator.conftest import (
    AUTH,
    BASE,
    DRAFT,
    MISSING,
    OPEN,
    REVENUE,
    FakeClock,
    MakeClient,
    RecordingSleep,
    scenario_with,
)
from tests.simulator.schema import TIMESTAMP, Era, check, spec_2026, validator

Client = TestClient[Any, Any]

# The behaviour that reproduces the host the 2025 spec describes; today's is the default.
BEHAVIOUR: dict[Era, dict[str, Any]] = {
    "2025": {"project_version_type": "int", "list_runs": "api_only"},
    "2026": {},
}
# Today's reads ask for timelines; the 2025 host knew no such header.
READ: dict[Era, dict[str, str]] = {
    "2025": AUTH,
    "2026": {**AUTH, "enable-expanded-stats": "true"},
}

# The GetRunStatus sample of the 2026 reference, its elided ids and URL filled in.
SAMPLE_2026 = """
{"projectId": "5a8591dd-4039-49df-9202-96385ba3eff8", "projectVersion": "12",
 "runId": "0d6e3b8a-7c21-4f5e-9a0b-3c4d5e6f7a8b",
 "runUrl": "https://app.hex.tech/app/projects/5a8591dd-4039-49df-9202-96385ba3eff8/runs/0d6e",
 "status": "COMPLETED", "runTrigger": "API", "startTime": "2026-03-01T02:00:04.120Z",
 "endTime": "2026-03-01T02:03:10.002Z", "elapsedTime": 185882,
 "traceId": "1f2e3d4c-5b6a-4789-8abc-def012345678",
 "stateEvents": [{"type": "STATUS", "value": "PENDING", "timestamp": "2026-03-01T02:00:00.310Z"},
                 {"type": "STATUS", "value": "RUNNING", "timestamp": "2026-03-01T02:00:04.120Z"},
                 {"type": "STATUS", "value": "COMPLETED", "timestamp": "2026-03-01T02:03:10.002Z"}]}
"""


@pytest.fixture(params=["2025", "2026"])
def era(request: pytest.FixtureRequest) -> Era:
    """Which Hex the simulator plays and which schemas its answers must match."""
    value: Era = request.param
    return value


def _scenario(era: Era, **changes: Any) -> Any:
    """The test scenario as ``era``'s host, OPEN with past and arriving scheduled runs."""
    projects = copy.deepcopy(BASE["projects"])
    projects[1]["scheduled_runs"] = 2
    projects[1]["schedules"] = [{"trigger": "APP_REFRESH", "every": 30, "start": 1}]
    behaviour = {**BEHAVIOUR[era], **changes.pop("behaviour", {})}
    return scenario_with(projects=projects, behaviour=behaviour, **changes)


@pytest.fixture
async def client(make_client: MakeClient, clock: FakeClock, era: Era) -> Client:
    """A client of the era's host on the fake clock."""
    return await make_client(_scenario(era), clock=clock)


async def _trigger(client: Client, path: str = f"/api/v1/projects/{OPEN}/runs") -> dict[str, Any]:
    response = await client.post(path, json={"inputParams": {"x": 1}}, headers=AUTH)
    assert response.status == 201
    body: dict[str, Any] = await response.json()
    return body


async def test_list_projects_matches_schema(client: Client, era: Era) -> None:
    """ListProjects returns a ProjectsListApiResource."""
    response = await client.get("/api/v1/projects", headers=AUTH)

    assert response.status == 200
    check("ProjectsListApiResource", await response.json(), era)


async def test_project_timestamps_have_milliseconds_and_z(client: Client) -> None:
    """Project timestamps are ISO 8601 with milliseconds and a Z suffix."""
    body = await (await client.get(f"/api/v1/projects/{REVENUE}", headers=AUTH)).json()

    for key in ("createdAt", "lastEditedAt", "lastPublishedAt"):
        assert TIMESTAMP.match(body[key]), key


async def test_get_project_matches_schema(client: Client, era: Era) -> None:
    """GetProject returns a ProjectApiResource, unpublished and re-published ones too."""
    assert (await client.post(f"/_sim/projects/{OPEN}/publish")).status == 200
    for project_id in (REVENUE, DRAFT, OPEN):
        response = await client.get(f"/api/v1/projects/{project_id}", headers=AUTH)

        assert response.status == 200
        check("ProjectApiResource", await response.json(), era)


async def test_unpublished_project_has_no_publish_time(client: Client) -> None:
    """An unpublished project shows lastPublishedAt null, the documented way to tell."""
    body = await (await client.get(f"/api/v1/projects/{DRAFT}", headers=AUTH)).json()

    assert body["lastPublishedAt"] is None


@pytest.mark.parametrize("path", [f"/api/v1/projects/{OPEN}/runs", f"/api/v1/project/{OPEN}/run"])
async def test_run_project_matches_schema(client: Client, era: Era, path: str) -> None:
    """RunProject answers 201 with a ProjectRunResponsePayload on both path families,
    a dry run too."""
    body = await _trigger(client, path)
    dry = await client.post(path, json={"dryRun": True}, headers=AUTH)

    check("ProjectRunResponsePayload", body, era)
    check("ProjectRunResponsePayload", await dry.json(), era)
    assert body["runStatusUrl"].endswith(f"/api/v1/projects/{OPEN}/runs/{body['runId']}")
    assert f"/app/projects/{OPEN}/runs/{body['runId']}" in body["runUrl"]


@pytest.mark.parametrize("family", ["/api/v1/projects/{p}/runs/{r}", "/api/v1/project/{p}/run/{r}"])
async def test_run_status_matches_schema_in_every_state(
    client: Client, clock: FakeClock, era: Era, family: str
) -> None:
    """GetRunStatus payloads validate while pending, running and finished."""
    run_id = (await _trigger(client))["runId"]
    path = family.format(p=OPEN, r=run_id)
    seen = []
    for step in (0, 10, 100):
        clock.advance(step)
        body = await (await client.get(path, headers=READ[era])).json()
        check("ProjectStatusResponsePayload", body, era)
        seen.append(body["status"])

    assert seen == ["PENDING", "RUNNING", "COMPLETED"]
    assert ("stateEvents" in body) is (era == "2026")


async def test_finished_run_times_are_consistent(client: Client, clock: FakeClock) -> None:
    """startTime, endTime and elapsedTime (ms) of a finished run agree."""
    run_id = (await _trigger(client))["runId"]
    clock.advance(100)
    body = await (await client.get(f"/api/v1/projects/{OPEN}/runs/{run_id}", headers=AUTH)).json()

    assert TIMESTAMP.match(body["startTime"])
    assert TIMESTAMP.match(body["endTime"])
    assert body["elapsedTime"] == pytest.approx(50_000)


@pytest.mark.parametrize("path", [f"/api/v1/projects/{OPEN}/runs", f"/api/v1/project/{OPEN}/runs"])
async def test_project_runs_matches_schema(
    client: Client, clock: FakeClock, era: Era, path: str
) -> None:
    """GetProjectRuns returns a ProjectRunsResponsePayload on both path families; today's
    host lists Hex's own runs too, and their statuses validate as well."""
    await _trigger(client)
    clock.advance(2)
    response = await client.get(path, headers=READ[era])

    assert response.status == 200
    body = await response.json()
    check("ProjectRunsResponsePayload", body, era)
    triggers = [run.get("runTrigger") for run in body["runs"]]
    if era == "2025":
        assert triggers == [None]
    else:
        assert triggers == ["APP_REFRESH", "API", "SCHEDULED", "SCHEDULED"]
    for run in body["runs"]:
        status = await client.get(f"/api/v1/projects/{OPEN}/runs/{run['runId']}", headers=AUTH)
        check("ProjectStatusResponsePayload", await status.json(), era)


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
    client: Client, era: Era, method: str, path: str, status: int
) -> None:
    """Error bodies are TsoaErrorResponsePayload with a reason and a traceId."""
    response = await client.request(method, path, headers=AUTH)

    assert response.status == status
    body = await response.json()
    check("TsoaErrorResponsePayload", body, era)
    assert body["traceId"]


async def test_invalid_inputs_match_invalid_param_payload(client: Client, era: Era) -> None:
    """A 422 for bad inputs is an InvalidParamPayload."""
    response = await client.post(
        f"/api/v1/projects/{REVENUE}/runs",
        json={"inputParams": {"run_date": "yesterday"}},
        headers=AUTH,
    )

    assert response.status == 422
    check("InvalidParamPayload", await response.json(), era)


async def test_cancel_answers_204_without_body(client: Client) -> None:
    """CancelRun answers 204 with an empty body."""
    run_id = (await _trigger(client))["runId"]
    response = await client.delete(f"/api/v1/projects/{OPEN}/runs/{run_id}", headers=AUTH)

    assert response.status == 204
    assert await response.read() == b""


async def test_fault_responses_match_schemas(
    make_client: MakeClient, clock: FakeClock, era: Era
) -> None:
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
            behaviour={**BEHAVIOUR[era], "rate_limit_reset": "epoch_ms", "retry_after": False},
            limits={"requests": {"count": 6, "per": 60}},
        ),
        clock=clock,
        sleep=RecordingSleep(),
    )
    runs = f"/api/v1/projects/{OPEN}/runs"
    created = await _trigger(client)
    check("ProjectRunResponsePayload", created, era)
    young = await client.get(f"{runs}/{created['runId']}", headers=READ[era])
    assert young.status == 404
    check("TsoaErrorResponsePayload", await young.json(), era)
    listed = await (await client.get(runs, headers=AUTH)).json()
    check("ProjectRunsResponsePayload", listed, era)
    assert [run["status"] for run in listed["runs"]] == ["RUNNING"]  # only the seeded run
    clock.advance(5)
    status = await client.get(f"{runs}/{created['runId']}", headers=READ[era])
    check("ProjectStatusResponsePayload", await status.json(), era)
    for _ in range(2):
        await client.get("/api/v1/projects", headers=AUTH)
    throttled = await client.get("/api/v1/projects", headers=AUTH)
    assert throttled.status == 429
    check("TsoaErrorResponsePayload", await throttled.json(), era)


# --- the 2026 schema itself -----------------------------------------------------------


def test_reference_sample_matches_the_2026_schema_only() -> None:
    """The reference's GetRunStatus sample validates against the 2026 schema; the 2025
    spec refuses it (text projectVersion, runTrigger, stateEvents)."""
    sample = json.loads(SAMPLE_2026)

    check("ProjectStatusResponsePayload", sample, "2026")
    refused = validator("ProjectStatusResponsePayload", "2025").iter_errors(sample)
    assert {error.validator for error in refused} == {"type", "additionalProperties"}


@pytest.mark.parametrize(
    "change",
    [
        {"runTrigger": "MANUAL"},
        {"projectVersion": 1.5},
        {"stateEvents": [{"type": "STATUS", "value": "PENDING"}]},
        {"flagConfigOverride": "on"},
    ],
)
def test_the_2026_schema_refuses_wrong_shapes(change: dict[str, Any]) -> None:
    """The derived schema is strict where the reference is specific: it can fail."""
    sample = {**json.loads(SAMPLE_2026), **change}

    assert list(validator("ProjectStatusResponsePayload", "2026").iter_errors(sample))


def test_the_2026_schema_needs_run_trigger() -> None:
    """Today every run payload carries runTrigger; a status without it is refused."""
    sample = json.loads(SAMPLE_2026)
    del sample["runTrigger"]

    assert list(validator("ProjectStatusResponsePayload", "2026").iter_errors(sample))


async def test_simulator_accepts_exactly_the_documented_filters(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """Every runTriggerFilter value of the 2026 schema is answered 200, and nothing else."""
    spec = spec_2026()
    enum = spec["components"]["schemas"]["RunTriggerFilter"]["enum"]
    [parameter] = [
        p
        for p in spec["paths"]["/v1/projects/{projectId}/runs"]["get"]["parameters"]
        if p["name"] == "runTriggerFilter"
    ]
    client = await make_client(_scenario("2026"), clock=clock)
    runs = f"/api/v1/projects/{OPEN}/runs"
    answers = {
        value: (await client.get(runs, params={"runTriggerFilter": value}, headers=AUTH)).status
        for value in [*enum, "api", "MANUAL", ""]
    }

    assert parameter["schema"] == {"$ref": "#/components/schemas/RunTriggerFilter"}
    assert answers == {**dict.fromkeys(enum, 200), "api": 400, "MANUAL": 400, "": 400}


async def test_timeline_variants_match_the_2026_schema(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """List items with timelines and the extra unknown-type events still validate."""
    behaviour = {"list_state_events": True, "extra_state_events": True}
    client = await make_client(_scenario("2026", behaviour=behaviour), clock=clock)
    await _trigger(client)
    clock.advance(100)
    body = await (await client.get(f"/api/v1/projects/{OPEN}/runs", headers=AUTH)).json()

    check("ProjectRunsResponsePayload", body, "2026")
    assert {event["type"] for run in body["runs"] for event in run["stateEvents"]} == {
        "STATUS",
        "KERNEL",
    }
