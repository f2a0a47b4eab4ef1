"""A batch killed on one host is finished from another checkout on another host; two drivers
started together give one driver (real processes, each state backend)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hexbatch.state import StateStore
from tests.crash.conftest import (
    Runner,
    runs_per_params,
    wait_for_event,
    write_manifest,
    write_scenario,
)
from tests.state.conftest import age_lease

RUNS = 6


def _hosts_available() -> bool:
    try:
        done = subprocess.run(["unshare", "-u", "true"], capture_output=True, check=False)
    except FileNotFoundError:
        return False
    return done.returncode == 0


needs_hosts = pytest.mark.skipif(
    not _hosts_available(), reason="unshare -u (a hostname of its own) needs root"
)


@needs_hosts
def test_killed_on_host_a_finished_from_another_path_on_host_b(
    tmp_path: Path, simulator_factory: Any, state_location: str
) -> None:
    """While A's lease is fresh, B is refused naming A; once A's TTL has passed, B takes the
    batch over, settles A's unsettled triggers and completes every run exactly once."""
    simulator = simulator_factory(write_scenario(tmp_path / "s.yaml"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    at_a = write_manifest(tmp_path / "a" / "nightly.yaml", RUNS, max_in_flight=2)
    at_b = tmp_path / "b" / "nightly.yaml"
    shutil.copy(at_a, at_b)
    host_a = Runner(simulator, at_a, state_location, host="host-a")
    host_b = Runner(simulator, at_b, state_location, host="host-b")
    report = tmp_path / "report.json"

    killed = host_a.start()
    wait_for_event(killed, "run_triggered", count=2)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    refused = host_b.run()
    with StateStore(state_location) as store:
        age_lease(store, "nightly", 31)  # as if A's 30 s TTL had passed since it died
    finished = host_b.run(report=report)

    assert refused.returncode == 2, refused.stderr[-2000:]
    assert f"process {killed.pid} on host host-a" in refused.stderr
    assert '"run_triggered"' not in refused.stderr
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert '"lease_taken_over"' in finished.stderr
    assert '"batch_resumed"' in finished.stderr
    document = json.loads(report.read_text())
    assert [run["status"] for run in document["runs"]] == ["COMPLETED"] * RUNS
    ledger = simulator.ledger()
    assert len(ledger["runs"]) == RUNS
    assert set(runs_per_params(ledger).values()) == {1}
    with StateStore(state_location) as store:
        assert len(store.batches()) == 1


def test_two_drivers_started_together_make_one_batch_and_one_driver(
    tmp_path: Path, simulator_factory: Any, state_location: str
) -> None:
    """Started at the same moment: one drives the batch to the end, the other exits 2 and
    sends nothing; the store holds one batch."""
    simulator = simulator_factory(write_scenario(tmp_path / "s.yaml"))
    runner = Runner(simulator, write_manifest(tmp_path / "m.yaml", RUNS), state_location)

    first, second = runner.start(), runner.start()
    outcomes = [process.communicate(timeout=120) for process in (first, second)]

    codes = sorted(process.returncode for process in (first, second))
    assert codes == [0, 2], [err[-1500:] for _, err in outcomes]
    refused = next(
        err
        for process, (_, err) in zip((first, second), outcomes, strict=True)
        if process.returncode == 2
    )
    assert "is being driven by process" in refused
    assert '"run_triggered"' not in refused
    assert set(runs_per_params(simulator.ledger()).values()) == {1}
    with StateStore(state_location) as store:
        assert len(store.batches()) == 1
