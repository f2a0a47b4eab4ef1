"""The in-process server: loopback binding, handle contents, ledger endpoint."""

from __future__ import annotations

import aiohttp

from hexbatch.simulator import Scenario, run_simulator
from tests.simulator.conftest import OPEN, FakeClock, scenario_with


async def test_binds_loopback_on_a_free_port() -> None:
    """run_simulator listens on 127.0.0.1 and reports an /api/v1 base URL."""
    async with run_simulator(Scenario.default()) as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")
        assert sim.base_url.endswith("/api/v1")
        assert not sim.base_url.endswith(":0/api/v1")


async def test_handle_token_can_run_projects() -> None:
    """The handle's token triggers a run, which shows up in the handle's ledger."""
    async with (
        run_simulator(scenario_with()) as sim,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.token}"}) as http,
    ):
        async with http.post(f"{sim.base_url}/projects/{OPEN}/runs", json={}) as response:
            assert response.status == 201
        assert len(sim.ledger.runs_for(OPEN, {})) == 1


async def test_ledger_endpoint_needs_no_token() -> None:
    """GET /_sim/ledger answers JSON with runs and request counts, without a token."""
    async with run_simulator(scenario_with()) as sim, aiohttp.ClientSession() as http:
        async with http.get(f"{sim.base_url}/projects") as response:
            assert response.status == 401
        async with http.get(f"{sim.root_url}/_sim/ledger") as response:
            body = await response.json()

    assert response.status == 200
    assert body["requests"] == {"ListProjects": 1}
    assert body["runs"] == []


async def test_run_url_page_shows_status() -> None:
    """The runUrl of a run opens a page naming the project and the run's status."""
    async with (
        run_simulator(scenario_with()) as sim,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.token}"}) as http,
    ):
        async with http.post(f"{sim.base_url}/projects/{OPEN}/runs", json={}) as response:
            run_url = (await response.json())["runUrl"]
        async with http.get(run_url) as page:
            text = await page.text()

    assert "Open inputs" in text
    assert "PENDING" in text


async def test_runs_for_separates_params() -> None:
    """ledger.runs_for counts runs per exact params, the duplicate-trigger check."""
    async with (
        run_simulator(scenario_with()) as sim,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.token}"}) as http,
    ):
        for params in ({"a": 1}, {"a": 1}, {"a": 2}):
            body = {"inputParams": params}
            async with http.post(f"{sim.base_url}/projects/{OPEN}/runs", json=body):
                pass

    assert len(sim.ledger.runs_for(OPEN, {"a": 1})) == 2
    assert len(sim.ledger.runs_for(OPEN, {"a": 2})) == 1
    assert len(sim.ledger.runs_for(OPEN)) == 3


async def test_injected_clock_drives_the_server() -> None:
    """A clock passed to run_simulator decides run status."""
    clock = FakeClock()
    async with (
        run_simulator(scenario_with(), clock=clock) as sim,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.token}"}) as http,
    ):
        async with http.post(f"{sim.base_url}/projects/{OPEN}/runs", json={}) as response:
            status_url = (await response.json())["runStatusUrl"]
        clock.advance(1000)
        async with http.get(status_url) as response:
            body = await response.json()

    assert body["status"] == "COMPLETED"
