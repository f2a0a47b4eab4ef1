"""One token, one budget: batches sharing a store share the token's trigger windows, across
restarts and side by side, and Hex never answers 429 (each state backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from hexbatch import status
from hexbatch.batch import BatchOptions, BatchRun
from hexbatch.manifest import ManifestError, load_manifest
from hexbatch.outcome import BatchReport
from hexbatch.simulator import Scenario, run_simulator
from hexbatch.state import StateStore
from tests.engine.conftest import P1, fast_settings, project, scenario

# Hex's trigger window on the tests' time scale: 3 triggers per 200 scenario seconds (2 s real).
# Long enough that the 2 % margin (40 ms) outlasts a loaded machine's scheduling delays
# between a slot's reservation and its trigger reaching the simulator.
HEX = scenario(
    [project(P1, duration={"min": 5, "max": 10})],
    limits={
        "requests": {"count": 100000, "per": 60},
        "run_project": {"count": 3, "per": 200},
    },
)


def _manifest(folder: Path, name: str, runs: int) -> Path:
    """A manifest stating Hex's trigger window exactly."""
    document: dict[str, Any] = {
        "version": 1,
        "name": name,
        "defaults": {
            "max_in_flight": 10,
            "timeout": "30s",
            "poll": {"initial": "10ms", "max": "50ms", "multiplier": 1.5},
        },
        "limits": {
            "requests": {"count": 100000, "per": "1m"},
            "triggers": {"count": 3, "per": "2s"},
        },
        "projects": [{"id": P1, "runs": [{"batch": name, "n": n} for n in range(runs)]}],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


async def _run(path: Path, served: Any, state: str) -> BatchReport:
    options = BatchOptions(
        base_url=served.base_url, env={"HEX_API_TOKEN": served.token}, state=state
    )
    return await BatchRun(path, options, fast_settings()).execute()


async def test_a_restarted_batch_sees_the_window_its_predecessor_spent(
    tmp_path: Path, state_location: str
) -> None:
    """A second process starting at once (a restart, or the next batch) waits for the window
    the first one filled; with separate stores, the same two batches meet a 429."""
    async with run_simulator(Scenario.from_mapping(HEX)) as sim:
        first = await _run(_manifest(tmp_path, "first", 3), sim, state_location)
        second = await _run(_manifest(tmp_path, "second", 3), sim, state_location)
        shared_429s = sim.ledger.total_throttled
    async with run_simulator(Scenario.from_mapping(HEX)) as sim:
        await _run(_manifest(tmp_path, "first", 3), sim, str(tmp_path / "one.db"))
        await _run(_manifest(tmp_path, "second", 3), sim, str(tmp_path / "two.db"))
        separate_429s = sim.ledger.total_throttled

    assert first.ok
    assert second.ok
    assert shared_429s == 0
    # The second batch's triggers waited for the first one's window to pass (2 s).
    waits = [attempt.quota_wait_ms or 0.0 for run in second.runs for attempt in run.attempts]
    assert max(waits) > 1000
    assert max(a.quota_wait_ms or 0.0 for run in first.runs for a in run.attempts) < 100
    assert all(run.to_json()["attempts"][0]["quota_wait_ms"] is not None for run in second.runs)
    assert separate_429s > 0  # what the ledger prevents


async def test_two_batches_started_together_share_the_window(
    tmp_path: Path, state_location: str
) -> None:
    """A nightly sweep and a backfill on one token: every run completes, no 429."""
    reports: list[BatchReport] = []
    async with run_simulator(Scenario.from_mapping(HEX)) as sim:

        async def drive(name: str) -> None:
            reports.append(await _run(_manifest(tmp_path / name, name, 4), sim, state_location))

        async with anyio.create_task_group() as group:
            group.start_soon(drive, "nightly")
            group.start_soon(drive, "backfill")
        throttled = sim.ledger.total_throttled
        created = len(sim.ledger.runs)

    assert throttled == 0
    assert created == 8
    assert all(run.status == status.COMPLETED for report in reports for run in report.runs)


def test_reserve_leaves_headroom_and_priority_is_read(tmp_path: Path) -> None:
    """limits.reserve comes out of the window of the same length; priority defaults to normal;
    a reserve with no window to come out of, or that leaves nothing, is a manifest error."""
    path = tmp_path / "m.yaml"
    head = f"version: 1\nprojects:\n  - id: {P1}\n"
    path.write_text(
        head + "priority: high\nlimits:\n  triggers: [{count: 20, per: 1m}, {count: 60, per: 1h}]\n"
        "  reserve:\n    triggers: {count: 10, per: 1h}\n",
        "utf-8",
    )
    manifest = load_manifest(path, env={})
    plain = tmp_path / "plain.yaml"
    plain.write_text(head, "utf-8")

    assert [(w.count, w.per) for w in manifest.limits.triggers] == [(20, 60.0), (50, 3600.0)]
    assert manifest.priority == "high"
    assert load_manifest(plain, env={}).priority == "normal"
    path.write_text(
        head + "limits:\n  reserve:\n    triggers: {count: 5, per: 1d}\n"
        "    requests: {count: 30, per: 1m}\n",
        "utf-8",
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    messages = [str(issue) for issue in caught.value.issues]
    assert any(
        "m.yaml:6" in m and "no window of that length" in m and "86400s" in m for m in messages
    )
    assert any("m.yaml:7" in m and "at least one must be left" in m for m in messages)
    path.write_text(head + "priority: urgent\n", "utf-8")
    with pytest.raises(ManifestError, match=r"m.yaml:4.*priority"):
        load_manifest(path, env={})


def test_the_priority_flag_beats_the_manifest(tmp_path: Path, state_location: str) -> None:
    """--priority (BatchOptions.priority) overrides the manifest's priority: in the ledger."""
    path = _manifest(tmp_path, "nightly", 1)
    manifest = load_manifest(path, env={})
    with StateStore(state_location) as store:
        chosen = BatchRun(path, BatchOptions(priority="low"))._quota(
            store, "hxtp_x", manifest, fast_settings()
        )
        default = BatchRun(path, BatchOptions())._quota(store, "hxtp_x", manifest, fast_settings())
        try:
            assert (chosen.ledger.waiter.priority, default.ledger.waiter.priority) == (0, 1)
            assert chosen.ledger.waiter.batch == "nightly"
        finally:
            chosen.close()
            default.close()
