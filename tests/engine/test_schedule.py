"""The poll rhythm's rules: lone backoff, shared interval and the budget's floor."""

from __future__ import annotations

import math
import random

import pytest

from hexbatch.engine.schedule import (
    STATUS_SHARE,
    budget_interval,
    paced,
    poll_delay,
    shared_interval,
)
from hexbatch.manifest import PollSettings

POLL = PollSettings(initial=2.0, max=30.0, multiplier=1.5)


def test_poll_delay_stays_between_initial_and_the_grown_ceiling() -> None:
    """Poll 3 waits between 2 s and 2 * 1.5**3 = 6.75 s."""
    rng = random.Random(1)
    delays = [poll_delay(POLL, 3, rng) for _ in range(200)]
    assert min(delays) >= 2.0
    assert max(delays) <= 6.75


def test_poll_delay_is_capped_at_max() -> None:
    """However many polls came before, no wait exceeds poll.max."""
    rng = random.Random(2)
    assert max(poll_delay(POLL, 500, rng) for _ in range(200)) <= 30.0


def test_shared_interval_of_a_lone_run_is_the_cap() -> None:
    """A read that serves one run is sent every poll.max."""
    assert shared_interval(POLL, 1) == 30.0


def test_shared_interval_shrinks_with_the_runs_one_read_serves() -> None:
    """Ten runs served by one read make it worth sending every 3 s."""
    assert shared_interval(POLL, 10) == pytest.approx(3.0)


def test_shared_interval_never_drops_below_initial() -> None:
    """A hundred runs still do not make the project's reads faster than poll.initial."""
    assert shared_interval(POLL, 100) == 2.0


def test_budget_interval_is_zero_without_a_budget() -> None:
    """With no request budget, the budget sets no floor."""
    assert budget_interval(math.inf, 10, 10) == 0.0


def test_budget_interval_keeps_status_reads_within_their_share() -> None:
    """One project holding every live run may read 1/(rate * share) apart: 4 s at 1 request/s."""
    assert budget_interval(1.0, 10, 10) == pytest.approx(1 / STATUS_SHARE)


def test_budget_interval_splits_the_share_by_live_runs() -> None:
    """A project with a quarter of the live runs gets a quarter of the reads."""
    assert budget_interval(1.0, 8, 2) == pytest.approx(4 * budget_interval(1.0, 8, 8))


def test_paced_slows_a_wanted_interval_to_the_budget_floor() -> None:
    """A 3 s rhythm under a 4 s budget floor becomes 4 s."""
    assert paced(POLL, 3.0, 4.0) == 4.0


def test_paced_never_exceeds_poll_max() -> None:
    """A budget floor of 80 s still reads every poll.max (30 s): the limiter enforces the rest."""
    assert paced(POLL, 3.0, 80.0) == 30.0
