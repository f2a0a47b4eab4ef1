"""Leases: one driver per batch name; a holder presumed dead is taken over (both backends)."""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest

from hexbatch.state import LeaseHeldError, LeaseLostError, StateStore
from hexbatch.state.leases import Claimant, Lease
from tests.state.conftest import age_lease, at, new_batch


def _claimant(host: str, pid: int = 4242, ttl_s: float = 30.0, *, alive: bool = True) -> Claimant:
    return Claimant(host, pid, timedelta(seconds=ttl_s), alive=lambda _pid: alive)


def test_a_held_lease_is_refused_naming_its_holder(store: StateStore) -> None:
    """The second claimant learns who drives the batch and when it was last seen."""
    first, replaced = store.take_lease("nightly", _claimant("ci-7", pid=311))

    with pytest.raises(LeaseHeldError) as caught:
        store.take_lease("nightly", _claimant("ci-9"))

    assert replaced is None
    assert caught.value.lease == first
    message = str(caught.value)
    assert "process 311 on host ci-7" in message
    assert "last seen 0 s ago" in message
    assert caught.value.pid == 311


def test_different_batch_names_are_held_side_by_side(store: StateStore) -> None:
    """Leases are per batch, not per store: two manifests run on one store at once."""
    one, _ = store.take_lease("nightly", _claimant("a"))
    two, _ = store.take_lease("backfill", _claimant("b"))

    assert (store.lease("nightly"), store.lease("backfill")) == (one, two)


def test_a_dead_holder_on_this_host_is_taken_over_at_once(store: StateStore) -> None:
    """Same host, process gone: no need to wait for the TTL."""
    store.take_lease("nightly", _claimant("here", pid=999_999))

    lease, replaced = store.take_lease("nightly", _claimant("here", pid=12, alive=False))

    assert replaced is not None
    assert replaced.pid == 999_999
    assert (lease.host, lease.pid) == ("here", 12)
    assert store.lease("nightly") == lease


def test_a_dead_pid_on_another_host_means_nothing(store: StateStore) -> None:
    """A pid is only checked on its own host: elsewhere the same number is another process."""
    store.take_lease("nightly", _claimant("there", pid=7))

    with pytest.raises(LeaseHeldError):
        store.take_lease("nightly", _claimant("here", pid=8, alive=False))


def test_a_silent_holder_elsewhere_is_taken_over_after_its_ttl(store: StateStore) -> None:
    """Within the TTL the holder keeps the batch; past it, the next claimant takes it."""
    store.take_lease("nightly", _claimant("a", ttl_s=30))
    age_lease(store, "nightly", 25)
    with pytest.raises(LeaseHeldError, match="last seen 25 s ago"):
        store.take_lease("nightly", _claimant("b"))

    age_lease(store, "nightly", 31)
    lease, replaced = store.take_lease("nightly", _claimant("b"))

    assert replaced is not None
    assert replaced.host == "a"
    assert lease.host == "b"


def test_the_holders_own_ttl_decides(store: StateStore) -> None:
    """A holder that promised to renew within 5 minutes is not taken over after one, whatever
    the claimant's own TTL."""
    store.take_lease("nightly", _claimant("a", ttl_s=300))
    age_lease(store, "nightly", 60)

    with pytest.raises(LeaseHeldError):
        store.take_lease("nightly", _claimant("b", ttl_s=5))


def test_a_lease_left_behind_by_this_process_is_taken_over(store: StateStore) -> None:
    """An earlier batch of this very process that could not release its lease (a full disk)
    does not lock the batch until the TTL; one it still holds does."""
    held, _ = store.take_lease("nightly")
    with pytest.raises(LeaseHeldError):
        store.take_lease("nightly")

    store.database.execute(
        "UPDATE leases SET holder = 'left-behind' WHERE name = ?",
        ("nightly",),
        durable=True,
        doing="",
    )
    lease, replaced = store.take_lease("nightly")

    assert replaced is not None
    assert (replaced.holder, replaced.pid) == ("left-behind", os.getpid())
    assert lease.holder != held.holder
    store.release_lease(lease)


def test_renewal_and_release_belong_to_the_holder(store: StateStore) -> None:
    """Once taken over, the old holder can neither renew nor release the new holder's lease."""
    old, _ = store.take_lease("nightly", _claimant("a"))
    assert store.renew_lease(old)
    age_lease(store, "nightly", 60)
    new, _ = store.take_lease("nightly", _claimant("b"))

    assert not store.renew_lease(old)
    store.release_lease(old)
    assert store.lease("nightly") == new
    store.release_lease(new)
    assert store.lease("nightly") is None


def test_renewal_moves_the_heartbeat(store: StateStore) -> None:
    """A renewed lease reads as fresh again."""
    lease, _ = store.take_lease("nightly", _claimant("a"))
    age_lease(store, "nightly", 20)
    stale = store.lease("nightly")

    assert store.renew_lease(lease)
    fresh = store.lease("nightly")

    assert stale is not None
    assert fresh is not None
    assert fresh.heartbeat_at > stale.heartbeat_at
    assert fresh.started_at == lease.started_at


def test_an_intent_is_written_only_under_the_lease(store: StateStore) -> None:
    """A driver that lost its lease has its next intent refused, so it triggers nothing."""
    batch = new_batch(store)
    lease, _ = store.take_lease("sweep", _claimant("a"))
    store.record_intent(batch.id, "k0", 1, at(1), lease=lease)
    age_lease(store, "sweep", 60)
    store.take_lease("sweep", _claimant("b", pid=77))

    with pytest.raises(LeaseLostError, match="process 77 on host b took it over"):
        store.record_intent(batch.id, "k1", 1, at(2), lease=lease)

    runs = {run.key: run for run in store.runs(batch.id)}
    assert runs["k0"].unresolved
    assert runs["k1"].attempts == []


def test_of_claimants_starting_together_exactly_one_wins(state: str) -> None:
    """Eight processes' worth of connections ask at the same moment: one lease, seven refusals."""
    stores = [StateStore(state) for _ in range(8)]
    start = threading.Barrier(len(stores))
    won: list[Lease] = []
    refused: list[LeaseHeldError] = []

    def claim(index: int) -> None:
        start.wait()
        try:
            won.append(stores[index].take_lease("nightly", _claimant(f"h{index}"))[0])
        except LeaseHeldError as error:
            refused.append(error)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for opened in stores:
        opened.close()

    assert len(won) == 1
    assert len(refused) == 7
    assert {error.lease.holder for error in refused} == {won[0].holder}
