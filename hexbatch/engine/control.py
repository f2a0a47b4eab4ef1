"""How a batch is stopped from outside: stop triggering, or cancel the live runs too.

The first Ctrl-C (or ``--fail-fast`` after a failure) calls :meth:`Control.stop`:
nothing new is triggered (a trigger still waiting for a kernel, its budget or a
backoff gives up at once) and the live runs are followed to their end. The
second Ctrl-C (or ``--cancel-on-interrupt``) calls :meth:`Control.cancel_live`:
every live run's follow loop is cancelled and the run is cancelled in Hex.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

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

    def until_cancelled(self) -> contextlib.AbstractContextManager[anyio.CancelScope]:
        """A scope that :meth:`cancel_live` cancels: a live run's follow loop, a reconcile,
        the preflight check. Sends to Hex inside it are shielded by the client."""
        return self._scope(self._scopes, cancelled=self.cancelling)

    def until_stopped(self) -> contextlib.AbstractContextManager[anyio.CancelScope]:
        """A scope that :meth:`stop` (and so :meth:`cancel_live`) cancels: a wait before
        anything is sent, for a kernel, a budget, a snapshot or a backoff."""
        return self._scope(self._waits, cancelled=self.stopping)

    @contextlib.contextmanager
    def _scope(
        self, registry: set[anyio.CancelScope], *, cancelled: bool
    ) -> Iterator[anyio.CancelScope]:
        with anyio.CancelScope() as scope:
            registry.add(scope)
            if cancelled:  # the switch was thrown before the scope began
                scope.cancel()
            try:
                yield scope
            finally:
                registry.discard(scope)
