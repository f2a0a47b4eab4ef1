"""The token-wide quota ledger: shared windows, fingerprints, priorities (both backends)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from hexbatch.api.limits import QUOTA_STEP, Want
from hexbatch.state import StateStore
from hexbatch.state.ledger import AGING_S, PRESENT_S, RECHECK_S, Ledger, Waiter

TOKEN = "hxtp_ledger_tests_token_0123456789"
TRIGGERS = Want("trigger", ((2, 60.0),))


class Clock:
    """Seconds since the epoch that only move when told to."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stores(state: str) -> Iterator[list[StateStore]]:
    """Three connections to one store, as three processes would have."""
    opened = [StateStore(state) for _ in range(3)]
    yield opened
    for store in opened:
        store.close()


def _ledger(
    store: StateStore, clock: Clock, *, priority: int = 1, token: str = TOKEN, name: str = "a"
) -> Ledger:
    return Ledger(store.database, token, Waiter(f"{name}-waiter", name, priority), clock)


def test_a_window_admits_its_count_then_says_how_long_to_wait(
    stores: list[StateStore], clock: Clock
) -> None:
    """Two per minute: two go, the third waits until the first leaves the window."""
    ledger = _ledger(stores[0], clock)

    assert ledger.reserve([TRIGGERS]) == 0
    clock.now += 10
    assert ledger.reserve([TRIGGERS]) == 0
    clock.now += 5
    wait = ledger.reserve([TRIGGERS])

    assert wait == pytest.approx(45, abs=0.01)
    clock.now += wait
    assert ledger.reserve([TRIGGERS]) == 0
    assert ledger.spent("trigger", 60) == 2


def test_every_process_on_the_token_shares_the_windows(
    stores: list[StateStore], clock: Clock
) -> None:
    """What one process spent, another (or this one after a restart) sees spent."""
    first, restarted = _ledger(stores[0], clock), _ledger(stores[1], clock, name="b")
    first.reserve([TRIGGERS])
    first.reserve([TRIGGERS])

    assert restarted.reserve([TRIGGERS]) == pytest.approx(60, abs=0.01)


def test_other_tokens_have_budgets_of_their_own(stores: list[StateStore], clock: Clock) -> None:
    """A second token's slots are counted apart."""
    ours, theirs = _ledger(stores[0], clock), _ledger(stores[1], clock, token="hxtp_other")
    ours.reserve([TRIGGERS])
    ours.reserve([TRIGGERS])

    assert theirs.reserve([TRIGGERS]) == 0
    assert ours.token != theirs.token


def test_a_trigger_takes_its_trigger_and_request_slots_together_or_not_at_all(
    stores: list[StateStore], clock: Clock
) -> None:
    """When the request window is full, no trigger slot is spent either."""
    ledger = _ledger(stores[0], clock)
    requests = Want("request", ((3, 60.0),), count=2)
    assert ledger.reserve([TRIGGERS, requests]) == 0

    assert ledger.reserve([TRIGGERS, requests]) > 0

    assert (ledger.spent("trigger", 60), ledger.spent("request", 60)) == (1, 2)


def test_the_token_is_never_stored_only_a_fingerprint_keyed_per_store(
    state: str, tmp_path_factory: pytest.TempPathFactory, clock: Clock
) -> None:
    """No table holds the token; two stores fingerprint it differently."""
    with StateStore(state) as store:
        ledger = _ledger(store, clock)
        ledger.reserve([TRIGGERS])
        tables = ["quota_slots", "quota_waiters", "quota_locks", "store_keys"]
        dumped = " ".join(
            str(row)
            for table in tables
            for row in store.database.fetch(f"SELECT * FROM {table}")  # noqa: S608
        )
    other = tmp_path_factory.mktemp("other") / "state.db"
    with StateStore(other) as second:
        elsewhere = _ledger(second, clock)

    assert TOKEN not in dumped
    assert ledger.token in dumped
    assert len(ledger.token) == 32
    assert elsewhere.token != ledger.token


def _fill(store: StateStore, clock: Clock) -> None:
    """Spend both slots of TRIGGERS, 30 s apart, so they free up one at a time."""
    filler = _ledger(store, clock, name="filler")
    filler.reserve([TRIGGERS])
    clock.now += 30
    filler.reserve([TRIGGERS])


def _pass(
    clock: Clock, seconds: float, *waiting: Ledger, wants: Sequence[Want] = (TRIGGERS,)
) -> None:
    """Let ``seconds`` pass while ``waiting`` ask again every QUOTA_STEP, as their budgets
    do while they wait (each is still told to wait)."""
    end = clock.now + seconds
    while clock.now + QUOTA_STEP < end:
        clock.now += QUOTA_STEP
        for ledger in waiting:
            assert ledger.reserve(wants) > 0
    clock.now = end


def test_a_higher_priority_waiter_goes_first(stores: list[StateStore], clock: Clock) -> None:
    """A low backfill waiting for a slot gives way to a high nightly sweep asking later."""
    low, high = (
        _ledger(stores[0], clock, priority=0, name="low"),
        _ledger(stores[1], clock, priority=2, name="high"),
    )
    _fill(stores[2], clock)
    assert low.reserve([TRIGGERS]) > 0  # in line first
    clock.now += 1
    assert high.reserve([TRIGGERS]) > 0

    _pass(clock, 29.1, low, high)  # one slot is free again
    assert low.reserve([TRIGGERS]) == RECHECK_S  # low gives way, and asks again soon
    assert high.reserve([TRIGGERS]) == 0
    clock.now += PRESENT_S + 0.5  # high asks no more
    # None left: the next frees 60 s after the filler's second, at 90 s.
    assert low.reserve([TRIGGERS]) == pytest.approx(29.4 - PRESENT_S, abs=0.01)


def test_waiting_ages_a_low_priority_waiter_up(stores: list[StateStore], clock: Clock) -> None:
    """Twenty minutes of waiting lift low to high's level, and it has waited longer."""
    low, high = (
        _ledger(stores[0], clock, priority=0, name="low"),
        _ledger(stores[1], clock, priority=2, name="high"),
    )
    spent = [Want("trigger", ((1, 1300.0),))]
    _ledger(stores[2], clock, name="filler").reserve(spent)
    assert low.reserve(spent) > 0
    while clock.now < 1_700_000_000 + 2 * AGING_S:
        clock.now += QUOTA_STEP
        assert low.reserve(spent) > 0  # keeps its place in line by asking again
    assert high.reserve(spent) > 0
    while clock.now + QUOTA_STEP < 1_700_001_300:
        clock.now += QUOTA_STEP
        assert low.reserve(spent) > 0
        assert high.reserve(spent) > 0
    clock.now = 1_700_001_300.1  # the slot is free

    assert high.reserve(spent) > 0  # gives way: as high a rank by now, and waiting longer
    assert low.reserve(spent) == 0


def test_a_waiter_that_stopped_asking_holds_nobody_up(
    stores: list[StateStore], clock: Clock
) -> None:
    """A waiter whose process died is forgotten after a while."""
    high, low = (
        _ledger(stores[0], clock, priority=2, name="high"),
        _ledger(stores[1], clock, priority=0, name="low"),
    )
    _fill(stores[2], clock)
    assert high.reserve([TRIGGERS]) > 0  # then its process is killed

    clock.now += 31
    assert low.reserve([TRIGGERS]) == 0  # high was last heard of 31 s ago


def test_a_batch_that_forgets_leaves_the_line(stores: list[StateStore], clock: Clock) -> None:
    """A finished batch's place in line is given up at once."""
    high, low = (
        _ledger(stores[0], clock, priority=2, name="high"),
        _ledger(stores[1], clock, priority=0, name="low"),
    )
    _fill(stores[2], clock)
    high.reserve([TRIGGERS])
    clock.now += 10
    high.reserve([TRIGGERS])  # still in line, heard of 21 s before low asks
    high.forget()

    clock.now += 21
    assert low.reserve([TRIGGERS]) == 0  # one slot free, and nobody ahead


def test_a_trigger_waiter_keeps_its_place_while_its_reads_go_through(
    stores: list[StateStore], clock: Clock
) -> None:
    """A high batch waiting for a trigger slot still polls its live runs: a read it is
    granted meanwhile does not take it out of the trigger line."""
    low, high = (
        _ledger(stores[0], clock, priority=0, name="low"),
        _ledger(stores[1], clock, priority=2, name="high"),
    )
    reads = Want("request", ((100, 60.0),))
    _fill(stores[2], clock)
    assert low.reserve([TRIGGERS]) > 0
    clock.now += 1
    assert high.reserve([TRIGGERS]) > 0
    clock.now += 1
    assert high.reserve([reads]) == 0  # a status read while it waits

    _pass(clock, 28.1, low, high)  # one trigger slot is free again
    assert low.reserve([TRIGGERS]) > 0
    assert high.reserve([TRIGGERS]) == 0


def test_a_batch_waiting_for_a_read_also_stands_in_the_trigger_line(
    stores: list[StateStore], clock: Clock
) -> None:
    """A batch whose reads wait too is in the line of each kind it waits for."""
    low, high = (
        _ledger(stores[0], clock, priority=0, name="low"),
        _ledger(stores[1], clock, priority=2, name="high"),
    )
    reads = Want("request", ((1, 60.0),))
    _fill(stores[2], clock)
    assert high.reserve([reads]) == 0
    assert high.reserve([reads]) > 0  # waits for a read
    assert low.reserve([TRIGGERS]) > 0
    clock.now += 1
    assert high.reserve([TRIGGERS]) > 0  # and for a trigger

    _pass(clock, 29.1, low, high)  # one trigger slot is free again
    assert low.reserve([TRIGGERS]) > 0
    assert high.reserve([TRIGGERS]) == 0


def test_a_waiter_that_gives_way_asks_again_when_the_next_slot_frees(
    stores: list[StateStore], clock: Clock
) -> None:
    """Slots spent a moment apart free up a moment apart: the waiter that let another go
    first is told to come back when the next one frees, so none of them lies idle."""
    start = clock.now
    three = [Want("trigger", ((3, 20.0),))]
    filler = _ledger(stores[2], clock, name="filler")
    for _ in range(3):
        assert filler.reserve(three) == 0
        clock.now += 0.1
    first, second = _ledger(stores[0], clock, name="first"), _ledger(stores[1], clock, name="b")
    assert first.reserve(three) > 0
    clock.now += 1
    assert second.reserve(three) > 0

    _pass(clock, 18.75, first, second, wants=three)  # the first slot is free, the next in 0.05 s
    assert second.reserve(three) == pytest.approx(0.05, abs=1e-3)  # first waited longer
    assert first.reserve(three) == 0
    clock.now = start + 20.1 + 1e-3
    assert second.reserve(three) == 0


def test_a_higher_priority_batch_takes_every_slot_freed_at_the_turn(
    stores: list[StateStore], clock: Clock
) -> None:
    """At a window's turn a high batch that waited takes the freed slots one after another;
    a low batch asking in between gives way, even with slots free, until the high one
    stops asking."""
    four = [Want("trigger", ((4, 20.0),))]
    filler = _ledger(stores[2], clock, name="filler")
    for _ in range(4):
        filler.reserve(four)
    low, high = (
        _ledger(stores[0], clock, priority=0, name="low"),
        _ledger(stores[1], clock, priority=2, name="high"),
    )
    assert low.reserve(four) > 0
    clock.now += 9
    assert high.reserve(four) > 0
    _pass(clock, 11, high, wants=four)  # the window turns: all four slots are free
    assert high.reserve(four) == 0
    clock.now += 0.01
    assert low.reserve(four) == RECHECK_S  # three free, but high is sending
    assert high.reserve(four) == 0
    assert high.reserve(four) == 0  # its last one
    clock.now += PRESENT_S + 0.01  # high asks no more
    assert low.reserve(four) == 0


def test_a_batch_that_never_waited_holds_nobody_up(stores: list[StateStore], clock: Clock) -> None:
    """Slots to spare: a high batch sending one after another is not in anyone's way."""
    low, high = (
        _ledger(stores[0], clock, priority=0, name="low"),
        _ledger(stores[1], clock, priority=2, name="high"),
    )
    four = [Want("trigger", ((4, 20.0),))]
    assert high.reserve(four) == 0
    assert high.reserve(four) == 0
    assert low.reserve(four) == 0


def test_a_batch_back_late_from_its_wait_leaves_the_line_when_served(
    stores: list[StateStore], clock: Clock
) -> None:
    """A high batch whose next trigger came long after its last wait ended (it had nothing
    more to send meanwhile) takes its slot and holds nobody up afterwards."""
    four = [Want("trigger", ((4, 20.0),))]
    filler = _ledger(stores[2], clock, name="filler")
    for _ in range(4):
        filler.reserve(four)
    low, high = (
        _ledger(stores[0], clock, priority=0, name="low"),
        _ledger(stores[1], clock, priority=2, name="high"),
    )
    assert high.reserve(four) > 0
    clock.now += 25  # the window turned 5 s ago

    assert high.reserve(four) == 0
    assert low.reserve(four) == 0


def test_batches_just_served_hold_a_peer_back_a_moment_not_until_the_next_turn(
    stores: list[StateStore], clock: Clock
) -> None:
    """Two batches that waited for the turn and got their slots keep their places for a
    moment; a third of their rank asking then for the last free slot is told to come back
    when that moment is over (they may have nothing more to send), not when the window
    turns again."""
    three = [Want("trigger", ((3, 20.0),))]
    filler = _ledger(stores[2], clock, name="filler")
    for _ in range(3):
        filler.reserve(three)
    first, second = _ledger(stores[0], clock, name="first"), _ledger(stores[1], clock, name="b")
    clock.now += 1
    assert first.reserve(three) > 0
    assert second.reserve(three) > 0
    _pass(clock, 19.1, first, second, wants=three)  # the window turned
    assert first.reserve(three) == 0
    assert second.reserve(three) == 0
    third = _ledger(stores[2], clock, name="third")
    clock.now += 0.01

    assert third.reserve(three) == PRESENT_S  # one slot free, two of its rank just served
    clock.now += PRESENT_S
    assert third.reserve(three) == 0
