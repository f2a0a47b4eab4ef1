"""The loops hexbatch is measured against, written the way integrations usually are.

Plain aiohttp, nothing of hexbatch: ``workers`` tasks take runs in manifest
order, trigger one, then sleep a fixed ``interval`` and read its status until
it ends. ``workers=1`` with a 5 s (Hex time) interval is the naive sequential
loop; ten workers with 3 s is a thread pool polling each run on its own. A 429
is answered by sleeping its ``Retry-After`` and sending the request again, as
a polite client would.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

TERMINAL = frozenset({"COMPLETED", "ERRORED", "KILLED", "UNABLE_TO_ALLOCATE_KERNEL"})


@dataclass(slots=True)
class LoopResult:
    """What a fixed-interval loop saw: when it saw each run end, and what it sent.

    Attributes:
        started, finished: ``time.monotonic()`` around the whole batch.
        detected: monotonic time at which each run id was seen terminal.
        statuses: final status per run id.
        requests: requests sent, by kind (trigger, status, throttled).
    """

    started: float = 0.0
    finished: float = 0.0
    detected: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)


class _Loop:
    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, interval: float, result: LoopResult
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.interval = interval
        self.result = result

    async def _request(self, kind: str, method: str, path: str, **kwargs: Any) -> Any:
        while True:
            self.result.requests[kind] += 1
            async with self.session.request(method, self.base_url + path, **kwargs) as response:
                if response.status == 429:
                    self.result.requests["throttled"] += 1
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                response.raise_for_status()
                return await response.json()

    async def drive(self, project_id: str, params: dict[str, Any]) -> None:
        created = await self._request(
            "trigger", "POST", f"/projects/{project_id}/runs", json={"inputParams": params}
        )
        run_id = created["runId"]
        while True:
            await asyncio.sleep(self.interval)
            info = await self._request("status", "GET", f"/projects/{project_id}/runs/{run_id}")
            if info["status"] in TERMINAL:
                self.result.detected[run_id] = time.monotonic()
                self.result.statuses[run_id] = info["status"]
                return


async def fixed_interval_loop(
    base_url: str,
    token: str,
    runs: Sequence[tuple[str, dict[str, Any]]],
    *,
    workers: int,
    interval: float,
) -> LoopResult:
    """Run every (project id, params) with ``workers`` loops polling every ``interval`` s."""
    result = LoopResult()
    queue = list(reversed(runs))
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=max(workers, 10))
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        loop = _Loop(session, base_url, interval, result)

        async def worker() -> None:
            while queue:
                project_id, params = queue.pop()
                await loop.drive(project_id, params)

        result.started = time.monotonic()
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
        result.finished = time.monotonic()
    return result
