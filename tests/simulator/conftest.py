"""Shared fixtures: a small scenario, a fake clock and test clients over real HTTP."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hexbatch.simulator import Scenario, create_app

REVENUE = "5a8591dd-4039-49df-9202-96385ba3eff8"
OPEN = "11111111-2222-4333-8444-555555555555"
DRAFT = "c41d7e0a-6b2f-4e59-9a83-0f5d2c7b1e96"
MISSING = "00000000-0000-4000-8000-000000000000"
TOKEN = "hxtp_test_run"
READ_TOKEN = "hxtp_test_read"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
READ_AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}

BASE: dict[str, Any] = {
    "seed": 42,
    "time_scale": 1.0,
    "tokens": [
        {"value": TOKEN, "name": "runner", "user": "runner@example.com"},
        {"value": READ_TOKEN, "name": "reader", "read_only": True},
    ],
    "projects": [
        {
            "id": REVENUE,
            "title": "Daily revenue",
            "version": 7,
            "inputs": {
                "run_date": {"type": "date"},
                "region": {"type": "string", "choices": ["us", "eu"]},
            },
            "pending": 10,
            "duration": {"min": 100, "max": 200},
            "outcome": {
                "rules": [
                    {"when": {"run_date": "2025-01-09"}, "status": "ERRORED"},
                    {
                        "when": {"region": "eu"},
                        "status": "UNABLE_TO_ALLOCATE_KERNEL",
                        "first_attempts": 1,
                    },
                ]
            },
        },
        {"id": OPEN, "title": "Open inputs", "pending": 5, "duration": 50},
        {"id": DRAFT, "title": "Draft analysis", "published": False},
    ],
    "limits": {"requests": {"count": 1000, "per": 60}, "run_project": {"count": 1000, "per": 60}},
}


def scenario_with(**changes: Any) -> Scenario:
    """The test scenario with top-level keys replaced."""
    data = copy.deepcopy(BASE)
    data.update(changes)
    return Scenario.from_mapping(data)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


class RecordingSleep:
    """A sleep that returns at once and remembers what it was asked for."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class GateSleep:
    """A sleep that lasts until the test opens the gate, remembering what it was asked for."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.gate = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await self.gate.wait()


MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock for virtual time."""
    return FakeClock()


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """Start simulator apps on loopback test servers; closed after the test."""
    clients: list[TestClient[Any, Any]] = []

    async def make(
        scenario: Scenario | None = None, clock: Any = None, sleep: Any = None
    ) -> TestClient[Any, Any]:
        app = create_app(scenario or scenario_with(), clock, sleep=sleep)
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(make_client: MakeClient, clock: FakeClock) -> TestClient[Any, Any]:
    """A client of the test scenario on the fake clock."""
    return await make_client(clock=clock)
