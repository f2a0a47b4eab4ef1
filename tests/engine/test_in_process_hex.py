"""The in-process Hex: the simulator's model behind the engine's protocol, in virtual time."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from hexbatch import status
from hexbatch.clock import SteppingClock
from hexbatch.engine.hexapi import HexService
from hexbatch.errors import NotFoundError, OutcomeUnknownError
from hexbatch.simulator import Scenario
from hexbatch.simulator.inprocess import InProcessHex
from tests.engine.conftest import P1, InProcessHarness, manifest, project, scenario

KERNEL_LOST = status.UNABLE_TO_ALLOCATE_KERNEL


def _retrying_batch(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    sim = scenario(
        [
            project(
                outcome={"rules": [{"when": {"n": 1}, "status": KERNEL_LOST, "first_attempts": 1}]}
            )
        ]
    )
    path = manifest(
        tmp_path,
        [{"id": P1, "runs": [{"n": n} for n in range(5)]}],
        defaults={"retries": {"attempts": 1}},
    )
    return sim, path


async def test_a_batch_in_process_runs_the_same_every_time(tmp_path: Path) -> None:
    """Same scenario, same manifest: the same runs, requests and virtual duration."""
    sim, path = _retrying_batch(tmp_path)
    seen = []
    for _ in range(2):
        harness = InProcessHarness(sim)
        report = await harness.run(path)
        seen.append(
            (
                [(run.key, [a.run_id for a in run.attempts], run.status) for run in report.runs],
                dict(harness.ledger.requests),
                harness.clock(),
            )
        )

    assert seen[0] == seen[1]
    runs, requests, _ = seen[0]
    assert [outcome for _, _, outcome in runs] == [status.COMPLETED] * 5
    assert requests["RunProject"] == 6  # one retry of the run that failed once


async def test_a_batch_in_process_opens_no_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, path = _retrying_batch(tmp_path)
    harness = InProcessHarness(sim)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "socket", refuse)
    report = await harness.run(path)

    assert report.ok


async def test_a_reset_trigger_created_its_run_but_its_outcome_is_unknown() -> None:
    """As over HTTP: the run exists, the answer was lost."""
    faults = [{"operation": "RunProject", "kind": "reset", "every_nth": 1}]
    clock = SteppingClock()
    hex_api: HexService = InProcessHex(
        Scenario.from_mapping(scenario([project()], faults=faults)), clock.source()
    )

    with pytest.raises(OutcomeUnknownError):
        await hex_api.run_project(P1, {"n": 1})

    (run,) = await hex_api.list_runs(P1)
    assert run.status == status.PENDING


async def test_an_unknown_run_is_a_404_as_over_http() -> None:
    hex_api = InProcessHex(Scenario.from_mapping(scenario([project()])), SteppingClock().source())

    with pytest.raises(NotFoundError):
        await hex_api.get_run_status(P1, "00000000-0000-4000-8000-000000000000")


def test_a_fault_only_http_can_show_is_refused() -> None:
    late = [{"operation": "RunProject", "kind": "late_create", "delay": 5, "every_nth": 1}]

    with pytest.raises(ValueError, match="late_create"):
        InProcessHex(
            Scenario.from_mapping(scenario([project()], faults=late)), SteppingClock().source()
        )
