"""The shared budget's two warnings the README promises: a 429 the ledger did not foresee,
and a ledger that fails mid-batch (the batch goes on under its own windows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from structlog.testing import capture_logs

from hexbatch.api.limits import Want, Window, WindowLimiter
from hexbatch.clock import VirtualClock
from hexbatch.quota import StoreQuota
from hexbatch.state import StateError


class _Room:
    """A shared budget that always has room."""

    async def reserve(self, wants: Sequence[Want]) -> float:
        return 0.0


class _BrokenLedger:
    """A ledger whose database went away."""

    def __init__(self) -> None:
        self.calls = 0

    def reserve(self, wants: Sequence[Want]) -> float:
        self.calls += 1
        raise StateError("could not connect to server")


def test_a_429_the_ledger_did_not_foresee_is_named_once() -> None:
    """Another client spends the token: said once, not at every 429."""
    clock = VirtualClock()
    budget = WindowLimiter([Window(3, 60)], clock=clock, sleep=clock.sleep, shared=_Room())
    alone = WindowLimiter([Window(3, 60)], clock=clock, sleep=clock.sleep)

    with capture_logs() as logs:
        budget.penalize(5.0)
        budget.penalize(5.0)
        alone.penalize(5.0)

    assert [entry["event"] for entry in logs].count("quota_429_unpredicted") == 1


async def test_a_failing_ledger_leaves_the_batch_to_its_own_windows() -> None:
    """The first failure is logged; from then on the ledger is not asked again."""
    ledger = _BrokenLedger()
    # A fake of the store's ledger: StoreQuota takes the concrete Ledger, not a protocol.
    quota = StoreQuota(ledger)  # type: ignore[arg-type]
    wants = [Want("trigger", ((3, 60.0),))]

    with capture_logs() as logs:
        first: Any = await quota.reserve(wants)
        second: Any = await quota.reserve(wants)

    assert (first, second) == (0.0, 0.0)
    assert ledger.calls == 1
    assert [entry["event"] for entry in logs] == ["quota_ledger_failed"]
    assert isinstance(quota.failed, StateError)
