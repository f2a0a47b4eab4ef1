"""Kill `hexbatch run` at many points, run it again, and lose nothing and duplicate nothing.

Each test starts the simulator in its own process, starts a batch as a real
subprocess, kills it with SIGKILL when its JSON log shows the chosen moment,
runs the same command again, and then compares three witnesses: the
simulator's ledger (what Hex really ran), the final report, and the plan.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.crash.conftest import (
    Runner,
    runs_per_params,
    wait_for_event,
    write_manifest,
    write_scenario,
)

RUNS = 6
SLOW_THIRD_TRIGGER = {
    "operation": "RunProject",
    "kind": "slow",
    "delay": 150,
    "every_nth": 3,
    "max_times": 1,
}


def _check_nothing_lost_or_duplicated(
    report: dict[str, Any], ledger: dict[str, Any], expected_per_params: dict[str, int]
) -> None:
    assert len(report["runs"]) == RUNS
    assert all(run["status"] == "COMPLETED" for run in report["runs"]), report["counts"]
    assert runs_per_params(ledger) == expected_per_params
    reported = {a["run_id"] for run in report["runs"] for a in run["attempts"] if a["run_id"]}
    assert reported == {run["run_id"] for run in ledger["runs"]}


@pytest.mark.parametrize(
    ("moment", "count", "faults", "retry_n"),
    [
        pytest.param("batch_started", 1, [], None, id="before-the-first-trigger"),
        pytest.param(
            "trigger_sending",
            3,
            [
                {
                    "operation": "RunProject",
                    "kind": "slow",
                    "delay": 150,
                    "every_nth": 3,
                    "max_times": 1,
                }
            ],
            None,
            id="between-intent-and-201",
        ),
        pytest.param(
            "trigger_sending",
            3,
            [{"operation": "RunProject", "kind": "slow", "delay": 30, "every_nth": 1}],
            None,
            id="between-intent-and-201-every-trigger-slow",
        ),
        pytest.param("run_triggered", 4, [], None, id="mid-polling"),
        pytest.param("run_retrying", 1, [], 1, id="during-retries"),
    ],
)
def test_killed_batch_resumes_without_duplicates(
    tmp_path: Path,
    simulator_factory: Any,
    moment: str,
    count: int,
    faults: list[dict[str, Any]],
    retry_n: int | None,
    state_location: str,
) -> None:
    """SIGKILL at this moment, rerun: every planned run ran exactly once and is reported."""
    rules = []
    if retry_n is not None:
        rules = [
            {"when": {"n": retry_n}, "status": "UNABLE_TO_ALLOCATE_KERNEL", "first_attempts": 1}
        ]
    scenario = write_scenario(
        tmp_path / "scenario.yaml", faults=faults, outcome={"default": "COMPLETED", "rules": rules}
    )
    simulator = simulator_factory(scenario)
    runner = Runner(simulator, write_manifest(tmp_path / "m.yaml", RUNS), state_location)
    report_path = tmp_path / "report.json"

    first = runner.start()
    wait_for_event(first, moment, count=count)
    if moment == "trigger_sending":
        time.sleep(0.15)  # the slow trigger has created its run but not answered yet
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    second = runner.run(report=report_path)

    assert second.returncode == 0, second.stderr[-3000:]
    report = json.loads(report_path.read_text())
    expected = {json.dumps({"n": n}): 1 for n in range(RUNS)}
    if retry_n is not None:
        expected[json.dumps({"n": retry_n})] = 2
    _check_nothing_lost_or_duplicated(report, simulator.ledger(), expected)
    if moment == "trigger_sending":
        assert '"trigger_reconciled"' in second.stderr
        assert '"created": true' in second.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_first_interrupt_stops_triggering_and_a_rerun_finishes(
    tmp_path: Path, simulator_factory: Any, signum: signal.Signals, state_location: str
) -> None:
    """One SIGINT/SIGTERM: live runs finish, the rest are SKIPPED, exit 130; a rerun ends them."""
    simulator = simulator_factory(write_scenario(tmp_path / "s.yaml"))
    runner = Runner(
        simulator, write_manifest(tmp_path / "m.yaml", RUNS, max_in_flight=2), state_location
    )
    partial = tmp_path / "partial.json"

    first = runner.start(report=partial)
    wait_for_event(first, "run_triggered", count=2)
    first.send_signal(signum)
    _, stderr = first.communicate(timeout=60)

    assert first.returncode == 130, stderr[-2000:]
    assert "waiting for the live ones to finish" in stderr
    report = json.loads(partial.read_text())
    statuses = [run["status"] for run in report["runs"]]
    assert "SKIPPED" in statuses
    assert statuses.count("COMPLETED") == len(simulator.ledger()["runs"])

    final = tmp_path / "final.json"
    second = runner.run(report=final)
    assert second.returncode == 0, second.stderr[-2000:]
    _check_nothing_lost_or_duplicated(
        json.loads(final.read_text()),
        simulator.ledger(),
        {json.dumps({"n": n}): 1 for n in range(RUNS)},
    )


@pytest.mark.parametrize(
    ("signals", "flags"),
    [
        pytest.param([signal.SIGINT, signal.SIGINT], [], id="second-sigint"),
        pytest.param([signal.SIGTERM, signal.SIGTERM], [], id="second-sigterm"),
        pytest.param([signal.SIGINT], ["--cancel-on-interrupt"], id="cancel-on-interrupt"),
    ],
)
def test_interrupt_that_cancels_live_runs_in_hex(
    tmp_path: Path,
    simulator_factory: Any,
    signals: list[signal.Signals],
    flags: list[str],
    state_location: str,
) -> None:
    """The cancelling interrupt: live runs are cancelled in Hex and reported CANCELLED; 130."""
    simulator = simulator_factory(write_scenario(tmp_path / "s.yaml", duration=3000))
    runner = Runner(
        simulator, write_manifest(tmp_path / "m.yaml", RUNS, max_in_flight=2), state_location
    )
    partial = tmp_path / "partial.json"

    first = runner.start(*flags, report=partial)
    wait_for_event(first, "run_triggered", count=2)
    for signum in signals:
        first.send_signal(signum)
        time.sleep(0.3)
    _, stderr = first.communicate(timeout=60)

    assert first.returncode == 130, stderr[-2000:]
    report = json.loads(partial.read_text())
    cancelled = [run for run in report["runs"] if run["status"] == "CANCELLED"]
    assert len(cancelled) == 2
    ledger = simulator.ledger()
    assert sorted(run["status"] for run in ledger["runs"]) == ["KILLED", "KILLED"]
    assert {run["run_id"] for run in cancelled} == {run["run_id"] for run in ledger["runs"]}


def test_a_second_process_cannot_drive_the_same_batch(
    tmp_path: Path, simulator_factory: Any, state_location: str
) -> None:
    """While one run holds the batch's lease, another exits 2 naming the holder."""
    simulator = simulator_factory(write_scenario(tmp_path / "s.yaml", duration=3000))
    runner = Runner(simulator, write_manifest(tmp_path / "m.yaml", 2), state_location)

    holder = runner.start("--cancel-on-interrupt")
    wait_for_event(holder, "run_triggered")
    contender = runner.run()
    still_running = holder.poll() is None
    holder.send_signal(signal.SIGINT)
    holder.communicate(timeout=60)

    assert still_running
    assert contender.returncode == 2
    assert str(holder.pid) in contender.stderr
    assert "Traceback" not in contender.stderr
    assert '"run_triggered"' not in contender.stderr  # the contender triggered nothing
    assert len(simulator.ledger()["runs"]) <= 2  # only the holder's runs exist


def test_changed_plan_is_refused_but_changed_settings_resume(
    tmp_path: Path, simulator_factory: Any, state_location: str
) -> None:
    """An unfinished batch resumes after a settings change, never after a plan change."""
    simulator = simulator_factory(write_scenario(tmp_path / "s.yaml"))
    manifest = write_manifest(tmp_path / "m.yaml", RUNS, max_in_flight=1)
    runner = Runner(simulator, manifest, state_location)
    first = runner.start()
    wait_for_event(first, "run_triggered")
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=60)

    write_manifest(manifest, RUNS + 1, max_in_flight=1)
    refused = runner.run()
    write_manifest(manifest, RUNS, max_in_flight=3, timeout="2m")
    resumed = runner.run()

    assert refused.returncode == 2
    assert "different plan" in refused.stderr
    assert "--new" in refused.stderr
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert '"batch_resumed"' in resumed.stderr
    assert all(count == 1 for count in runs_per_params(simulator.ledger()).values())


def test_unusable_state_file_is_a_clear_error(tmp_path: Path, simulator_factory: Any) -> None:
    """A state file of random bytes gives one clear line and exit 2, not a traceback."""
    simulator = simulator_factory(write_scenario(tmp_path / "s.yaml"))
    state = tmp_path / "st.db"
    state.write_bytes(bytes(range(256)) * 8)
    runner = Runner(simulator, write_manifest(tmp_path / "m.yaml", 1), state)

    result = runner.run()

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(state) in result.stderr
    assert simulator.ledger()["runs"] == []
