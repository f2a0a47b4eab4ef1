"""Helpers for batch tests against the simulator: in process, or over real loopback HTTP.

:class:`InProcessHarness` runs a manifest's plan through the engine against
:class:`~hexbatch.simulator.inprocess.InProcessHex` on a virtual clock: no socket,
no real sleep, the same outcome every time. :class:`Harness` runs the whole batch
(state store, client, budgets) against the HTTP simulator; its scenarios run at
time_scale 0.01 (a scenario minute lasts 0.6 s) and manifests poll every few
milliseconds, so each batch takes a second or two of wall time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from hexbatch.api.retry import Backoff, RetryPolicy
from hexbatch.batch import BatchOptions, BatchRun
from hexbatch.clock import SteppingClock
from hexbatch.engine import Control, Engine, EngineSettings, WorkItem
from hexbatch.manifest import load_manifest
from hexbatch.outcome import Attempt, BatchReport
from hexbatch.plan import build_plan
from hexbatch.simulator import Ledger, Scenario, run_simulator
from hexbatch.simulator.inprocess import InProcessHex

# Retries as the client does them, on a millisecond scale.
FAST_RETRIES = RetryPolicy(attempts=4, backoff=Backoff(initial=0.005, max=0.05), budget=5.0)
P1 = "11111111-1111-4111-8111-111111111111"
P2 = "22222222-2222-4222-8222-222222222222"
TOKEN = "hxtp_engine_tests_token"


def fast_settings(**extra: Any) -> EngineSettings:
    """Engine settings on the tests' millisecond scale.

    An ambiguous trigger is declared uncreated after one second instead of the
    request timeout plus skew, and a 404 is believed after one second of them.
    """
    values: dict[str, Any] = {
        "request_retry": FAST_RETRIES,
        "reconcile_window": 1.0,
        "lost_after": 1.0,
    }
    values.update(extra)
    return EngineSettings(**values)


def scenario(projects: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A scenario mapping with a run token, fast time and generous default limits."""
    data: dict[str, Any] = {
        "seed": 3,
        "time_scale": 0.01,
        "tokens": [{"value": TOKEN, "name": "tests"}],
        "projects": projects,
        "limits": {
            "requests": {"count": 100000, "per": 60},
            "run_project": {"count": 100000, "per": 60},
        },
    }
    data.update(extra)
    return data


def project(pid: str = P1, **extra: Any) -> dict[str, Any]:
    """A published project running 10-30 scenario seconds (0.1-0.3 s real)."""
    data: dict[str, Any] = {
        "id": pid,
        "title": f"Project {pid[:4]}",
        "pending": 2,
        "duration": {"min": 10, "max": 30},
    }
    data.update(extra)
    return data


def manifest(
    tmp_path: Path,
    projects: list[dict[str, Any]],
    *,
    sim: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
) -> Path:
    """Write a manifest (with an inline simulate: scenario) and return its path."""
    document: dict[str, Any] = {
        "version": 1,
        "defaults": {
            "max_in_flight": 4,
            "timeout": "30s",
            "poll": {"initial": "10ms", "max": "50ms", "multiplier": 1.5},
            **(defaults or {}),
        },
        "limits": limits
        or {"requests": {"count": 100000, "per": "1m"}, "triggers": {"count": 100000, "per": "1m"}},
        "projects": projects,
    }
    if sim is not None:
        document["simulate"] = sim
    path = tmp_path / "batch.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


class Harness:
    """Runs a manifest against a simulator the test can inspect afterwards."""

    def __init__(self, tmp_path: Path, sim: dict[str, Any]) -> None:
        self.tmp_path = tmp_path
        self.scenario = Scenario.from_mapping(sim)
        self.ledger: Ledger | None = None
        self.control = Control()
        self.options: dict[str, Any] = {}
        """BatchOptions every run gets unless it passes its own (e.g. the state store)."""

    async def run(
        self,
        manifest_path: Path,
        *,
        settings: EngineSettings | None = None,
        token: str | None = None,
        **options: Any,
    ) -> BatchReport:
        async with run_simulator(self.scenario) as sim:
            self.ledger = sim.ledger
            self.run_handle = BatchRun(
                manifest_path,
                BatchOptions(
                    base_url=sim.base_url,
                    env={"HEX_API_TOKEN": token or sim.token},
                    **(self.options | options),
                ),
                settings or fast_settings(),
                self.control,
            )
            return await self.run_handle.execute()


HarnessFactory = Callable[[dict[str, Any]], Harness]
"""Builds a Harness over a scenario (a mapping, as a scenario file holds)."""


@pytest.fixture(name="harness_factory")
def _harness_factory(tmp_path: Path) -> HarnessFactory:
    def build(sim: dict[str, Any]) -> Harness:
        return Harness(tmp_path, sim)

    return build


class InProcessHarness:
    """Runs a manifest's plan through the engine against an in-process Hex, in virtual time.

    What the batch around the engine does (state store, preflight, budgets, the HTTP
    client) is left out: :class:`Harness` covers it. ``hex`` is there before the batch
    runs, so a test can make Hex's state first (an earlier process's run, say).
    """

    def __init__(self, sim: dict[str, Any], *, token: str | None = None) -> None:
        self.scenario = Scenario.from_mapping(sim)
        self.clock = SteppingClock()
        self.time = self.clock.source()
        self.control = Control()
        self.hex = InProcessHex(self.scenario, self.time, token=token)

    @property
    def ledger(self) -> Ledger:
        """The simulated Hex's ledger."""
        return self.hex.ledger

    async def run(
        self,
        manifest_path: Path,
        *,
        settings: EngineSettings | None = None,
        fail_fast: bool = False,
        cancel_on_fail_fast: bool = False,
        dry_run: bool = False,
        resumed: Mapping[int, list[Attempt]] | None = None,
    ) -> BatchReport:
        """Run the plan; ``resumed`` gives runs (by plan position) an earlier process's
        attempts, as a resumed batch hands them to the engine."""
        manifest = load_manifest(manifest_path, env={})
        settings = replace(
            settings or fast_settings(),
            time=self.time,
            max_in_flight=manifest.max_in_flight,
            fail_fast=fail_fast,
            cancel_on_fail_fast=cancel_on_fail_fast,
            dry_run=dry_run,
        )
        plan = build_plan(manifest, self.time.now().date())
        earlier = resumed or {}
        work = [WorkItem(spec, list(earlier.get(n, []))) for n, spec in enumerate(plan.items)]
        started = self.time.now()
        engine = Engine(self.hex, settings, control=self.control)
        async with self.clock.running():
            outcomes = await engine.run(work)
        return BatchReport(
            str(manifest_path), started, self.time.now(), outcomes, self.hex.stats.as_dict()
        )
