"""One time source: virtual clocks for concurrent tasks, and the engine's waits honour it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import anyio

from hexbatch import status
from hexbatch.api.models import RunInfo
from hexbatch.clock import (
    SteppingClock,
    VirtualClock,
    monotonic,
    real_move_on_after,
    real_sleep,
    utc_now,
)
from hexbatch.engine import EngineSettings, WorkItem
from hexbatch.engine.context import BatchContext
from hexbatch.engine.lifecycle import RunLifecycle
from hexbatch.manifest import load_manifest
from hexbatch.outcome import Attempt
from hexbatch.plan import build_plan
from tests.engine.conftest import P1, manifest
from tests.engine.fakes import UnusedHex

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_sleepers_on_a_stepping_clock_wake_in_order_of_their_end() -> None:
    """Three tasks sleeping 3, 1 and 2 s together wake at 1, 2 and 3 s: the clock moves
    only when all of them wait, to the earliest end."""
    clock = SteppingClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock()))

    async with clock.running(), anyio.create_task_group() as group:
        for name, seconds in (("a", 3.0), ("b", 1.0), ("c", 2.0)):
            group.start_soon(sleeper, name, seconds)

    assert woke == [("b", 1.0), ("c", 2.0), ("a", 3.0)]


async def test_a_scope_on_a_stepping_clock_ends_when_its_time_is_up() -> None:
    clock = SteppingClock()

    async with clock.running():
        with clock.move_on_after(5.0) as scope:
            await clock.sleep(10.0)

    assert scope.cancelled_caught
    assert clock() == 5.0


def test_a_virtual_source_reads_its_wall_clock_from_its_own_clock() -> None:
    clock = VirtualClock()
    source = clock.source(NOW, seed=4)
    clock.advance(90)

    assert source.now() == datetime(2026, 3, 1, 9, 1, 30, tzinfo=UTC)
    settings = EngineSettings(time=source)
    assert (settings.clock(), settings.now(), settings.rng) == (90.0, source.now(), source.rng)


class _HangingCancel(UnusedHex):
    """A cancel request whose answer never comes (on the batch's own clock)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.reads = 0

    async def cancel_run(self, project_id: str, run_id: str) -> bool:
        await self.clock.sleep(3600)
        return True

    async def get_run_status(self, project_id: str, run_id: str) -> RunInfo:
        self.reads += 1
        return RunInfo(P1, run_id, None, status.KILLED, None, None, None, None, "API", None)


async def test_the_cancel_grace_period_runs_on_the_batch_time_source(tmp_path: Path) -> None:
    """A cancel that hangs is given up after cancel_grace seconds of the batch's clock."""
    clock = VirtualClock()
    path = manifest(tmp_path, [{"id": P1}])
    (spec,) = build_plan(load_manifest(path)).items
    client = _HangingCancel(clock)
    settings = EngineSettings(time=clock.source(NOW), cancel_grace=30.0)
    attempt = Attempt(triggered_at=NOW, run_id="r1", status=status.RUNNING)
    lifecycle = RunLifecycle(BatchContext(client, settings), WorkItem(spec, [attempt]))

    final = await lifecycle._cancel(attempt, status.TIMED_OUT, "cancelled after its timeout")

    assert final.status == status.TIMED_OUT
    assert client.reads == 0  # the grace period ended inside the hanging cancel


def test_a_batch_runs_on_real_time_unless_told_otherwise() -> None:
    source = EngineSettings().time
    assert (source.clock, source.sleep, source.now) == (monotonic, real_sleep, utc_now)
    assert source.move_on_after is real_move_on_after
