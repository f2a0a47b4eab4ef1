"""Fixtures for client tests: fake HTTP (aioresponses) and virtual time."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator

import pytest
from aioresponses import aioresponses

from hexbatch.api.client import HexClient
from hexbatch.api.retry import Backoff, RetryPolicy
from hexbatch.clock import VirtualClock

BASE = "https://hex.example.com/api/v1"
TOKEN = "hxtw_" + "ab12" * 24
PROJECT = "5a8591dd-4039-49df-9202-96385ba3eff8"
RUN = "0d6f3a2e-1b4c-4d5e-8f90-123456789abc"


@pytest.fixture(name="http")
def _http() -> Iterator[aioresponses]:
    with aioresponses() as mocked:
        yield mocked


@pytest.fixture(name="clock")
def _clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture(name="client")
async def _client(clock: VirtualClock) -> AsyncIterator[HexClient]:
    policy = RetryPolicy(attempts=4, backoff=Backoff(initial=1.0, max=8.0), budget=60.0)
    async with HexClient(
        BASE, TOKEN, retry=policy, clock=clock, sleep=clock.sleep, rng=random.Random(7)
    ) as client:
        yield client


def run_payload(status: str = "RUNNING", **extra: object) -> dict[str, object]:
    """A GetRunStatus body as Hex sends it."""
    body: dict[str, object] = {
        "projectId": PROJECT,
        "projectVersion": 3,
        "runId": RUN,
        "runUrl": f"https://hex.example.com/app/runs/{RUN}",
        "status": status,
        "startTime": "2025-01-01T10:00:00.123Z",
        "endTime": None,
        "elapsedTime": None,
        "traceId": "trace-1",
    }
    body.update(extra)
    return body


def created_payload(**extra: object) -> dict[str, object]:
    """A RunProject 201 body as Hex sends it."""
    body: dict[str, object] = {
        "projectId": PROJECT,
        "runId": RUN,
        "runUrl": f"https://hex.example.com/app/runs/{RUN}",
        "runStatusUrl": f"{BASE}/projects/{PROJECT}/runs/{RUN}",
        "traceId": "trace-0",
        "projectVersion": 3,
    }
    body.update(extra)
    return body
