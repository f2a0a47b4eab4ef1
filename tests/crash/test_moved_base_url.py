"""A batch moved between two Hex URLs: each attempt is followed where it was triggered."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import yaml

from tests.crash.conftest import Runner, wait_for_event, write_manifest, write_scenario

RUNS = 6


def _scenario(path: Path, seed: int) -> Path:
    write_scenario(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["seed"] = seed  # different run ids at each host: following one at the other fails
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_interrupt_at_a_kill_at_b_and_rerun_at_b_follows_at_b(
    tmp_path: Path, simulator_factory: Any, state_location: str
) -> None:
    """Interrupted at A, killed at B with runs live there: a rerun at A is refused naming B,
    and a rerun at B resumes, follows them at B and triggers nothing twice."""
    a = simulator_factory(_scenario(tmp_path / "a.yaml", seed=1))
    b = simulator_factory(_scenario(tmp_path / "b.yaml", seed=2))
    manifest = write_manifest(tmp_path / "m.yaml", RUNS, max_in_flight=2)
    state = state_location
    at_a, at_b = Runner(a, manifest, state), Runner(b, manifest, state)

    first = at_a.start()
    wait_for_event(first, "run_triggered", count=2)
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=60)
    assert first.returncode == 130
    done_at_a = len(a.ledger()["runs"])

    second = at_b.start()
    wait_for_event(second, "run_triggered", count=2)
    second.kill()
    second.communicate(timeout=30)

    refused = at_a.run()
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert b.base_url in refused.stderr
    assert f"Point --base-url at {b.base_url}" in refused.stderr
    assert len(a.ledger()["runs"]) == done_at_a

    final = tmp_path / "final.json"
    third = at_b.run(report=final)
    assert third.returncode == 0, third.stderr[-3000:]
    assert '"run_reattached"' in third.stderr
    report = json.loads(final.read_text())
    assert report["counts"] == {"COMPLETED": RUNS}
    ids_a = {run["run_id"] for run in a.ledger()["runs"]}
    ids_b = {run["run_id"] for run in b.ledger()["runs"]}
    reported = {run["run_id"] for run in report["runs"]}
    assert reported == ids_a | ids_b
    assert len(ids_a) + len(ids_b) == RUNS
