"""Request handling seen from a client: auth, scopes, validation, dry runs, behaviour choices."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hexbatch.simulator import ledger_of
from tests.simulator.conftest import (
    AUTH,
    DRAFT,
    MISSING,
    OPEN,
    READ_AUTH,
    REVENUE,
    FakeClock,
    MakeClient,
    scenario_with,
)
from tests.simulator.schema import check

Client = TestClient[Any, Any]
RUNS = f"/api/v1/projects/{REVENUE}/runs"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic hxtp_test_run"}],
)
async def test_unknown_or_missing_token_gets_401(client: Client, headers: dict[str, str]) -> None:
    """Requests without a known Bearer token are refused with 401."""
    response = await client.get("/api/v1/projects", headers=headers)

    assert response.status == 401
    check("TsoaErrorResponsePayload", await response.json())


async def test_read_only_token_may_read(client: Client) -> None:
    """A read-only token can list projects."""
    response = await client.get("/api/v1/projects", headers=READ_AUTH)

    assert response.status == 200


async def test_read_only_token_cannot_run(client: Client) -> None:
    """A read-only token gets 403 on RunProject and no run is created."""
    response = await client.post(RUNS, json={}, headers=READ_AUTH)

    assert response.status == 403
    assert ledger_of(client.app).runs == []


async def test_read_only_token_cannot_cancel(client: Client) -> None:
    """A read-only token gets 403 on CancelRun."""
    created = await (await client.post(RUNS, json={}, headers=AUTH)).json()
    response = await client.delete(f"{RUNS}/{created['runId']}", headers=READ_AUTH)

    assert response.status == 403


async def test_unknown_project_gets_404(client: Client) -> None:
    """Triggering a project that does not exist answers 404."""
    response = await client.post(f"/api/v1/projects/{MISSING}/runs", json={}, headers=AUTH)

    assert response.status == 404


async def test_run_of_another_project_gets_404(client: Client) -> None:
    """A run id looked up under the wrong project is not found."""
    created = await (await client.post(RUNS, json={}, headers=AUTH)).json()
    response = await client.get(f"/api/v1/projects/{OPEN}/runs/{created['runId']}", headers=AUTH)

    assert response.status == 404


async def test_unpublished_project_cannot_run(client: Client) -> None:
    """RunProject on an unpublished project answers 422 and creates nothing."""
    response = await client.post(f"/api/v1/projects/{DRAFT}/runs", json={}, headers=AUTH)

    assert response.status == 422
    assert "published" in (await response.json())["reason"]
    assert ledger_of(client.app).runs == []


async def test_unpublished_project_runs_cannot_be_listed(client: Client) -> None:
    """GetProjectRuns on an unpublished project answers 422."""
    response = await client.get(f"/api/v1/projects/{DRAFT}/runs", headers=AUTH)

    assert response.status == 422


async def test_view_id_with_input_params_gets_400(client: Client) -> None:
    """viewId together with inputParams is refused with 400."""
    body = {"viewId": "v1", "inputParams": {"run_date": "2025-01-01"}}
    response = await client.post(RUNS, json=body, headers=AUTH)

    assert response.status == 400
    assert "viewId" in (await response.json())["reason"]


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1, 2]", b'{"inputParams": [1]}', b'{"dryRun": "maybe"}', b'{"x": 1}']
)
async def test_malformed_body_gets_400(client: Client, raw: bytes) -> None:
    """Bodies that are not a valid RunProject request are refused with 400."""
    response = await client.post(
        RUNS, data=raw, headers={**AUTH, "Content-Type": "application/json"}
    )

    assert response.status == 400


async def test_empty_body_runs_with_defaults(client: Client) -> None:
    """A POST without a body runs the project with its default inputs."""
    response = await client.post(RUNS, headers=AUTH)

    assert response.status == 201
    assert ledger_of(client.app).runs[0].params == {}


async def test_string_booleans_are_accepted(client: Client) -> None:
    """The flags accept "true"/"false" strings, as Hex's own docs send them."""
    body = {"useCachedSqlResults": "false", "updatePublishedResults": False}
    response = await client.post(RUNS, json=body, headers=AUTH)

    assert response.status == 201


async def test_invalid_input_value_gets_422_naming_it(client: Client) -> None:
    """A value that does not fit its declared input is listed under invalid."""
    body = {"inputParams": {"run_date": "2025-13-45", "region": "us"}}
    response = await client.post(RUNS, json=body, headers=AUTH)

    assert response.status == 422
    payload = await response.json()
    assert [item["paramName"] for item in payload["invalid"]] == ["run_date"]
    assert payload["invalid"][0]["paramValue"] == '"2025-13-45"'


async def test_value_outside_choices_gets_422(client: Client) -> None:
    """A value not among the input's choices is invalid."""
    response = await client.post(RUNS, json={"inputParams": {"region": "mars"}}, headers=AUTH)

    assert response.status == 422


async def test_unknown_inputs_are_ignored_by_default(client: Client) -> None:
    """Input names the project lacks are ignored, as Hex documents."""
    response = await client.post(RUNS, json={"inputParams": {"colour": "red"}}, headers=AUTH)

    assert response.status == 201


async def test_unknown_inputs_can_be_rejected(make_client: MakeClient) -> None:
    """With unknown_inputs: reject, unknown names come back under notFound."""
    client = await make_client(scenario_with(behaviour={"unknown_inputs": "reject"}))
    response = await client.post(RUNS, json={"inputParams": {"colour": "red"}}, headers=AUTH)

    assert response.status == 422
    payload = await response.json()
    check("InvalidParamPayload", payload)
    assert payload["notFound"] == ["colour"]


async def test_undeclared_inputs_accept_anything(client: Client) -> None:
    """A project that declares no inputs accepts any inputParams."""
    body = {"inputParams": {"anything": [1, {"b": None}]}}
    response = await client.post(f"/api/v1/projects/{OPEN}/runs", json=body, headers=AUTH)

    assert response.status == 201


async def test_dry_run_creates_no_run(client: Client) -> None:
    """dryRun answers a 201-shaped payload and creates no run."""
    body = {"dryRun": True, "inputParams": {"run_date": "2025-01-01"}}
    response = await client.post(RUNS, json=body, headers=AUTH)

    assert response.status == 201
    payload = await response.json()
    check("ProjectRunResponsePayload", payload)
    assert ledger_of(client.app).runs == []
    status = await client.get(f"{RUNS}/{payload['runId']}", headers=AUTH)
    assert status.status == 404


async def test_dry_run_still_validates_inputs(client: Client) -> None:
    """dryRun reports invalid inputs like a real trigger would."""
    body = {"dryRun": True, "inputParams": {"run_date": 20250101}}
    response = await client.post(RUNS, json=body, headers=AUTH)

    assert response.status == 422


async def test_project_version_is_a_string_by_default(client: Client) -> None:
    """By default (2026 shapes), RunProject's 201, a dry run and GetRunStatus send text."""
    created = await (await client.post(RUNS, json={}, headers=AUTH)).json()
    dry = await (await client.post(RUNS, json={"dryRun": True}, headers=AUTH)).json()
    status = await (await client.get(f"{RUNS}/{created['runId']}", headers=AUTH)).json()

    assert (created["projectVersion"], dry["projectVersion"]) == ("7", "7")
    assert status["projectVersion"] == "7"


async def test_project_version_can_be_an_int(make_client: MakeClient, clock: FakeClock) -> None:
    """With project_version_type: int (the 2025 shape), every payload sends an integer."""
    client = await make_client(scenario_with(behaviour={"project_version_type": "int"}), clock)
    created = await (await client.post(RUNS, json={}, headers=AUTH)).json()
    dry = await (await client.post(RUNS, json={"dryRun": True}, headers=AUTH)).json()
    status = await (await client.get(f"{RUNS}/{created['runId']}", headers=AUTH)).json()
    listed = await (await client.get(RUNS, headers=AUTH)).json()

    assert (created["projectVersion"], dry["projectVersion"]) == (7, 7)
    assert status["projectVersion"] == 7
    assert [run["projectVersion"] for run in listed["runs"]] == [7]


async def test_new_error_envelope(make_client: MakeClient) -> None:
    """With error_envelope: new, RunProject errors carry message, code and issues."""
    client = await make_client(scenario_with(behaviour={"error_envelope": "new"}))
    response = await client.post(f"/api/v1/projects/{MISSING}/runs", json={}, headers=AUTH)

    assert response.status == 404
    body = await response.json()
    assert body["code"] == "NOT_FOUND"
    assert body["issues"][0]["message"] == body["message"]


async def test_new_envelope_spares_cancel(make_client: MakeClient) -> None:
    """CancelRun keeps tsoa's envelope even when the newer one is chosen, as Hex does."""
    client = await make_client(scenario_with(behaviour={"error_envelope": "new"}))
    response = await client.delete(f"{RUNS}/{MISSING}", headers=AUTH)

    assert "reason" in await response.json()
