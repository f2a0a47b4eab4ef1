"""HexClient against the simulator over real loopback HTTP: happy path and error paths."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hexbatch import errors, status
from hexbatch.api.client import HexClient
from hexbatch.api.retry import NO_RETRIES
from hexbatch.simulator import Scenario, SimulatorHandle, run_simulator

LIVE = "55555555-5555-4555-8555-555555555555"
DRAFT = "66666666-6666-4666-8666-666666666666"
READER = "hxtp_read_only_token"


@pytest.fixture(name="sim")
async def _sim() -> AsyncIterator[SimulatorHandle]:
    scenario = Scenario.from_mapping(
        {
            "time_scale": 0.01,
            "limits": {
                "requests": {"count": 1000, "per": 60},
                "run_project": {"count": 1000, "per": 60},
            },
            "tokens": [
                {"value": "hxtp_client_tests", "name": "runner"},
                {"value": READER, "name": "reader", "read_only": True},
            ],
            "projects": [
                {
                    "id": LIVE,
                    "title": "Live",
                    "inputs": {"n": {"type": "integer"}},
                    "pending": 1,
                    "duration": 600,
                },
                {"id": DRAFT, "title": "Draft", "published": False},
            ]
            + [
                {"id": f"77777777-7777-4777-8777-{n:012d}", "title": f"Filler {n}"}
                for n in range(120)
            ],
        }
    )
    async with run_simulator(scenario) as handle:
        yield handle


def _client(sim: SimulatorHandle, token: str | None = None, **kwargs: Any) -> HexClient:
    return HexClient(sim.base_url, token or sim.token, retry=NO_RETRIES, **kwargs)


async def test_trigger_poll_list_and_cancel_a_run(sim: SimulatorHandle) -> None:
    """The whole life of a run through the real API: trigger, status, list, cancel."""
    async with _client(sim) as hex:
        created = await hex.run_project(LIVE, {"n": 1})
        info = await hex.get_run_status(LIVE, created.run_id)
        listed = await hex.list_runs(LIVE)
        cancelled = await hex.cancel_run(LIVE, created.run_id)
        after = await hex.get_run_status(LIVE, created.run_id)

    assert info.status in (status.PENDING, status.RUNNING)
    assert [run.run_id for run in listed] == [created.run_id]
    assert cancelled is True
    assert after.status == status.KILLED
    assert after.end_time is not None
    assert sim.ledger.runs_for(LIVE, {"n": 1})[0].run_id == created.run_id


async def test_projects_are_listed_across_cursor_pages(sim: SimulatorHandle) -> None:
    """More than one page of projects is followed to the end."""
    async with _client(sim) as hex:
        projects = await hex.list_projects(page_size=50)

    assert len(projects) == 122
    assert len({p.id for p in projects}) == 122
    assert sim.ledger.requests["ListProjects"] == 3


@pytest.mark.parametrize(
    ("project", "token", "error_type"),
    [
        (DRAFT, None, errors.UnprocessableError),
        ("88888888-8888-4888-8888-888888888888", None, errors.NotFoundError),
        (LIVE, READER, errors.PermissionDeniedError),
        (LIVE, "hxtp_not_a_token_at_all", errors.AuthenticationError),
    ],
)
async def test_trigger_errors_arrive_as_their_classes(
    sim: SimulatorHandle, project: str, token: str | None, error_type: type[Exception]
) -> None:
    """Unpublished 422, unknown 404, read-only 403 and bad token 401, from a real server."""
    async with _client(sim, token) as hex:
        with pytest.raises(error_type):
            await hex.run_project(project, {"n": 1})

    assert sim.ledger.runs == []


async def test_invalid_inputs_name_the_parameter(sim: SimulatorHandle) -> None:
    """A value of the wrong type is refused with Hex's invalid-parameter payload."""
    async with _client(sim) as hex:
        with pytest.raises(errors.UnprocessableError) as caught:
            await hex.run_project(LIVE, {"n": "three"})

    assert caught.value.invalid[0]["paramName"] == "n"


async def test_kernel_limit_is_a_kernel_limit_error(sim: SimulatorHandle) -> None:
    """Past the kernel limit the simulator answers 503 and creates nothing."""
    async with _client(sim) as hex:
        for n in range(25):
            await hex.run_project(LIVE, {"n": n})
        with pytest.raises(errors.KernelLimitError):
            await hex.run_project(LIVE, {"n": 99}, retry_kernel_limit=False)

    assert len(sim.ledger.runs) == 25


async def test_connection_refused_means_not_sent() -> None:
    """Nothing listening on the port: the request provably never arrived."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with HexClient(f"http://127.0.0.1:{port}/api/v1", "hxtp_x", retry=NO_RETRIES) as hex:
        with pytest.raises(errors.RequestNotSentError):
            await hex.run_project(LIVE)
