"""Backoff and the retry loop, in virtual time."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexbatch.api.retry import Backoff, RetryDecision, RetryPolicy, call_with_retries
from hexbatch.clock import VirtualClock


@given(
    initial=st.floats(min_value=0.01, max_value=10),
    maximum=st.floats(min_value=0.01, max_value=100),
    multiplier=st.floats(min_value=1.0, max_value=4.0),
    n=st.integers(min_value=0, max_value=10_000),
    seed=st.integers(),
)
def test_full_jitter_stays_within_the_cap(
    initial: float, maximum: float, multiplier: float, n: int, seed: int
) -> None:
    """Every wait lies between zero and min(max, initial * multiplier ** n)."""
    backoff = Backoff(initial=initial, max=maximum, multiplier=multiplier)

    wait = backoff.full_jitter(n, random.Random(seed))

    assert 0 <= wait <= backoff.ceiling(n) <= maximum


def test_retry_after_is_a_floor() -> None:
    """The server's Retry-After is never undercut by jitter."""
    policy = RetryPolicy(backoff=Backoff(initial=1, max=2))

    assert policy.delay(0, random.Random(1), retry_after=9.0) == 9.0


async def test_gives_up_after_attempts_and_reraises_the_last_error() -> None:
    """The operation runs `attempts` times, then its own last exception escapes."""
    clock = VirtualClock()
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise ValueError(f"failure {calls}")

    with pytest.raises(ValueError, match="failure 3"):
        await call_with_retries(
            failing,
            policy=RetryPolicy(attempts=3),
            classify=lambda _e: RetryDecision(True),
            clock=clock,
            sleep=clock.sleep,
        )

    assert calls == 3
    assert len(clock.slept) == 2


async def test_total_budget_stops_retrying_early() -> None:
    """No retry starts once the time budget would be exceeded."""
    clock = VirtualClock()
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await call_with_retries(
            failing,
            policy=RetryPolicy(attempts=100, budget=25),
            classify=lambda _e: RetryDecision(True, retry_after=10),
            clock=clock,
            sleep=clock.sleep,
        )

    assert calls == 3
    assert clock() == pytest.approx(20)


async def test_final_errors_are_not_retried() -> None:
    """An error the classifier calls final is raised at once."""
    clock = VirtualClock()
    calls = 0
    seen: list[int] = []

    async def failing() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("transient")
        raise ValueError("final")

    with pytest.raises(ValueError, match="final"):
        await call_with_retries(
            failing,
            policy=RetryPolicy(attempts=5),
            classify=lambda e: RetryDecision(isinstance(e, KeyError)),
            clock=clock,
            sleep=clock.sleep,
            on_retry=lambda _e, n, _w: seen.append(n),
        )

    assert calls == 2
    assert seen == [0]
