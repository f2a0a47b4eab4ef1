"""Hand out planned runs to workers under the global and per-project caps.

A fixed pool of workers (as many as runs may be alive at once) takes runs from
the dispatcher, so a plan of any size holds a bounded number of tasks. The
dispatcher gives each worker the earliest run in plan order whose project still
has room: a project at its own cap never holds up runs of other projects.
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
        project_caps: the most runs alive at once per project id (absent: no cap).
    """

    def __init__(self, items: Iterable[WorkItem], project_caps: Mapping[str, int | None]) -> None:
        self._queues: dict[str, deque[tuple[int, WorkItem]]] = {}
        for rank, item in enumerate(items):
            self._queues.setdefault(item.project_id, deque()).append((rank, item))
        self._caps = dict(project_caps)
        self._busy: dict[str, int] = dict.fromkeys(self._queues, 0)
        self._changed = anyio.Event()
        self.stopped = False

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _has_room(self, project_id: str) -> bool:
        cap = self._caps.get(project_id)
        return cap is None or self._busy[project_id] < cap

    def pending(self) -> int:
        """Runs not handed out yet."""
        return sum(len(queue) for queue in self._queues.values())

    async def take(self) -> WorkItem | None:
        """The next run to start, waiting for room; None when there is nothing left to start."""
        while True:
            if self.stopped:
                return None
            best: tuple[int, WorkItem] | None = None
            for project_id, queue in self._queues.items():
                if queue and self._has_room(project_id) and (best is None or queue[0][0] < best[0]):
                    best = queue[0]
            if best is not None:
                item = best[1]
                self._queues[item.project_id].popleft()
                self._busy[item.project_id] += 1
                return item
            if self.pending() == 0:
                return None
            await self._changed.wait()

    def release(self, project_id: str) -> None:
        """A run of ``project_id`` is no longer alive."""
        self._busy[project_id] -= 1
        self._notify()

    def stop(self) -> list[WorkItem]:
        """Hand out nothing more; return what was never started."""
        self.stopped = True
        left = [item for queue in self._queues.values() for _, item in queue]
        for queue in self._queues.values():
            queue.clear()
        self._notify()
        return sorted(left, key=lambda item: item.spec.index)
