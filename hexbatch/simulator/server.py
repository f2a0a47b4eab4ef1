"""Run the simulator in-process on a loopback port, as an async context manager."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from hexbatch.simulator.app import create_app, ledger_of
from hexbatch.simulator.clock import Clock
from hexbatch.simulator.ledger import Ledger
from hexbatch.simulator.scenario import Scenario


@dataclass(frozen=True, slots=True)
class SimulatorHandle:
    """A running simulator: where it listens, a token to use, and its ledger."""

    base_url: str
    token: str
    ledger: Ledger
    scenario: Scenario
    app: web.Application

    @property
    def root_url(self) -> str:
        """Scheme, host and port, without the API prefix (the ledger is at /_sim/ledger)."""
        return self.base_url.removesuffix("/api/v1")


@asynccontextmanager
async def run_simulator(
    scenario: Scenario, *, host: str = "127.0.0.1", port: int = 0, clock: Clock | None = None
) -> AsyncIterator[SimulatorHandle]:
    """Serve ``scenario`` on ``host:port`` (a free port when 0) until the block exits."""
    app = create_app(scenario, clock)
    # Requests still held open by latency faults must not delay shutdown by a minute.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield SimulatorHandle(
            base_url=f"http://{shown}:{bound_port}/api/v1",
            token=scenario.run_token.value,
            ledger=ledger_of(app),
            scenario=scenario,
            app=app,
        )
    finally:
        await runner.cleanup()
