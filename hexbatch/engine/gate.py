"""A pause for triggering when Hex answers 503: the user's kernels are all busy.

Hex creates no run past its concurrent-kernel limit. Rather than failing the
run or hammering the endpoint, triggering pauses until one of the batch's runs
finishes (freeing a kernel) or a backoff delay passes (kernels held outside
this batch may free up too). Polling goes on meanwhile.
"""

from __future__ import annotations

import anyio

from hexbatch.clock import Sleep


class KernelGate:
    """Closed while Hex reports its kernel limit; opened by a finished run or a timer."""

    def __init__(self, sleep: Sleep) -> None:
        self._sleep = sleep
        self._opened = anyio.Event()
        self._opened.set()
        self.closures = 0

    @property
    def closed(self) -> bool:
        """True while triggers should wait."""
        return not self._opened.is_set()

    def close(self) -> None:
        """Hex said 503: hold triggers back."""
        if not self.closed:
            self._opened = anyio.Event()
            self.closures += 1

    def open(self) -> None:
        """A kernel may be free again: let triggers through."""
        self._opened.set()

    async def wait(self, fallback: float) -> None:
        """Wait until the gate opens, or ``fallback`` seconds pass (then open it)."""
        if not self.closed:
            return
        opened = self._opened
        async with anyio.create_task_group() as group:

            async def timer() -> None:
                await self._sleep(fallback)
                opened.set()

            group.start_soon(timer)
            await opened.wait()
            group.cancel_scope.cancel()
