"""A batch SIGKILLed right after spending Hex's trigger window and restarted at once gets no
429: the restarted process finds the slots it spent in the state store's ledger (each backend).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from tests.crash.conftest import (
    Runner,
    runs_per_params,
    wait_for_event,
    write_manifest,
    write_scenario,
)

RUNS = 6
# Hex's window on the tests' time scale: 3 triggers per 300 scenario seconds (3 s real).
HEX_WINDOW = {"count": 3, "per": 300}
STATED = {"count": 3, "per": "3s"}


def test_a_batch_killed_after_filling_the_window_restarts_without_a_429(
    tmp_path: Path, simulator_factory: Any, state_location: str
) -> None:
    """Three triggers fill the window; SIGKILL; the rerun waits for the window to pass
    before its three triggers, and every run completes once."""
    simulator = simulator_factory(write_scenario(tmp_path / "s.yaml", run_project=HEX_WINDOW))
    manifest = write_manifest(tmp_path / "m.yaml", RUNS, triggers=STATED, max_in_flight=6)
    runner = Runner(simulator, manifest, state_location)
    report = tmp_path / "report.json"

    killed = runner.start()
    wait_for_event(killed, "run_triggered", count=3)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    resumed = runner.run(report=report)

    ledger = simulator.ledger()
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert ledger["throttled_total"] == 0, ledger["throttled"]
    assert set(runs_per_params(ledger).values()) == {1}
    assert len(ledger["runs"]) == RUNS
    document = json.loads(report.read_text())
    waits = [run["attempts"][-1]["quota_wait_ms"] for run in document["runs"]]
    assert max(w for w in waits if w is not None) > 500  # the rerun waited for the window
