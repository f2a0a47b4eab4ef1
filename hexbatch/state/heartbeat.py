"""Keeping a batch's lease alive while the batch is driven, and noticing when it is lost.

The heartbeat renews the lease every sixth of its TTL, on its own connection to the
store (in a worker thread, so a slow database never holds up the event loop). It
stops the batch from triggering when the lease was taken over, or when no renewal
has succeeded for a whole TTL: by then another process may have taken the batch
over without this one hearing of it. The intents are fenced by the lease too (see
:meth:`~hexbatch.state.StateStore.record_intent`), so even a trigger already on its
way is stopped by the store.

It runs on the real clock whatever clock the engine uses: other processes judge the
lease's age by theirs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
import structlog

from hexbatch.clock import Clock, Sleep, monotonic, real_sleep
from hexbatch.errors import sole_error
from hexbatch.state.errors import StateError
from hexbatch.state.leases import Lease, lost_message
from hexbatch.state.store import StateStore

log = structlog.get_logger("hexbatch.state")

# Renewals per TTL: a holder misses five in a row before anyone may take over.
RENEWALS_PER_TTL = 6


class Heartbeat:
    """Renews ``lease`` in ``store`` until stopped; calls ``lost(reason)`` once if it is lost."""

    def __init__(
        self,
        store: StateStore,
        lease: Lease,
        ttl_s: float,
        lost: Callable[[str], None],
        *,
        clock: Clock = monotonic,
        sleep: Sleep = real_sleep,
    ) -> None:
        self.store = store
        self.lease = lease
        self.ttl_s = ttl_s
        self.interval_s = ttl_s / RENEWALS_PER_TTL
        self._lost = lost
        self._clock = clock
        self._sleep = sleep
        self.renewals = 0
        self.lost_reason: str | None = None

    async def run(self) -> None:
        """Renew until cancelled, or until the lease is lost (then return)."""
        renewed_at = self._clock()
        while True:
            await self._sleep(self.interval_s)
            try:
                held = await anyio.to_thread.run_sync(self.store.renew_lease, self.lease)
            except StateError as error:
                silent = self._clock() - renewed_at
                if silent < self.ttl_s:
                    log.warning("lease_renewal_failed", batch=self.lease.name, error=str(error))
                    continue
                self._lose(
                    f"the lease of batch {self.lease.name!r} could not be renewed for "
                    f"{silent:.0f} s (another run may have taken the batch over): {error}"
                )
                return
            if not held:
                self._lose(lost_message(self.lease.name, self._holder_now()))
                return
            self.renewals += 1
            renewed_at = self._clock()

    def _holder_now(self) -> Lease | None:
        try:
            return self.store.lease(self.lease.name)
        except StateError:
            return None

    def _lose(self, reason: str) -> None:
        self.lost_reason = reason
        log.error("lease_lost", batch=self.lease.name, reason=reason)
        self._lost(reason)


@asynccontextmanager
async def heartbeat(
    store: StateStore, lease: Lease, ttl_s: float, lost: Callable[[str], None]
) -> AsyncIterator[Heartbeat]:
    """Keep ``lease`` renewed (on a second connection to ``store``) while the block runs."""
    beating = Heartbeat(store.reopen(), lease, ttl_s, lost)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(beating.run)
            try:
                yield beating
            finally:
                group.cancel_scope.cancel()
    except BaseExceptionGroup as failures:
        raise sole_error(failures) from None
    finally:
        beating.store.close()
