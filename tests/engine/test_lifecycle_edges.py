"""Edges of a run's life: stopping while waiting, deadlines, and which runs may be adopted."""

from __future__ import annotations

import itertools
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from hexbatch import status
from hexbatch.api.client import Timeouts
from hexbatch.api.models import RunInfo
from hexbatch.clock import VirtualClock
from hexbatch.engine import EngineSettings, WorkItem
from hexbatch.engine.context import BatchContext
from hexbatch.engine.journal import NullJournal
from hexbatch.engine.lifecycle import RunLifecycle
from hexbatch.engine.run_state import TriggerIntent, may_be_new
from hexbatch.manifest import load_manifest
from hexbatch.plan import build_plan
from hexbatch.state import StateError
from tests.engine.conftest import (
    P1,
    Harness,
    HarnessFactory,
    InProcessHarness,
    manifest,
    project,
    scenario,
)
from tests.engine.fakes import UnusedHex

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def _info(state: str, started: datetime | None) -> RunInfo:
    return RunInfo(P1, "r", None, state, started, None, None, None, "API", None)


def test_only_runs_that_may_be_new_are_adoption_candidates() -> None:
    """A run that ended without ever starting may be of any age, so it is never adopted."""
    earliest = NOW - timedelta(seconds=15)

    assert may_be_new(_info(status.RUNNING, NOW), earliest)
    assert not may_be_new(_info(status.COMPLETED, NOW - timedelta(hours=1)), earliest)
    assert may_be_new(_info(status.PENDING, None), earliest)
    assert not may_be_new(_info(status.UNABLE_TO_ALLOCATE_KERNEL, None), earliest)


async def _when(condition: Any, action: Any) -> None:
    """Call ``action`` once ``condition`` holds (checked every 10 ms, for 20 s at most)."""
    with anyio.fail_after(20):
        while not condition():  # noqa: ASYNC110 - the simulator offers no event to wait on
            await anyio.sleep(0.01)
    action()


async def test_a_stop_reaches_triggers_waiting_for_the_trigger_budget(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """Runs waiting for the trigger budget when the batch stops are never sent."""
    path = manifest(
        tmp_path,
        [{"id": P1, "runs": [{"n": n} for n in range(4)]}],
        limits={"requests": {"count": 1000, "per": "1m"}, "triggers": {"count": 1, "per": "3s"}},
    )
    harness: Harness = harness_factory(scenario([project()]))

    async with anyio.create_task_group() as group:
        group.start_soon(
            _when, lambda: harness.ledger and harness.ledger.runs, lambda: harness.control.stop("t")
        )
        report = await harness.run(path)

    assert harness.ledger is not None
    assert len(harness.ledger.runs) == 1
    assert [r.status for r in report.runs].count(status.SKIPPED) == 3


async def test_a_cancelling_interrupt_ends_the_preflight_check(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """The second interrupt does not wait for a slow preflight: nothing runs, all SKIPPED."""
    slow = [{"operation": "GetProject", "kind": "latency", "delay": 6000, "every_nth": 1}]
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}])
    harness: Harness = harness_factory(scenario([project()], faults=slow))

    with anyio.fail_after(15):
        async with anyio.create_task_group() as group:
            group.start_soon(
                _when,
                lambda: harness.ledger and harness.ledger.requests["GetProject"],
                lambda: harness.control.cancel_live("t"),
            )
            report = await harness.run(path)

    assert report.counts() == {status.SKIPPED: 2}
    assert harness.ledger is not None
    assert harness.ledger.runs == []


async def test_a_run_that_ends_at_its_deadline_keeps_its_own_status(tmp_path: Path) -> None:
    """A run that ended just before its timeout, unseen yet, is not reported TIMED_OUT."""
    ends_first = project(pending=2, duration=24, outcome={"default": "ERRORED"})  # 0.26 s
    path = manifest(
        tmp_path,
        [{"id": P1, "timeout": "400ms", "poll": {"initial": "250ms", "max": "2s"}}],
    )
    harness = InProcessHarness(scenario([ends_first]))

    report = await harness.run(path)

    (run,) = report.runs
    assert run.status == status.ERRORED
    assert report.requests.get("cancel", 0) == 0


class _TimedClient(UnusedHex):
    """A run that starts at 1 s and ends at 11 s of virtual time, read as Hex would show it."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.request_budget = None
        self.reads: list[float] = []

    def read_wait(self) -> float:
        return 0.0

    async def get_run_status(self, project_id: str, run_id: str) -> RunInfo:
        self.reads.append(self.clock())
        done = self.clock() >= 11.0
        return RunInfo(
            project_id,
            run_id,
            None,
            status.COMPLETED if done else status.RUNNING,
            NOW + timedelta(seconds=1),
            NOW + timedelta(seconds=11) if done else None,
            10_000.0 if done else None,
            None,
            "API",
            None,
        )


async def test_a_run_with_a_known_duration_is_read_right_at_its_end(tmp_path: Path) -> None:
    """History says the run takes 10 s: it is read just after 11 s, not at its next backoff."""
    from hexbatch.clock import VirtualClock
    from hexbatch.engine import EngineSettings, WorkItem
    from hexbatch.engine.context import BatchContext
    from hexbatch.engine.lifecycle import RunLifecycle
    from hexbatch.manifest import load_manifest
    from hexbatch.outcome import Attempt
    from hexbatch.plan import build_plan

    clock = VirtualClock()
    path = manifest(tmp_path, [{"id": P1, "poll": {"initial": "2s", "max": "30s"}}])
    (spec,) = build_plan(load_manifest(path)).items
    client = _TimedClient(clock)
    settings = EngineSettings(time=clock.source(NOW), durations={spec.key: 10.0})
    context = BatchContext(client=client, settings=settings)
    attempt = Attempt(triggered_at=NOW, run_id="r1", status=status.PENDING)
    lifecycle = RunLifecycle(context, WorkItem(spec, [attempt]))

    final = await lifecycle._follow(attempt)

    assert final.status == status.COMPLETED
    assert client.reads[-1] == pytest.approx(11.005, abs=0.001)
    assert all(read < 11.0 for read in client.reads[:-1])


class _LateListing(UnusedHex):
    """A run list where the ambiguous trigger's run shows up only at ``appears_at``."""

    timeouts = Timeouts(total=60.0)

    def __init__(self, clock: VirtualClock, appears_at: float) -> None:
        self.clock = clock
        self.appears_at = appears_at
        self.listed_at: list[float] = []

    async def list_runs(self, project_id: str, *, max_runs: int | None = None) -> list[RunInfo]:
        self.listed_at.append(self.clock())
        if self.clock() < self.appears_at:
            return []
        return [
            RunInfo(project_id, "late", None, status.PENDING, None, None, None, None, "API", None)
        ]


@pytest.mark.parametrize(("appears_at", "adopted"), [(70.0, True), (80.0, False)])
async def test_no_run_is_concluded_only_after_the_request_timeout_plus_skew(
    tmp_path: Path, appears_at: float, adopted: bool
) -> None:
    """Hex may create a run after the client gave up waiting for its answer (60 s): a run
    appearing 70 s after the trigger is still found; "none" is said only after 75 s."""
    clock = VirtualClock()
    path = manifest(tmp_path, [{"id": P1, "poll": {"initial": "1s", "max": "10s"}}])
    (spec,) = build_plan(load_manifest(path)).items
    client = _LateListing(clock, appears_at)
    settings = EngineSettings(time=clock.source(NOW))
    lifecycle = RunLifecycle(BatchContext(client=client, settings=settings), WorkItem(spec))

    found = await lifecycle._reconcile(TriggerIntent(1, NOW, 0.0, frozenset()))

    if adopted:
        assert isinstance(found, RunInfo)
        assert found.run_id == "late"
    else:
        assert found is None
        assert clock() >= 75.0
    assert all(b - a <= 10.0 + 1e-9 for a, b in itertools.pairwise(client.listed_at))


class _Listing(UnusedHex):
    """A run list that always shows the same runs."""

    timeouts = Timeouts(total=60.0)

    def __init__(self, *run_ids: str) -> None:
        self.runs = [
            RunInfo(P1, run_id, None, status.PENDING, None, None, None, None, "API", None)
            for run_id in run_ids
        ]

    async def list_runs(self, project_id: str, *, max_runs: int | None = None) -> list[RunInfo]:
        return list(self.runs)


class _RecordsOfOtherBatches(NullJournal):
    """A journal whose store says ``taken`` were claimed by earlier batches."""

    def __init__(self, taken: set[str], error: StateError | None = None) -> None:
        self.taken = taken
        self.error = error
        self.asked: list[set[str]] = []

    def claimed(self, run_ids: AbstractSet[str]) -> AbstractSet[str]:
        self.asked.append(set(run_ids))
        if self.error is not None:
            raise self.error
        return self.taken & run_ids


def _reconciling(tmp_path: Path, listing: _Listing, journal: NullJournal) -> RunLifecycle:
    clock = VirtualClock()
    path = manifest(tmp_path, [{"id": P1, "poll": {"initial": "1s", "max": "10s"}}])
    (spec,) = build_plan(load_manifest(path)).items
    settings = EngineSettings(time=clock.source(NOW))
    context = BatchContext(client=listing, settings=settings, journal=journal)
    context.claimed.add("ours")
    return RunLifecycle(context, WorkItem(spec))


async def test_a_run_another_batch_claimed_is_looked_up_and_never_adopted(
    tmp_path: Path,
) -> None:
    """Only the runs still in question are asked of the journal (not this batch's own, not
    the snapshot's); the one an earlier batch claimed is passed over, the other adopted."""
    journal = _RecordsOfOtherBatches({"old-batch's"})
    listing = _Listing("ours", "in-snapshot", "old-batch's", "new")
    lifecycle = _reconciling(tmp_path, listing, journal)

    found = await lifecycle._reconcile(TriggerIntent(1, NOW, 0.0, frozenset({"in-snapshot"})))

    assert isinstance(found, RunInfo)
    assert found.run_id == "new"
    assert journal.asked == [{"old-batch's", "new"}]


async def test_when_only_claimed_runs_are_listed_none_is_adopted(tmp_path: Path) -> None:
    """Every listed run belongs to some batch: the trigger created nothing, and the lookup's
    answer is kept, so the same run is not asked about again at the next read."""
    journal = _RecordsOfOtherBatches({"old-batch's"})
    lifecycle = _reconciling(tmp_path, _Listing("old-batch's"), journal)

    found = await lifecycle._reconcile(TriggerIntent(1, NOW, 0.0, frozenset()))

    assert found is None
    assert journal.asked == [{"old-batch's"}]


async def test_a_store_that_cannot_tell_whether_a_run_is_claimed_adopts_nothing(
    tmp_path: Path,
) -> None:
    """When the records cannot be read, a listed run may be another batch's: UNKNOWN,
    neither adopted nor retriggered."""
    journal = _RecordsOfOtherBatches(set(), StateError("state.db failed while trying to read"))
    lifecycle = _reconciling(tmp_path, _Listing("new"), journal)

    found = await lifecycle._reconcile(TriggerIntent(1, NOW, 0.0, frozenset()))

    assert not isinstance(found, RunInfo)
    assert found is not None
    assert found.status == status.UNKNOWN
    assert "state store could not tell" in (found.error or "")
    assert "state.db failed" in (found.error or "")
