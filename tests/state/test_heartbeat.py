"""The heartbeat: renews the lease, and stops the batch once the lease is lost (virtual time)."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from hexbatch.clock import VirtualClock
from hexbatch.state import StateError, StateStore
from hexbatch.state.heartbeat import Heartbeat
from hexbatch.state.leases import Claimant, Lease


def _claimant(host: str) -> Claimant:
    return Claimant(host, 1, timedelta(seconds=30))


def _beat(store: StateStore, lost: list[str], clock: VirtualClock) -> Heartbeat:
    lease, _ = store.take_lease("nightly", _claimant("a"))
    return Heartbeat(store, lease, 30.0, lost.append, clock=clock, sleep=clock.sleep)


async def test_renews_every_sixth_of_its_ttl_until_taken_over(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renewals every 5 s of a 30 s TTL; once another host took the batch, the batch is
    told to stop, naming the new holder."""
    clock, lost = VirtualClock(), list[str]()
    beat = _beat(store, lost, clock)
    renewals = 0

    def renew_then_steal(lease: Lease) -> bool:
        nonlocal renewals
        renewals += 1
        if renewals == 4:
            store.database.execute(
                "UPDATE leases SET holder = 'other', host = 'b', pid = 9 WHERE name = ?",
                ("nightly",),
                durable=True,
                doing="",
            )
        return StateStore.renew_lease(store, lease)

    monkeypatch.setattr(store, "renew_lease", renew_then_steal)
    with anyio.fail_after(5):
        await beat.run()

    assert beat.renewals == 3
    assert clock.slept == [5.0] * 4
    assert lost == [
        "the lease of batch 'nightly' is no longer this process's: process 9 on host b took it over"
    ]


async def test_failures_shorter_than_the_ttl_are_ridden_out(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database blip is logged and retried; the lease is kept."""
    clock, lost = VirtualClock(), list[str]()
    beat = _beat(store, lost, clock)
    calls = 0

    def flaky(lease: Lease) -> bool:
        nonlocal calls
        calls += 1
        if calls in (2, 3):
            raise StateError("the server closed the connection")
        if calls == 6:
            return False  # then taken over, which ends the loop
        return StateStore.renew_lease(store, lease)

    monkeypatch.setattr(store, "renew_lease", flaky)
    with anyio.fail_after(5):
        await beat.run()

    assert beat.renewals == 3
    assert len(lost) == 1
    assert "could not be renewed" not in lost[0]


async def test_no_renewal_for_a_whole_ttl_loses_the_lease(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut off from the store for a TTL, a driver presumes it was taken over and stops."""
    clock, lost = VirtualClock(), list[str]()
    beat = _beat(store, lost, clock)

    def unreachable(lease: Lease) -> bool:
        raise StateError("could not connect to server")

    monkeypatch.setattr(store, "renew_lease", unreachable)
    with anyio.fail_after(5):
        await beat.run()

    assert len(clock.slept) == 6
    assert len(lost) == 1
    assert "could not be renewed for 30 s" in lost[0]
    assert "could not connect to server" in lost[0]
