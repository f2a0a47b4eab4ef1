"""One budget per token: a batch's request and trigger budgets, shared through its state store.

:class:`StoreQuota` is the :class:`~hexbatch.api.limits.SharedQuota` a batch's budgets
reserve their slots in: the store's ledger (:mod:`hexbatch.state.ledger`), on a
connection of its own, in a worker thread, so a slow database never holds up the
event loop. Should the store fail, the batch goes on under its own windows alone and
says so once: losing the shared view risks a 429, which hexbatch handles; stopping
the batch would not be better.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio.to_thread
import structlog

from hexbatch.api.limits import Want
from hexbatch.state import StateError, StateStore
from hexbatch.state.ledger import Ledger, new_waiter

log = structlog.get_logger("hexbatch.quota")


class StoreQuota:
    """The token's shared budget in a state store, for one batch of some priority."""

    def __init__(self, ledger: Ledger, store: StateStore | None = None) -> None:
        self.ledger = ledger
        self._store = store
        self.failed: StateError | None = None

    @classmethod
    def open(
        cls,
        store: StateStore,
        token: str,
        *,
        batch: str,
        priority: str,
        clock: Callable[[], float] | None = None,
    ) -> StoreQuota:
        """The quota of ``token`` in ``store``, on a second connection to it.

        ``clock`` (seconds since the epoch) defaults to the database's clock.
        """
        own = store.reopen()
        database = own.database
        try:
            ledger = Ledger(
                database,
                token,
                new_waiter(batch, priority),
                clock or (lambda: database.now().timestamp()),
            )
        except BaseException:
            own.close()
            raise
        return cls(ledger, own)

    async def reserve(self, wants: Sequence[Want]) -> float:
        if self.failed is not None:
            return 0.0
        try:
            return await anyio.to_thread.run_sync(self.ledger.reserve, wants)
        except StateError as error:
            self.failed = error
            log.warning(
                "quota_ledger_failed",
                error=str(error),
                consequence="this batch now counts only its own requests; others on the "
                "token may make Hex answer 429, which hexbatch waits out",
            )
            return 0.0

    def close(self) -> None:
        """Leave the line and close the connection."""
        try:
            self.ledger.forget()
        except StateError as error:
            log.debug("quota_forget_failed", error=str(error))
        if self._store is not None:
            self._store.close()
