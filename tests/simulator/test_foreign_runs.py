"""Runs another client created: a second token, and runs seeded before the batch starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hexbatch.simulator import ScenarioError, ledger_of, load_scenario
from tests.simulator.conftest import AUTH, BASE, OPEN, TOKEN, FakeClock, MakeClient, scenario_with
from tests.simulator.schema import check

Client = TestClient[Any, Any]
RUNS = f"/api/v1/projects/{OPEN}/runs"
OTHER = "hxtp_other_client"
OTHER_AUTH = {"Authorization": f"Bearer {OTHER}"}
TOKENS = [*BASE["tokens"], {"value": OTHER, "name": "other", "user": "runner@example.com"}]


def _seeded(*entries: dict[str, Any]) -> Any:
    return scenario_with(tokens=TOKENS, preexisting_runs=list(entries))


async def _listed(client: Client) -> list[dict[str, Any]]:
    response = await client.get(RUNS, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    check("ProjectRunsResponsePayload", body)
    runs: list[dict[str, Any]] = body["runs"]
    return runs


async def test_a_second_token_creates_runs_under_its_own_name(make_client: MakeClient) -> None:
    """Another client's token triggers runs that the ledger tells apart from ours."""
    client = await make_client(scenario_with(tokens=TOKENS))
    response = await client.post(RUNS, json={"inputParams": {"other": 1}}, headers=OTHER_AUTH)

    assert response.status == 201
    assert [run.token for run in ledger_of(client.app).runs] == [OTHER]


async def test_a_seeded_pending_run_is_old_undated_and_foreign(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """A PENDING seeded run is listed with no start time and belongs to the named token."""
    client = await make_client(
        _seeded(
            {"project": OPEN, "params": {"other": 1}, "age": "10m", "token": "other"},
        ),
        clock=clock,
    )
    ledger = ledger_of(client.app)
    [seeded] = ledger.runs
    runs = await _listed(client)

    assert [run["runId"] for run in runs] == [seeded.run_id]
    assert runs[0]["status"] == "PENDING"
    assert runs[0]["startTime"] is None
    assert seeded.token == OTHER
    assert seeded.created_at == clock.now - 600
    assert ledger.snapshot()["runs"][0]["seeded"] is True


async def test_a_seeded_running_run_has_started(make_client: MakeClient, clock: FakeClock) -> None:
    """A RUNNING seeded run reports a start time within its age, then finishes normally."""
    client = await make_client(
        _seeded({"project": OPEN, "status": "RUNNING", "age": 20}), clock=clock
    )
    [seeded] = ledger_of(client.app).runs
    body = await (await client.get(f"{RUNS}/{seeded.run_id}", headers=AUTH)).json()

    check("ProjectStatusResponsePayload", body)
    assert body["status"] == "RUNNING"
    assert body["startTime"] is not None
    assert seeded.start_at == clock.now - 10  # half-way through its age
    assert seeded.token == TOKEN  # no token named: the scenario's first token
    clock.advance(1000)
    assert (await _listed(client))[0]["status"] == "COMPLETED"


async def test_our_runs_list_newer_than_a_seeded_one(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """The run list stays newest first with a seeded run older than ours."""
    client = await make_client(_seeded({"project": OPEN, "age": "1h"}), clock=clock)
    ours = await (await client.post(RUNS, json={}, headers=AUTH)).json()
    [seeded] = [run for run in ledger_of(client.app).runs if run.seeded]

    assert [run["runId"] for run in await _listed(client)] == [ours["runId"], seeded.run_id]


async def test_cancelling_a_seeded_run_kills_it(make_client: MakeClient, clock: FakeClock) -> None:
    """A seeded run can be cancelled like any other, and the ledger shows it KILLED."""
    client = await make_client(_seeded({"project": OPEN, "token": "other"}), clock=clock)
    [seeded] = ledger_of(client.app).runs
    response = await client.delete(f"{RUNS}/{seeded.run_id}", headers=AUTH)

    assert response.status == 204
    assert ledger_of(client.app).snapshot()["runs"][0]["status"] == "KILLED"


async def test_seeding_a_run_over_http(make_client: MakeClient, clock: FakeClock) -> None:
    """POST /_sim/runs adds a foreign run while the simulator serves."""
    client = await make_client(scenario_with(tokens=TOKENS), clock=clock)
    entry = {"project": OPEN, "params": {"n": 9}, "age": 30, "token": "other"}
    response = await client.post("/_sim/runs", json=entry)

    assert response.status == 201
    run_id = (await response.json())["runId"]
    [seeded] = ledger_of(client.app).runs
    assert (seeded.run_id, seeded.params, seeded.token, seeded.seeded) == (
        run_id,
        {"n": 9},
        OTHER,
        True,
    )
    assert [run["runId"] for run in await _listed(client)] == [run_id]


@pytest.mark.parametrize(
    ("entry", "status"),
    [
        ({"project": OPEN, "status": "COMPLETED"}, 400),
        ({"project": OPEN, "token": "nobody"}, 400),
        ({"project": "00000000-0000-4000-8000-000000000000"}, 404),
    ],
)
async def test_seeding_refuses_bad_entries(
    make_client: MakeClient, entry: dict[str, Any], status: int
) -> None:
    """A seed request for a finished status, an unknown token or project creates nothing."""
    client = await make_client()
    response = await client.post("/_sim/runs", json=entry)

    assert response.status == status
    assert ledger_of(client.app).runs == []


def test_a_seeded_run_must_name_a_known_project(tmp_path: Path) -> None:
    """A scenario seeding a run of a project it does not declare is refused."""
    path = tmp_path / "seed.yaml"
    path.write_text(
        "tokens:\n  - value: t\npreexisting_runs:\n"
        "  - {project: 00000000-0000-4000-8000-000000000000}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match=r"preexisting_runs\.0\.project"):
        load_scenario(path)
