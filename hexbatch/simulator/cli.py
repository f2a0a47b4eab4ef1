"""``hexbatch simulate``: serve the Hex API simulator until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
from pathlib import Path

import click

from hexbatch.simulator.scenario import Scenario, ScenarioError, load_scenario
from hexbatch.simulator.server import SimulatorHandle, run_simulator


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (so nothing else can reach the server)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Scenario YAML (default: the built-in demo scenario).",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow binding a non-loopback address (the simulator has no real security).",
)
def simulate(host: str, port: int, scenario_path: Path | None, allow_remote: bool) -> None:
    """Serve the built-in Hex API simulator until Ctrl-C (SIGINT) or SIGTERM."""
    if not is_loopback(host) and not allow_remote:
        raise click.UsageError(
            f"refusing to bind {host}: the simulator's tokens are not secrets. "
            "Use a loopback address, or pass --allow-remote if you really mean it."
        )
    try:
        scenario = load_scenario(scenario_path) if scenario_path else Scenario.default()
    except ScenarioError as exc:
        raise click.UsageError(str(exc)) from exc
    if not is_loopback(host):
        click.echo(f"WARNING: serving on {host}, reachable from other machines.", err=True)
    try:
        asyncio.run(_serve(scenario, host, port))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


async def _serve(
    scenario: Scenario, host: str, port: int, stop: asyncio.Event | None = None
) -> None:
    """Start the server, print how to use it, serve until SIGINT/SIGTERM (or ``stop``)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not every platform's event loop supports signal handlers; Ctrl-C still works there.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        async with run_simulator(scenario, host=host, port=port) as handle:
            _announce(handle)
            await stop.wait()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
    click.echo("simulator stopped")


def _announce(handle: SimulatorHandle) -> None:
    """Tell the user where the simulator listens and how to call it."""
    click.echo(f"Hex API simulator serving {handle.scenario.source}")
    click.echo(f"  base URL: {handle.base_url}")
    click.echo(f"  token:    {handle.token}")
    click.echo(f"  ledger:   {handle.root_url}/_sim/ledger")
    click.echo("Try:")
    click.echo(f'  curl -H "Authorization: Bearer {handle.token}" {handle.base_url}/projects')
    click.echo("Point hexbatch at it:")
    click.echo(f"  export HEX_API_BASE_URL={handle.base_url} HEX_API_TOKEN={handle.token}")
    click.echo("Press Ctrl-C to stop.")
