"""The engine's view model: per-project counts and the latest failures."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from hexbatch import status
from hexbatch.api.client import HexClient
from hexbatch.api.limits import Window, WindowLimiter
from hexbatch.clock import VirtualClock
from hexbatch.engine.core import trigger_waits
from hexbatch.engine.gate import KernelGate
from hexbatch.engine.viewmodel import FailedRun, ProjectRow, WaitReason
from tests.engine.conftest import P1, P2, Harness, HarnessFactory, manifest, project, scenario


async def test_the_view_model_counts_each_project_and_keeps_failures(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """After a batch, each project's row adds up and every failure is listed with its error."""
    failing = project(P1, outcome={"default": "ERRORED"})
    fine = project(P2)
    path = manifest(
        tmp_path,
        [
            {"id": P1, "runs": [{"n": 1}, {"n": 2}]},
            {"id": P2, "runs": [{"n": n} for n in range(3)]},
        ],
    )
    harness: Harness = harness_factory(scenario([failing, fine]))

    report = await harness.run(path)

    engine = harness.run_handle.engine
    assert engine is not None
    view = engine.view_model()
    names = {run.project for run in report.runs}
    assert view.total == 5
    assert view.finished == {status.ERRORED: 2, status.COMPLETED: 3}
    rows = {row.name: row for row in view.projects}
    assert set(rows) == names
    failing_name = next(run.project for run in report.runs if run.status == status.ERRORED)
    fine_name = (names - {failing_name}).pop()
    assert rows[failing_name] == ProjectRow(failing_name, total=2, failed=2)
    assert rows[fine_name] == ProjectRow(fine_name, total=3, completed=3)
    assert rows[fine_name].waiting == 0
    assert view.failed_count == 2
    assert {failure.params for failure in view.failures} == {"n=1", "n=2"}
    assert all(
        isinstance(failure, FailedRun)
        and failure.status == status.ERRORED
        and "\n" not in failure.error
        for failure in view.failures
    )
    assert view.waits == ()


class _Client:
    def __init__(self, advised: float) -> None:
        self.advised = advised

    def trigger_wait(self) -> tuple[float, str]:
        return self.advised, "Hex asked to wait (HTTP 429 Retry-After) before more triggers"


def _context(advised: float, kernel_limit: bool) -> Any:
    gate = KernelGate(anyio.sleep)
    if kernel_limit:
        gate.close()
    return SimpleNamespace(client=_Client(advised), gate=gate)


def test_waits_name_hex_s_quota_and_its_kernel_limit() -> None:
    """Triggers held back by a 429 or a 503 say so; nothing waits when nothing is pending."""
    assert trigger_waits(_context(12.0, kernel_limit=True), pending=3) == (
        WaitReason("Hex asked to wait (HTTP 429 Retry-After) before more triggers", 12.0),
        WaitReason("Hex's kernel limit (HTTP 503), until a run ends"),
    )
    assert trigger_waits(_context(0.0, kernel_limit=False), pending=3) == ()
    assert trigger_waits(_context(12.0, kernel_limit=True), pending=0) == ()


async def test_the_client_says_how_long_its_own_trigger_budget_holds_triggers() -> None:
    """A spent trigger budget is a wait too, not only Hex's 429: the view can say why."""
    clock = VirtualClock()
    triggers = WindowLimiter([Window(2, 60)], clock=clock, sleep=clock.sleep)
    client = HexClient("https://hex.example/api/v1", "hxtp_x", trigger_budget=triggers, clock=clock)

    assert client.trigger_wait() == (0.0, triggers.why(clock()))
    await triggers.acquire()
    clock.advance(10)
    await triggers.acquire()

    left, why = client.trigger_wait()
    assert left == pytest.approx(50)
    assert why == "the requests budget (2 per 60s) is spent"
