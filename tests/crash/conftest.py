"""Crash and signal tests: real processes, real signals, a simulator in its own process.

The simulator runs as ``hexbatch simulate`` in a subprocess so that it outlives
every ``hexbatch run`` the test kills; its ledger (``GET /_sim/ledger``) is the
witness of what was really triggered.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = "33333333-3333-4333-8333-333333333333"
TOKEN = "hxtp_crash_tests_token"
HEXBATCH = [sys.executable, "-m", "hexbatch"]


def write_scenario(
    path: Path,
    *,
    faults: list[dict[str, Any]] | None = None,
    run_project: dict[str, Any] | None = None,
    **project_extra: Any,
) -> Path:
    """A scenario where each run takes 0.6-1.2 s real time (``run_project``: Hex's trigger
    window, in scenario seconds; unlimited by default)."""
    project = {
        "id": PROJECT,
        "title": "Crash project",
        "pending": 5,
        "duration": {"min": 60, "max": 120},
        **project_extra,
    }
    data = {
        "seed": 11,
        "time_scale": 0.01,
        "tokens": [{"value": TOKEN, "name": "crash"}],
        "projects": [project],
        "limits": {
            "requests": {"count": 100000, "per": 60},
            "run_project": run_project or {"count": 100000, "per": 60},
        },
        "faults": faults or [],
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def write_manifest(
    path: Path, runs: int, *, triggers: dict[str, Any] | None = None, **defaults: Any
) -> Path:
    """A manifest of ``runs`` runs of the crash project (``triggers``: its trigger window)."""
    document = {
        "version": 1,
        "defaults": {
            "max_in_flight": 3,
            "timeout": "60s",
            "poll": {"initial": "20ms", "max": "100ms"},
            **defaults,
        },
        "limits": {
            "requests": {"count": 100000, "per": "1m"},
            "triggers": triggers or {"count": 1000, "per": "1m"},
        },
        "projects": [{"id": PROJECT, "name": "crash", "runs": [{"n": n} for n in range(runs)]}],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


class Simulator:
    """``hexbatch simulate`` in a subprocess."""

    def __init__(self, scenario: Path) -> None:
        self.process = subprocess.Popen(
            [*HEXBATCH, "simulate", "--port", "0", "--scenario", str(scenario)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.base_url = ""
        # Generous: on a loaded 2-core machine a cold interpreter start can be slow.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.base_url:
            line = self.process.stdout.readline()
            found = re.search(r"base URL: (\S+)", line)
            if found:
                self.base_url = found.group(1)
        if not self.base_url:
            self.process.kill()
            _, errors = self.process.communicate()
            raise AssertionError(f"the simulator did not start: {errors[-2000:]}")

    def ledger(self) -> dict[str, Any]:
        root = self.base_url.removesuffix("/api/v1")
        with urllib.request.urlopen(f"{root}/_sim/ledger", timeout=10) as answer:  # noqa: S310
            data: dict[str, Any] = json.load(answer)
        return data

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


@pytest.fixture(name="simulator_factory")
def _simulator_factory() -> Iterator[Any]:
    started: list[Simulator] = []

    def start(scenario: Path) -> Simulator:
        simulator = Simulator(scenario)
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.stop()


class Runner:
    """Starts ``hexbatch run`` against a simulator and watches its JSON log events."""

    def __init__(
        self, simulator: Simulator, manifest: Path, state: Path | str, *, host: str | None = None
    ) -> None:
        self.simulator = simulator
        self.manifest = manifest
        self.state = state
        self.host = host
        """Run on a host of this name (a UTS namespace of its own, via ``unshare -u``)."""

    def command(self, *extra: str, report: Path | None = None) -> list[str]:
        cmd = [
            *HEXBATCH,
            "run",
            str(self.manifest),
            "--base-url",
            self.simulator.base_url,
            "--state",
            str(self.state),
            "--no-progress",
            "--log-format",
            "json",
            "-v",
            *extra,
        ]
        if report is not None:
            cmd += ["--json", str(report)]
        if self.host is not None:
            cmd = ["unshare", "-u", "sh", "-c", f'hostname {self.host} && exec "$@"', "sh", *cmd]
        return cmd

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["HEX_API_TOKEN"] = TOKEN
        env.pop("HEX_API_BASE_URL", None)
        env.pop("GITHUB_STEP_SUMMARY", None)
        return env

    def start(self, *extra: str, report: Path | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*extra, report=report),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )

    def run(self, *extra: str, report: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*extra, report=report),
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=120,
            check=False,
        )


def wait_for_event(
    process: subprocess.Popen[str], event: str, *, count: int = 1, timeout: float = 30
) -> list[dict[str, Any]]:
    """Read the process's JSON log lines until ``event`` has been seen ``count`` times."""
    assert process.stderr is not None
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == event:
            seen.append(record)
            if len(seen) >= count:
                return seen
    raise AssertionError(f"never saw {count} x {event}")


def runs_per_params(ledger: dict[str, Any]) -> dict[str, int]:
    """How many runs Hex holds per parameter set."""
    counts: dict[str, int] = {}
    for run in ledger["runs"]:
        key = json.dumps(run["params"], sort_keys=True)
        counts[key] = counts.get(key, 0) + 1
    return counts
