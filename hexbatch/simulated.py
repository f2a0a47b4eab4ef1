"""The built-in simulator as the Hex a command talks to, imported only when asked for.

Every command reaches the simulator through this module, and this module imports
:mod:`hexbatch.simulator` (aiohttp, the scenario model) inside its functions only: a
command without ``--simulate`` never loads it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hexbatch.manifest import Manifest
    from hexbatch.simulator import Scenario, SimulatorHandle


def scenario_for(manifest: Manifest | None) -> Scenario:
    """The simulator scenario a manifest asks for (its ``simulate:`` section), or the
    built-in demo.

    Raises:
        ScenarioError: the section, or the scenario file it names, cannot be used.
    """
    from hexbatch.simulator import Scenario, load_scenario

    section = manifest.simulate if manifest is not None else None
    if manifest is None or not section:
        return Scenario.default()
    path = section.get("scenario")
    if isinstance(path, str):
        return load_scenario(path)
    return Scenario.from_mapping(dict(section), source=f"{manifest.source} (simulate:)")


@asynccontextmanager
async def simulated_hex(manifest: Manifest | None) -> AsyncIterator[SimulatorHandle]:
    """The simulator serving ``manifest``'s scenario (the demo without one) while open."""
    from hexbatch.simulator import run_simulator

    async with run_simulator(scenario_for(manifest)) as simulator:
        yield simulator
