"""Kernel and rate limits observed over HTTP: 503 with no run, 429 with headers."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hexbatch.simulator import Scenario, ledger_of
from hexbatch.simulator.scenario import Window
from tests.simulator.conftest import (
    AUTH,
    BASE,
    OPEN,
    READ_AUTH,
    FakeClock,
    MakeClient,
    scenario_with,
)
from tests.simulator.schema import check

Client = TestClient[Any, Any]
RUNS = f"/api/v1/projects/{OPEN}/runs"
GENEROUS = {"count": 1000, "per": 60}


async def _limited(make_client: MakeClient, clock: FakeClock, **limits: Any) -> Client:
    return await make_client(scenario_with(limits=limits), clock)


async def test_kernel_limit_refuses_with_503_and_no_run(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """Past kernel_limit live runs, RunProject answers 503 and creates nothing."""
    client = await _limited(
        make_client, clock, kernel_limit=2, requests=GENEROUS, run_project=GENEROUS
    )
    statuses = [(await client.post(RUNS, json={}, headers=AUTH)).status for _ in range(3)]
    ledger = ledger_of(client.app)

    assert statuses == [201, 201, 503]
    assert len(ledger.runs) == 2
    assert ledger.unavailable == 1


async def test_kernel_frees_when_a_run_ends(make_client: MakeClient, clock: FakeClock) -> None:
    """Once a live run finishes, RunProject succeeds again."""
    client = await _limited(
        make_client, clock, kernel_limit=1, requests=GENEROUS, run_project=GENEROUS
    )
    await client.post(RUNS, json={}, headers=AUTH)
    clock.advance(1000)
    response = await client.post(RUNS, json={}, headers=AUTH)

    assert response.status == 201


async def test_kernel_frees_when_a_run_is_cancelled(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """Cancelling a live run frees its kernel at once."""
    client = await _limited(
        make_client, clock, kernel_limit=1, requests=GENEROUS, run_project=GENEROUS
    )
    created = await (await client.post(RUNS, json={}, headers=AUTH)).json()
    await client.delete(f"{RUNS}/{created['runId']}", headers=AUTH)
    response = await client.post(RUNS, json={}, headers=AUTH)

    assert response.status == 201


async def test_peak_live_runs_are_recorded(make_client: MakeClient, clock: FakeClock) -> None:
    """The ledger keeps the highest number of live runs, overall and per token."""
    client = await _limited(make_client, clock, requests=GENEROUS, run_project=GENEROUS)
    for _ in range(3):
        await client.post(RUNS, json={}, headers=AUTH)
    clock.advance(1000)
    await client.post(RUNS, json={}, headers=AUTH)
    ledger = ledger_of(client.app)

    assert ledger.peak_live == 3
    assert ledger.peak_live_by_token == {"hxtp_test_run": 3}


async def test_request_limit_answers_429_with_headers(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """Past the request window, requests get 429, Retry-After and X-RateLimit-* headers."""
    client = await _limited(make_client, clock, requests={"count": 2, "per": 60})
    await client.get("/api/v1/projects", headers=AUTH)
    clock.advance(20.5)
    await client.get("/api/v1/projects", headers=AUTH)
    response = await client.get("/api/v1/projects", headers=AUTH)

    assert response.status == 429
    body = await response.json()
    check("TsoaErrorResponsePayload", body)
    assert body["reason"] == "Rate limit exceeded"
    assert response.headers["Retry-After"] == "40"
    assert response.headers["X-RateLimit-Limit"] == "2"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Reset"] == "40"
    assert ledger_of(client.app).throttled == {"ListProjects": 1}


async def test_admitted_requests_carry_remaining_budget(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """Successful answers tell how many requests remain in the window."""
    client = await _limited(make_client, clock, requests={"count": 5, "per": 60})
    await client.get("/api/v1/projects", headers=AUTH)
    response = await client.get("/api/v1/projects", headers=AUTH)

    assert response.headers["X-RateLimit-Remaining"] == "3"
    assert "Retry-After" not in response.headers


async def test_window_reopens_after_its_length(make_client: MakeClient, clock: FakeClock) -> None:
    """A fixed window resets its length after its first request."""
    client = await _limited(make_client, clock, requests={"count": 1, "per": "1m"})
    await client.get("/api/v1/projects", headers=AUTH)
    clock.advance(59.9)
    refused = await client.get("/api/v1/projects", headers=AUTH)
    clock.advance(0.1)
    admitted = await client.get("/api/v1/projects", headers=AUTH)

    assert (refused.status, admitted.status) == (429, 200)


async def test_windows_are_per_user(make_client: MakeClient, clock: FakeClock) -> None:
    """One user's exhausted window does not throttle another user."""
    client = await _limited(make_client, clock, requests={"count": 1, "per": 60})
    await client.get("/api/v1/projects", headers=AUTH)
    response = await client.get("/api/v1/projects", headers=READ_AUTH)

    assert response.status == 200


async def test_run_project_has_its_own_windows(make_client: MakeClient, clock: FakeClock) -> None:
    """RunProject is throttled by its own window while reads still pass."""
    client = await _limited(
        make_client,
        clock,
        requests=GENEROUS,
        run_project=[{"count": 1, "per": 60}, {"count": 10, "per": 3600}],
    )
    await client.post(RUNS, json={}, headers=AUTH)
    refused = await client.post(RUNS, json={}, headers=AUTH)
    read = await client.get(RUNS, headers=AUTH)

    assert refused.status == 429
    assert read.status == 200
    assert len(ledger_of(client.app).runs) == 1


async def test_hourly_run_window_outlasts_the_minute(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """The longer RunProject window keeps refusing after the short one reopens."""
    client = await _limited(
        make_client,
        clock,
        requests=GENEROUS,
        run_project=[{"count": 5, "per": 60}, {"count": 1, "per": "1h"}],
    )
    await client.post(RUNS, json={}, headers=AUTH)
    clock.advance(120)
    response = await client.post(RUNS, json={}, headers=AUTH)

    assert response.status == 429
    assert response.headers["Retry-After"] == "3480"


async def test_retry_after_scales_with_time(make_client: MakeClient, clock: FakeClock) -> None:
    """With a time scale, Retry-After counts real seconds, rounded up."""
    client = await make_client(
        scenario_with(time_scale=0.05, limits={"requests": {"count": 1, "per": 60}}), clock
    )
    await client.get("/api/v1/projects", headers=AUTH)
    response = await client.get("/api/v1/projects", headers=AUTH)

    assert response.headers["Retry-After"] == "3"


async def _throttled_with(
    make_client: MakeClient, clock: FakeClock, **behaviour: Any
) -> tuple[Any, float, float]:
    """A 429 from a 2-per-minute window whose reset is 60 s after the client was made."""
    before = time.time()
    client = await make_client(
        scenario_with(limits={"requests": {"count": 2, "per": 60}}, behaviour=behaviour), clock
    )
    after = time.time()
    await client.get("/api/v1/projects", headers=AUTH)
    clock.advance(20.5)
    await client.get("/api/v1/projects", headers=AUTH)
    response = await client.get("/api/v1/projects", headers=AUTH)
    assert response.status == 429
    check("TsoaErrorResponsePayload", await response.json())
    return response, before + 60, after + 60


@pytest.mark.parametrize(("style", "factor"), [("epoch_seconds", 1), ("epoch_ms", 1000)])
async def test_reset_can_be_an_epoch_time(
    make_client: MakeClient, clock: FakeClock, style: str, factor: int
) -> None:
    """rate_limit_reset: epoch_seconds / epoch_ms send the window's end as a Unix time."""
    response, earliest, latest = await _throttled_with(make_client, clock, rate_limit_reset=style)
    reset = int(response.headers["X-RateLimit-Reset"])

    assert math.floor(earliest * factor) <= reset <= math.ceil(latest * factor) + 1
    assert response.headers["Retry-After"] == "40"


async def test_retry_after_can_be_left_out(make_client: MakeClient, clock: FakeClock) -> None:
    """retry_after: false sends a 429 with only X-RateLimit-* (here an epoch-ms reset)."""
    response, earliest, _ = await _throttled_with(
        make_client, clock, rate_limit_reset="epoch_ms", retry_after=False
    )

    assert "Retry-After" not in response.headers
    assert int(response.headers["X-RateLimit-Reset"]) >= math.floor(earliest * 1000)
    assert response.headers["X-RateLimit-Remaining"] == "0"


async def test_admitted_answers_use_the_chosen_reset_form(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """Successful answers carry the reset in the same chosen form."""
    before = time.time()
    client = await make_client(scenario_with(behaviour={"rate_limit_reset": "epoch_ms"}), clock)
    response = await client.get("/api/v1/projects", headers=AUTH)

    assert response.status == 200
    assert int(response.headers["X-RateLimit-Reset"]) >= math.floor((before + 60) * 1000)


def _default_limits(**changes: Any) -> Any:
    """The test scenario with no limits section, so the scenario defaults apply."""
    data = {key: value for key, value in BASE.items() if key != "limits"}
    return Scenario.from_mapping({**data, **changes})


async def test_default_read_group_is_30_per_minute(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """With no limits section, the 31st request within a minute gets 429 (Hex's hex-api group)."""
    client = await make_client(_default_limits(), clock)
    statuses = [(await client.get("/api/v1/projects", headers=AUTH)).status for _ in range(31)]
    clock.advance(60)
    again = await client.get("/api/v1/projects", headers=AUTH)

    assert statuses == [200] * 30 + [429]
    assert again.status == 200
    assert ledger_of(client.app).throttled == {"ListProjects": 1}


def test_default_read_group_has_an_hourly_window() -> None:
    """With no limits section, every request also counts against 1,800 per hour."""
    assert _default_limits().limits.requests == [
        Window(count=30, per=60),
        Window(count=1800, per=3600),
    ]
