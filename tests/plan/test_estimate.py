"""Estimates before spending: the trigger budget's bound and the makespan from history."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexbatch.api.limits import Window, limiter
from hexbatch.clock import VirtualClock
from hexbatch.estimate import (
    describe_window,
    format_duration,
    makespan_estimate,
    trigger_bound,
    trigger_schedule,
)
from hexbatch.manifest import load_manifest
from hexbatch.plan import Plan, build_plan

ID = "5a8591dd-4039-49df-9202-96385ba3eff8"
OTHER = "7c1e2f3a-0b4d-4e5f-8a9b-0c1d2e3f4a5b"
HEX = (Window(20, 60.0), Window(60, 3600.0))
MINUTE = 60 * 1.02  # every window is stretched by two percent, as the batch does
HOUR = 3600 * 1.02


def _admitted_by_the_limiter(count: int, windows: Sequence[Window]) -> list[float]:
    """When hexbatch's own trigger limiter, on a virtual clock, admits each of ``count``."""
    clock = VirtualClock()
    budget = limiter(windows, clock=clock, sleep=clock.sleep, name="triggers")
    assert budget is not None

    async def admit_all() -> list[float]:
        moments = []
        for _ in range(count):
            await budget.acquire()
            moments.append(clock.now)
        return moments

    return anyio.run(admit_all)


def test_the_first_count_of_the_tightest_window_go_at_once() -> None:
    """20 triggers at 20 a minute are all sent at once: no wait, no binding window."""
    bound = trigger_schedule(20, HEX)
    assert bound.seconds == 0
    assert bound.binding is None
    assert bound.text() == "20 triggers can all be sent at once (at most 20 a minute, 60 an hour)"


def test_the_twenty_first_trigger_waits_a_stretched_minute() -> None:
    """The 21st trigger at 20 a minute goes when the first leaves the window: 61.2 s."""
    bound = trigger_schedule(21, [Window(20, 60.0)])
    assert bound.seconds == pytest.approx(61.2)
    assert bound.binding == Window(20, 60.0)
    assert bound.text() == "21 triggers need at least 1 m 01 s at 20 a minute"


def test_365_triggers_under_hex_limits_need_six_stretched_hours() -> None:
    """60 an hour binds: triggers 361 to 365 go after six full (stretched) hour windows."""
    bound = trigger_schedule(365, HEX)
    assert bound.seconds == pytest.approx(6 * HOUR)  # 22,032 s
    assert bound.binding == Window(60, 3600.0)
    assert bound.text() == "365 triggers need at least 6 h 07 m at 60 an hour"


def test_within_an_hour_the_minute_window_paces_the_triggers() -> None:
    """The 60 of the first hour go in three bursts of 20, a stretched minute apart."""
    assert trigger_bound(60, HEX) == pytest.approx(2 * MINUTE)
    assert trigger_bound(61, HEX) == pytest.approx(HOUR)
    assert trigger_bound(81, HEX) == pytest.approx(HOUR + MINUTE)


def test_a_hundred_thousand_triggers() -> None:
    """1,666 full hours, then two bursts of 20 a minute apart; the hour window binds."""
    bound = trigger_schedule(100_000, HEX)
    assert bound.seconds == pytest.approx(1666 * HOUR + MINUTE)
    assert bound.binding == Window(60, 3600.0)
    assert bound.text() == "100,000 triggers need at least 70 d 19 h at 60 an hour"


def test_no_trigger_windows_send_everything_at_once() -> None:
    """Without trigger windows nothing waits, and the line says no limit is set."""
    bound = trigger_schedule(5, [])
    assert (bound.seconds, bound.binding) == (0.0, None)
    assert bound.text() == "5 triggers: no trigger limit is set, so they can all be sent at once"


@pytest.mark.parametrize(
    "windows",
    [HEX, (Window(3, 10.0), Window(5, 25.0), Window(7, 100.0)), (Window(1, 2.5),)],
    ids=["hex", "three-windows", "one-a-time"],
)
def test_the_bound_is_when_the_limiter_admits_the_last(windows: Sequence[Window]) -> None:
    """For every count up to 200, the bound is the moment hexbatch's limiter admits the last."""
    admitted = _admitted_by_the_limiter(200, windows)
    for count, moment in enumerate(admitted, start=1):
        assert trigger_bound(count, windows) == pytest.approx(moment, abs=1e-6), count


@settings(max_examples=40, deadline=None)
@given(
    windows=st.lists(
        st.builds(
            Window,
            st.integers(1, 6),
            st.sampled_from([0.5, 1.0, 3.0, 7.5, 60.0, 100.0]),
        ),
        min_size=1,
        max_size=3,
    ),
    count=st.integers(1, 40),
)
def test_any_windows_agree_with_the_limiter(windows: list[Window], count: int) -> None:
    """Whatever the windows, the bound equals the limiter's last admission time."""
    last = _admitted_by_the_limiter(count, windows)[-1]
    assert trigger_bound(count, windows) == pytest.approx(last, abs=1e-6)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (12.9, "12 s"),
        (61.2, "1 m 01 s"),
        (45 * 60 + 10, "45 m 10 s"),
        (6 * HOUR, "6 h 07 m"),
        (26 * 3600 + 5 * 60, "1 d 02 h"),
    ],
)
def test_durations_read_in_their_two_largest_units(seconds: float, text: str) -> None:
    """Durations are rounded down to their two largest units (a bound stays a bound)."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("window", "text"),
    [
        (Window(20, 60.0), "20 a minute"),
        (Window(60, 3600.0), "60 an hour"),
        (Window(1000, 86400.0), "1,000 a day"),
        (Window(5, 90.0), "5 every 90s"),
        (Window(2, 1.5), "2 every 1.5s"),
    ],
)
def test_windows_read_as_a_rate(window: Window, text: str) -> None:
    """Common spans read by name, others as every so many seconds."""
    assert describe_window(window) == text


def _plan(tmp_path: Path, projects: str) -> Plan:
    path = tmp_path / "m.yaml"
    path.write_text(f"version: 1\nprojects:\n{projects}", encoding="utf-8")
    return build_plan(load_manifest(path, env={}))


def _runs(tmp_path: Path, count: int) -> Plan:
    return _plan(tmp_path, f"  - id: {ID}\n    matrix: {{n: {list(range(count))}}}\n")


def _keys(plan: Plan) -> list[str]:
    return [item.key for item in plan.items]


def test_four_ten_second_runs_two_at_a_time_take_twenty_seconds(tmp_path: Path) -> None:
    """With no trigger limit, 4 runs of 10 s on 2 workers end after 20 s."""
    plan = _runs(tmp_path, 4)
    durations = dict.fromkeys(_keys(plan), 10.0)
    estimate = makespan_estimate(plan, durations, max_in_flight=2, trigger_windows=())
    assert estimate is not None
    assert estimate.makespan_s == pytest.approx(20.0)
    assert (estimate.runs, estimate.runs_with_history) == (4, 4)
    assert estimate.text() == "estimated makespan 20 s with 2 in flight (history for 4 of 4 runs)"


def test_the_longest_run_goes_first(tmp_path: Path) -> None:
    """Runs of 10, 10 and 20 s on 2 workers: the 20 s run first ends all after 20 s
    (plan order would take 30 s)."""
    plan = _runs(tmp_path, 3)
    first, second, third = _keys(plan)
    durations = {first: 10.0, second: 10.0, third: 20.0}
    estimate = makespan_estimate(plan, durations, max_in_flight=2, trigger_windows=())
    assert estimate is not None
    assert estimate.makespan_s == pytest.approx(20.0)


def test_runs_without_history_take_the_mean_of_the_known(tmp_path: Path) -> None:
    """Known 10 s and 30 s: the third run counts 20 s; one at a time that is 60 s."""
    plan = _runs(tmp_path, 3)
    first, second, _third = _keys(plan)
    durations = {first: 10.0, second: 30.0, "not-in-this-plan": 1000.0}
    estimate = makespan_estimate(plan, durations, max_in_flight=1, trigger_windows=())
    assert estimate is not None
    assert estimate.makespan_s == pytest.approx(60.0)
    assert estimate.runs_with_history == 2


def test_triggers_wait_for_their_window(tmp_path: Path) -> None:
    """One trigger per 10 s: three 100 s runs start at 0, 10.2 and 20.4 s and end at 120.4 s;
    the trigger budget is 20.4 s of it."""
    plan = _runs(tmp_path, 3)
    durations = dict.fromkeys(_keys(plan), 100.0)
    estimate = makespan_estimate(
        plan, durations, max_in_flight=10, trigger_windows=[Window(1, 10.0)]
    )
    assert estimate is not None
    assert estimate.makespan_s == pytest.approx(120.4)
    assert estimate.trigger_bound_s == pytest.approx(20.4)
    assert estimate.bound_share == pytest.approx(20.4 / 120.4)


def test_a_trigger_is_asked_for_only_when_a_worker_is_free(tmp_path: Path) -> None:
    """One worker and one trigger per 10 s: the second 30 s run is triggered when the first
    ends (30 s), long after its window freed, so the batch takes 60 s."""
    plan = _runs(tmp_path, 2)
    durations = dict.fromkeys(_keys(plan), 30.0)
    estimate = makespan_estimate(
        plan, durations, max_in_flight=1, trigger_windows=[Window(1, 10.0)]
    )
    assert estimate is not None
    assert estimate.makespan_s == pytest.approx(60.0)


def test_an_entry_keeps_its_own_max_in_flight(tmp_path: Path) -> None:
    """An entry capped at 1 runs its two 10 s runs one after the other (20 s) while the
    other entry's two run side by side, so 4 workers still need 20 s."""
    plan = _plan(
        tmp_path,
        f"  - id: {ID}\n    max_in_flight: 1\n    matrix: {{n: [1, 2]}}\n"
        f"  - id: {OTHER}\n    matrix: {{n: [1, 2]}}\n",
    )
    durations = dict.fromkeys(_keys(plan), 10.0)
    estimate = makespan_estimate(plan, durations, max_in_flight=4, trigger_windows=())
    assert estimate is not None
    assert estimate.makespan_s == pytest.approx(20.0)


def test_no_history_gives_no_estimate(tmp_path: Path) -> None:
    """Without a duration for any of the plan's runs there is nothing to estimate from."""
    plan = _runs(tmp_path, 3)
    estimate = makespan_estimate(plan, {"another-key": 5.0}, max_in_flight=2, trigger_windows=HEX)
    assert estimate is None


def test_max_in_flight_below_one_is_refused(tmp_path: Path) -> None:
    """A batch needs at least one worker; zero is a caller's mistake, not an endless wait."""
    plan = _runs(tmp_path, 1)
    with pytest.raises(ValueError, match="max_in_flight"):
        makespan_estimate(plan, {_keys(plan)[0]: 1.0}, max_in_flight=0, trigger_windows=())
