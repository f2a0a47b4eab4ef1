"""Hand out planned runs to workers under the global and per-project caps.

A fixed pool of workers (as many as runs may be alive at once) takes runs from
the dispatcher, so a plan of any size holds a bounded number of tasks. The
dispatcher gives each worker the earliest run in plan order whose manifest entry
still has room: an entry at its own ``max_in_flight`` never holds up other runs.
Caps belong to entries, not project ids: two entries of one project (a heavy
sweep capped at 1 and a light refresh) each keep their own cap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

import anyio

from hexbatch.engine.work import WorkItem


class Dispatcher:
    """A plan-ordered queue with per-project capacity.

    Args:
        items: the work in the order it should start.
        entry_caps: the most runs alive at once per manifest entry (its index under
            ``projects``; absent or None: no cap).
    """

    def __init__(self, items: Iterable[WorkItem], entry_caps: Mapping[int, int | None]) -> None:
        self._queues: dict[int, deque[tuple[int, WorkItem]]] = {}
        for rank, item in enumerate(items):
            self._queues.setdefault(item.entry, deque()).append((rank, item))
        self._caps = dict(entry_caps)
        self._busy: dict[int, int] = dict.fromkeys(self._queues, 0)
        self._changed = anyio.Event()
        self.stopped = False

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _has_room(self, entry: int) -> bool:
        cap = self._caps.get(entry)
        return cap is None or self._busy[entry] < cap

    def pending(self) -> int:
        """Runs not handed out yet."""
        return sum(len(queue) for queue in self._queues.values())

    async def take(self) -> WorkItem | None:
        """The next run to start, waiting for room; None when there is nothing left to start."""
        while True:
            if self.stopped:
                return None
            best: tuple[int, WorkItem] | None = None
            for entry, queue in self._queues.items():
                if queue and self._has_room(entry) and (best is None or queue[0][0] < best[0]):
                    best = queue[0]
            if best is not None:
                item = best[1]
                self._queues[item.entry].popleft()
                self._busy[item.entry] += 1
                return item
            if self.pending() == 0:
                return None
            await self._changed.wait()

    def release(self, item: WorkItem) -> None:
        """``item`` is no longer alive: its entry has room for one more."""
        self._busy[item.entry] -= 1
        self._notify()

    def stop(self) -> list[WorkItem]:
        """Hand out nothing more; return what was never started."""
        self.stopped = True
        left = [item for queue in self._queues.values() for _, item in queue]
        for queue in self._queues.values():
            queue.clear()
        self._notify()
        return sorted(left, key=lambda item: item.spec.index)
