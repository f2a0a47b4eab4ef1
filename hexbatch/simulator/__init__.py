"""A simulator of the Hex API v1 for demos, tests and benchmarks.

``run_simulator(scenario)`` serves it in-process on a free loopback port;
``create_app(scenario)`` gives the aiohttp application for test servers;
``hexbatch simulate`` serves it from the command line. The scenario format is
documented in :mod:`hexbatch.simulator.scenario`.
"""

from __future__ import annotations

from hexbatch.simulator.app import LEDGER_KEY, create_app, ledger_of
from hexbatch.simulator.ledger import Ledger
from hexbatch.simulator.runs import Run
from hexbatch.simulator.scenario import Scenario, ScenarioError, load_scenario
from hexbatch.simulator.server import SimulatorHandle, run_simulator

__all__ = [
    "LEDGER_KEY",
    "Ledger",
    "Run",
    "Scenario",
    "ScenarioError",
    "SimulatorHandle",
    "create_app",
    "ledger_of",
    "load_scenario",
    "run_simulator",
]
