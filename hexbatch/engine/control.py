"""How a batch is stopped from outside: stop triggering, or cancel the live runs too.

The first Ctrl-C (or ``--fail-fast`` after a failure) calls :meth:`Control.stop`:
nothing new is triggered (a trigger still waiting for a kernel, its budget or a
backoff gives up at once) and the live runs are followed to their end. The
second Ctrl-C (or ``--cancel-on-interrupt``) calls :meth:`Control.cancel_live`:
every live run's follow loop is cancelled and the run is cancelled in Hex.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import structlog

from hexbatch.errors import HexAPIError

log = structlog.get_logger("hexbatch.engine")


class Control:
    """Stop and cancel switches shared by the engine's workers."""

    def __init__(self) -> None:
        self.stopping = False
        self.cancelling = False
        self.reason: str | None = None
        self.fatal: HexAPIError | None = None
        self._scopes: set[anyio.CancelScope] = set()
        self._waits: set[anyio.CancelScope] = set()
        self._on_stop: list[Callable[[], None]] = []

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, when the batch is told to stop triggering (now, if it was)."""
        if self.stopping:
            callback()
        else:
            self._on_stop.append(callback)

    def stop(self, reason: str) -> None:
        """Trigger nothing more; let live runs finish."""
        if self.stopping:
            return
        self.stopping = True
        self.reason = reason
        log.warning("batch_stopping", reason=reason)
        for scope in list(self._waits):
            scope.cancel()
        for callback in self._on_stop:
            callback()

    def abort(self, error: HexAPIError) -> None:
        """Hex refused the token itself (401/403): no other trigger can succeed either."""
        if self.fatal is None:
            self.fatal = error
        self.stop(f"Hex refused the token: {error}")

    def cancel_live(self, reason: str) -> None:
        """Stop, and cancel every live run in Hex."""
        self.stop(reason)
        if self.cancelling:
            return
        self.cancelling = True
        log.warning("batch_cancelling", reason=reason, live=len(self._scopes))
        for scope in list(self._scopes):
            scope.cancel()

    def register(self, scope: anyio.CancelScope) -> None:
        """A live run's follow loop; cancelled by :meth:`cancel_live`."""
        self._scopes.add(scope)
        if self.cancelling:
            scope.cancel()

    def unregister(self, scope: anyio.CancelScope) -> None:
        """The run is no longer being followed."""
        self._scopes.discard(scope)

    def register_wait(self, scope: anyio.CancelScope) -> None:
        """A wait before anything is sent (kernel, budget, backoff); cancelled by :meth:`stop`."""
        self._waits.add(scope)
        if self.stopping:
            scope.cancel()

    def unregister_wait(self, scope: anyio.CancelScope) -> None:
        """The wait is over."""
        self._waits.discard(scope)
