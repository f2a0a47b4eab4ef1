"""StatusBoard: batched reads and the shared rhythm of a project's runs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from hexbatch.api.client import Reservation
from hexbatch.api.limits import Window, WindowLimiter
from hexbatch.api.models import RunInfo, RunsPage
from hexbatch.batch import BatchOptions, run_batch
from hexbatch.clock import VirtualClock
from hexbatch.engine.statuses import StatusBoard
from hexbatch.errors import ServerError
from hexbatch.manifest import PollSettings
from hexbatch.simulator import Scenario, run_simulator
from tests.engine.fakes import UnusedHex

PROJECT = "11111111-1111-4111-8111-111111111111"
POLL = PollSettings(initial=2.0, max=30.0, multiplier=1.5)


def _info(run_id: str, status: str = "RUNNING") -> RunInfo:
    return RunInfo(PROJECT, run_id, None, status, None, None, None, None, "API", None)


class FakeClient(UnusedHex):
    """Answers status and list reads from a dict of statuses, counting requests."""

    def __init__(self, statuses: dict[str, str], *, budget: WindowLimiter | None = None) -> None:
        self.statuses = statuses
        self.request_budget = budget
        self.lists = 0
        self.reads = 0
        self.fail_lists = False

    async def get_run_status(self, project_id: str, run_id: str) -> RunInfo:
        self.reads += 1
        return _info(run_id, self.statuses[run_id])

    async def list_runs_page(
        self, project_id: str, *, limit: int = 25, reservation: Reservation | None = None
    ) -> RunsPage:
        self.lists += 1
        if self.fail_lists:
            raise ServerError("list failed", status=500)
        return RunsPage(tuple(_info(r, s) for r, s in self.statuses.items()), None)


def _board(client: FakeClient, clock: VirtualClock) -> StatusBoard:
    return StatusBoard(client, clock)


def test_a_lone_run_backs_off_on_its_own() -> None:
    """A run alone in its project gets a backoff delay and accepts answers half as old."""
    clock = VirtualClock()
    board = _board(FakeClient({"a": "RUNNING"}), clock)
    board.follow(PROJECT, "a")
    plan = board.plan(PROJECT, POLL, 0, random.Random(1))
    assert 2.0 <= plan.delay <= 3.0
    assert plan.max_age == pytest.approx(plan.delay / 2)


def test_runs_of_one_project_wake_together() -> None:
    """Two runs planned at different moments both wake at the project's next read."""
    clock = VirtualClock()
    board = _board(FakeClient({"a": "RUNNING", "b": "RUNNING"}), clock)
    board.follow(PROJECT, "a")
    board.follow(PROJECT, "b")
    first = board.plan(PROJECT, POLL, 0, random.Random(1))
    clock.now += 0.5
    second = board.plan(PROJECT, POLL, 0, random.Random(2))
    assert first.delay == pytest.approx(2.0)
    assert second.delay == pytest.approx(1.5)


async def test_one_list_serves_every_run_due_together() -> None:
    """Two runs reading at their shared wake-up cost one list request and no status read."""
    clock = VirtualClock()
    client = FakeClient({"a": "RUNNING", "b": "COMPLETED"})
    board = _board(client, clock)
    board.follow(PROJECT, "a")
    board.follow(PROJECT, "b")
    plan = board.plan(PROJECT, POLL, 0, random.Random(1))
    a = await board.read(PROJECT, "a", max_age=plan.max_age)
    b = await board.read(PROJECT, "b", max_age=plan.max_age)
    assert (a.status, b.status) == ("RUNNING", "COMPLETED")
    assert (client.lists, client.reads) == (1, 0)


async def test_a_list_schedules_the_next_one_an_interval_later() -> None:
    """After a list of ten runs with no budget, the next read is poll.max / 10 = 3 s away."""
    clock = VirtualClock()
    runs = {f"r{n}": "RUNNING" for n in range(10)}
    board = _board(FakeClient(runs), clock)
    for run_id in runs:
        board.follow(PROJECT, run_id)
    plan = board.plan(PROJECT, POLL, 0, random.Random(1))
    clock.now += plan.delay
    await board.read(PROJECT, "r0", max_age=plan.max_age)
    assert board.plan(PROJECT, POLL, 1, random.Random(1)).delay == pytest.approx(3.0)


async def test_a_failed_list_still_moves_the_next_read_on() -> None:
    """When the list fails, runs fall back to their own read and do not retry it at once."""
    clock = VirtualClock()
    client = FakeClient({"a": "RUNNING", "b": "RUNNING"})
    client.fail_lists = True
    board = _board(client, clock)
    board.follow(PROJECT, "a")
    board.follow(PROJECT, "b")
    plan = board.plan(PROJECT, POLL, 0, random.Random(1))
    clock.now += plan.delay
    info = await board.read(PROJECT, "a", max_age=plan.max_age)
    assert (info.status, client.reads) == ("RUNNING", 1)
    assert board.plan(PROJECT, POLL, 1, random.Random(1)).delay > 0


def test_the_request_budget_slows_the_shared_rhythm() -> None:
    """At 60 requests a minute, status reads get a quarter: one list every 4 s, not every 3 s."""
    clock = VirtualClock()
    budget = WindowLimiter([Window(60, 60.0)], clock=clock, sleep=clock.sleep)
    runs = {f"r{n}": "RUNNING" for n in range(10)}
    board = _board(FakeClient(runs, budget=budget), clock)
    for run_id in runs:
        board.follow(PROJECT, run_id)
    board.plan(PROJECT, POLL, 0, random.Random(1))
    assert board.plan(PROJECT, POLL, 0, random.Random(1)).max_age == pytest.approx(2.0)


async def test_reads_slow_down_as_the_budget_fills_and_speed_up_as_it_drains() -> None:
    """What triggers and retries spent is not there to read: with three quarters of the
    window spent, the shared rhythm is four times slower; a window later it is back."""
    clock = VirtualClock()
    budget = WindowLimiter([Window(60, 60.0)], clock=clock, sleep=clock.sleep)
    runs = {f"r{n}": "RUNNING" for n in range(10)}
    board = _board(FakeClient(runs, budget=budget), clock)
    for run_id in runs:
        board.follow(PROJECT, run_id)
    fresh = board.plan(PROJECT, POLL, 0, random.Random(1)).max_age

    await budget.acquire(45)
    busy = board.plan(PROJECT, POLL, 0, random.Random(1)).max_age
    clock.advance(61.0)
    drained = board.plan(PROJECT, POLL, 0, random.Random(1)).max_age

    assert fresh == pytest.approx(2.0)
    assert busy == pytest.approx(8.0)
    assert drained == pytest.approx(2.0)


def test_headroom_is_the_fullest_windows_unused_share() -> None:
    """Of a minute and an hour window, the fuller one decides."""
    clock = VirtualClock()
    budget = WindowLimiter([Window(10, 60.0), Window(20, 3600.0)], clock=clock)
    for _ in range(15):
        budget._record(clock())
        clock.advance(10.0)
    # 5 of the last 60 s are in the minute window (half free); 15 of 20 in the hour (1/4).
    assert budget.headroom(clock()) == pytest.approx(0.25)


def test_live_count_follows_and_forgets() -> None:
    """Following twice counts once; forgetting removes the run from the totals."""
    board = _board(FakeClient({}), VirtualClock())
    board.follow(PROJECT, "a")
    board.follow(PROJECT, "a")
    board.follow(PROJECT, "b")
    board.forget(PROJECT, "a")
    assert (board.live_count(), board.live_count(PROJECT)) == (1, 1)


async def test_a_batch_reads_one_projects_runs_with_shared_lists(tmp_path: Path) -> None:
    """Eight runs alive in one project are followed by list reads, not one status read each."""
    scenario = Scenario.from_mapping(
        {
            "seed": 5,
            "time_scale": 0.01,
            "tokens": [{"value": "hxtp_rhythm", "name": "rhythm"}],
            "projects": [
                {"id": PROJECT, "title": "Rhythm", "pending": 1, "duration": {"min": 20, "max": 30}}
            ],
            "limits": {
                "requests": {"count": 100000, "per": 60},
                "run_project": {"count": 100000, "per": 60},
            },
        }
    )
    document = {
        "version": 1,
        "defaults": {
            "max_in_flight": 8,
            "poll": {"initial": "10ms", "max": "80ms", "multiplier": 1.5},
        },
        "limits": {"requests": {"count": 100000, "per": "1m"}},
        "projects": [{"id": PROJECT, "runs": [{"n": n} for n in range(8)]}],
    }
    path = tmp_path / "rhythm.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    async with run_simulator(scenario) as simulator:
        options = BatchOptions(
            base_url=simulator.base_url, env={"HEX_API_TOKEN": simulator.token}, stateless=True
        )
        report = await run_batch(path, options)
    assert report.counts() == {"COMPLETED": 8}
    # Status reads: while a run was alone in its project, and one per run whose end a list
    # page showed, for its state events (the budget is ample here).
    assert report.requests.get("status", 0) <= 2 + 8
    assert report.requests["list"] > 0


def test_a_tiny_budget_never_stretches_reads_beyond_poll_max() -> None:
    """At one request a minute the share would allow a read every 4 min; poll.max (30 s) wins."""
    clock = VirtualClock()
    budget = WindowLimiter([Window(1, 60.0)], clock=clock, sleep=clock.sleep)
    board = _board(FakeClient({"a": "RUNNING"}, budget=budget), clock)
    board.follow(PROJECT, "a")
    assert board.plan(PROJECT, POLL, 0, random.Random(1)).delay == 30.0


def test_foreseen_runs_halve_the_shared_pace() -> None:
    """When every live run of a project knows its own end, the shared reads slow down."""
    clock = VirtualClock()
    board = _board(FakeClient({"a": "RUNNING", "b": "RUNNING"}), clock)
    board.follow(PROJECT, "a")
    board.follow(PROJECT, "b")
    usual = board.plan(PROJECT, POLL, 0, random.Random(1)).max_age

    board.foresee(PROJECT, "a")
    one_foreseen = board.plan(PROJECT, POLL, 0, random.Random(1)).max_age
    board.foresee(PROJECT, "b")
    all_foreseen = board.plan(PROJECT, POLL, 0, random.Random(1)).max_age

    assert one_foreseen == pytest.approx(usual)
    assert all_foreseen == pytest.approx(min(POLL.max, 2 * 2 * usual) / 2)
