"""A simulator served from a background thread, so synchronous CLI tests can talk to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hexbatch.api.client import HexClient
from hexbatch.api.models import RunInfo
from hexbatch.simulator import Scenario, SimulatorHandle, load_scenario, run_simulator

SLOW = "5a8591dd-4039-49df-9202-96385ba3eff8"
QUICK = "9e2d4a61-3f7b-4b0c-8d5e-7a1c6f2b3e84"
TOKEN = "hxtp_state_tests"

# SLOW runs stay alive for minutes of real time; QUICK runs finish at once.
_SCENARIO = f"""
seed: 3
time_scale: 0.01
tokens:
  - {{value: {TOKEN}, name: tests, user: tests@example.com}}
projects:
  - {{id: {SLOW}, title: Slow, pending: 1, duration: 100000}}
  - {{id: {QUICK}, title: Quick, pending: 0, duration: 0}}
behaviour:
  cancel_finished: {{cancel_finished}}
"""


@contextmanager
def serve(tmp_path: Path, *, cancel_finished: str = "no_content") -> Iterator[SimulatorHandle]:
    """Serve the test scenario on loopback from a thread until the block exits."""
    path = tmp_path / "scenario.yaml"
    path.write_text(_SCENARIO.replace("{cancel_finished}", cancel_finished))
    with serve_in_thread(load_scenario(path)) as handle:
        yield handle


@contextmanager
def serve_in_thread(scenario: Scenario) -> Iterator[SimulatorHandle]:
    """Serve ``scenario`` on loopback from a background thread until the block exits."""
    ready = threading.Event()
    handles: list[SimulatorHandle] = []
    stop: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def main() -> None:
        async with run_simulator(scenario) as handle:
            event = asyncio.Event()
            handles.append(handle)
            stop.append((asyncio.get_running_loop(), event))
            ready.set()
            await event.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(10):  # pragma: no cover - only when the simulator cannot start
        raise RuntimeError("the simulator did not start")
    try:
        yield handles[0]
    finally:
        loop, event = stop[0]
        loop.call_soon_threadsafe(event.set)
        thread.join(10)


def trigger(base_url: str, project_id: str) -> tuple[str, str | None]:
    """Start one run in the simulator; return its id and URL."""

    async def go() -> tuple[str, str | None]:
        async with HexClient(base_url, TOKEN) as client:
            created = await client.run_project(project_id)
            return created.run_id, created.run_url

    return asyncio.run(go())


def status(base_url: str, project_id: str, run_id: str) -> RunInfo:
    """A run's status as the simulator reports it."""

    async def go() -> RunInfo:
        async with HexClient(base_url, TOKEN) as client:
            return await client.get_run_status(project_id, run_id)

    return asyncio.run(go())
