"""Request and trigger budgets: no window is ever exceeded, in virtual time."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from hexbatch.api.limits import Window, WindowLimiter, acquire_together, limiter
from hexbatch.clock import VirtualClock
from hexbatch.state.ledger import STALE_S


def _max_in_any_window(times: list[float], per: float) -> int:
    """The largest number of events inside any half-open interval of length ``per``."""
    times = sorted(times)
    best = 0
    start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= per:
            start += 1
        best = max(best, end - start + 1)
    return best


windows_strategy = st.lists(
    st.builds(
        Window,
        count=st.integers(min_value=1, max_value=8),
        per=st.floats(min_value=0.5, max_value=100.0),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(
    windows=windows_strategy,
    gaps=st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=1, max_size=60),
)
async def test_no_window_is_ever_exceeded(windows: list[Window], gaps: list[float]) -> None:
    """Whatever the arrival pattern, every window holds at most its count of admissions."""
    clock = VirtualClock()
    budget = WindowLimiter(windows, clock=clock, sleep=clock.sleep)
    admitted: list[float] = []

    for gap in gaps:
        clock.advance(gap)
        await budget.acquire()
        admitted.append(clock())

    for window in windows:
        assert _max_in_any_window(admitted, window.per) <= window.count


@settings(max_examples=50, deadline=None)
@given(windows=windows_strategy, callers=st.integers(min_value=2, max_value=12))
async def test_concurrent_callers_share_one_budget(windows: list[Window], callers: int) -> None:
    """Many tasks acquiring at once are admitted within every window too."""
    clock = VirtualClock()
    budget = WindowLimiter(windows, clock=clock, sleep=clock.sleep)
    admitted: list[float] = []

    async def caller() -> None:
        for _ in range(3):
            await budget.acquire()
            admitted.append(clock())

    async with anyio.create_task_group() as group:
        for _ in range(callers):
            group.start_soon(caller)

    assert len(admitted) == 3 * callers
    for window in windows:
        assert _max_in_any_window(admitted, window.per) <= window.count


async def test_hex_defaults_admit_twenty_triggers_then_wait_a_minute() -> None:
    """With 20/min and 60/h, the 21st trigger waits for the minute, the 61st for the hour."""
    clock = VirtualClock()
    triggers = WindowLimiter([Window(20, 60), Window(60, 3600)], clock=clock, sleep=clock.sleep)

    times = []
    for _ in range(61):
        await triggers.acquire()
        times.append(clock())

    assert times[19] == 0
    assert times[20] == pytest.approx(60)
    assert times[59] == pytest.approx(120)
    assert times[60] == pytest.approx(3600)


async def test_penalty_pauses_and_shrinks_then_recovers() -> None:
    """After a 429 everyone waits the advised time, the budget shrinks, then grows back."""
    clock = VirtualClock()
    budget = WindowLimiter([Window(8, 10)], clock=clock, sleep=clock.sleep)
    await budget.acquire()

    budget.penalize(retry_after=5)
    await budget.acquire()

    assert clock() == pytest.approx(5)
    assert budget.scale == pytest.approx(0.75)
    assert budget.rate() == pytest.approx(0.6)
    assert budget.penalties == 1
    clock.advance(11)
    await budget.acquire()
    assert budget.scale == 1.0


async def test_safety_margin_stretches_windows() -> None:
    """A safety margin keeps admissions apart by a little more than the window."""
    clock = VirtualClock()
    budget = WindowLimiter([Window(1, 10)], clock=clock, sleep=clock.sleep, safety=0.1)

    await budget.acquire()
    await budget.acquire()

    assert clock() == pytest.approx(11)


def test_window_rejects_nonsense() -> None:
    """A window needs a positive count and length."""
    with pytest.raises(ValueError, match="count >= 1"):
        Window(0, 60)


def test_limiter_helper_returns_none_without_windows() -> None:
    """No windows means no limiter at all (nothing to wait for)."""
    assert limiter([]) is None
    built = limiter([Window(60, 60)])
    assert built is not None
    assert "60/60s" in repr(built)


@settings(max_examples=100, deadline=None)
@given(
    windows=windows_strategy,
    counts=st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=30),
)
async def test_admitting_several_at_once_never_exceeds_a_window(
    windows: list[Window], counts: list[int]
) -> None:
    """Slots taken in groups (a trigger with its snapshot read) still respect every window."""
    clock = VirtualClock()
    budget = WindowLimiter(windows, clock=clock, sleep=clock.sleep)
    times: list[float] = []
    for count in counts:
        await budget.acquire(count)
        granted = min([count, *(w.count for w in windows)])
        times.extend([clock()] * granted)
    for window in windows:
        assert _max_in_any_window(times, window.per) <= window.count


async def test_a_trigger_is_admitted_by_both_budgets_at_one_instant() -> None:
    """A trigger that waits for the request budget is recorded by the trigger budget when it
    is admitted by both, so a delayed trigger cannot bunch with later ones."""
    clock = VirtualClock()
    triggers = WindowLimiter([Window(2, 1)], clock=clock, sleep=clock.sleep, name="triggers")
    requests = WindowLimiter([Window(3, 1)], clock=clock, sleep=clock.sleep)
    for _ in range(3):  # the preflight fills the request window at t=0
        await requests.acquire()
    sent: list[float] = []

    async def trigger() -> None:
        await acquire_together(triggers, requests)
        sent.append(clock())

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(trigger)

    assert _max_in_any_window(sent, 1.0) <= 2
    assert sent[0] == pytest.approx(1.0, abs=1e-6)  # held by the request window, then sent


async def test_a_huge_retry_after_pauses_at_most_the_longest_window_but_is_remembered() -> None:
    """A Retry-After of weeks pauses for the longest window; the advised wait stays known."""
    clock = VirtualClock()
    budget = WindowLimiter([Window(20, 60), Window(60, 3600)], clock=clock, sleep=clock.sleep)

    budget.penalize(retry_after=3.6e6)

    assert budget.delay(clock()) == pytest.approx(3600, abs=1e-3)
    assert budget.advised_wait(clock()) == pytest.approx(3.6e6)
    assert "Retry-After" in budget.why(clock())


async def test_a_long_budget_wait_is_logged_with_its_length_and_reason() -> None:
    """Waits longer than a few seconds say how long and why."""
    clock = VirtualClock()
    budget = WindowLimiter([Window(1, 60)], clock=clock, sleep=clock.sleep, name="triggers")
    await budget.acquire()

    with capture_logs() as logs:
        await budget.acquire()

    (event,) = [entry for entry in logs if entry["event"] == "budget_waiting"]
    assert event["budget"] == "triggers"
    assert event["wait_s"] == pytest.approx(60, abs=0.1)
    assert "1 per 60s" in event["reason"]


class _SpentQuota:
    """A token's shared ledger whose slots are all spent until ``free_at``."""

    def __init__(self, clock: VirtualClock, free_at: float) -> None:
        self.clock = clock
        self.free_at = free_at
        self.asked: list[float] = []

    async def reserve(self, wants: object) -> float:
        self.asked.append(self.clock())
        return max(0.0, self.free_at - self.clock())


@pytest.mark.parametrize("together", [False, True], ids=["read", "trigger"])
async def test_a_long_wait_for_the_shared_quota_keeps_the_batch_in_line(together: bool) -> None:
    """Waiting an hour for the token's quota, a budget asks the ledger again well within the
    time after which the ledger takes a silent waiter for gone, and logs the wait once, with
    its whole length."""
    clock = VirtualClock()
    quota = _SpentQuota(clock, free_at=3600.0)
    budget = WindowLimiter(
        [Window(60, 3600)], clock=clock, sleep=clock.sleep, name="triggers", shared=quota
    )
    requests = WindowLimiter([Window(30, 60)], clock=clock, sleep=clock.sleep, shared=quota)

    with capture_logs() as logs:
        if together:
            await acquire_together(budget, requests)
        else:
            await budget.acquire()

    gaps = [b - a for a, b in zip(quota.asked, quota.asked[1:], strict=False)]
    assert clock() == pytest.approx(3600, abs=1e-3)
    assert max(gaps) <= STALE_S / 2
    (event,) = [entry for entry in logs if entry["event"] == "budget_waiting"]
    assert event["wait_s"] == pytest.approx(3600, abs=0.1)
    assert budget.waited == pytest.approx(3600, abs=1e-3)
