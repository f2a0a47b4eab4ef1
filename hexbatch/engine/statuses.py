"""Read run statuses with as few requests as possible.

Each live run polls on its own schedule, but reads go through one
:class:`StatusBoard`. When a project has several runs alive, one
``GET /projects/{id}/runs`` page (up to 100 runs) refreshes all of them, and
every run whose poll falls due shortly after uses that fresh answer instead of
sending its own request. Runs the page does not show (older than the page, or
the list failed) fall back to ``GET /projects/{id}/runs/{runId}``. Concurrent
reads of one project share a single in-flight list request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

from hexbatch.client import HexClient
from hexbatch.clock import Clock
from hexbatch.errors import HexAPIError
from hexbatch.models import RunInfo

# Status requests for k runs cost k; one list page costs 1. From two live runs
# of a project on, the list is cheaper whenever both would be read.
BATCH_FROM = 2
MAX_PAGE = 100
# A few more runs than we follow, for runs created meanwhile by others.
_PAGE_SLACK = 10


@dataclass(slots=True)
class _Project:
    live: set[str] = field(default_factory=set)
    seen: dict[str, tuple[RunInfo, float]] = field(default_factory=dict)
    listing: anyio.Event | None = None


class StatusBoard:
    """Shared, batched status reads for every run the engine follows."""

    def __init__(self, client: HexClient, clock: Clock, *, batch_from: int = BATCH_FROM) -> None:
        self._client = client
        self._clock = clock
        self._batch_from = batch_from
        self._projects: dict[str, _Project] = {}

    def _project(self, project_id: str) -> _Project:
        return self._projects.setdefault(project_id, _Project())

    def follow(self, project_id: str, run_id: str) -> None:
        """Start following a run (it becomes part of the project's batched reads)."""
        self._project(project_id).live.add(run_id)

    def forget(self, project_id: str, run_id: str) -> None:
        """Stop following a run."""
        project = self._project(project_id)
        project.live.discard(run_id)
        project.seen.pop(run_id, None)

    def live_count(self, project_id: str | None = None) -> int:
        """Runs followed, in one project or overall."""
        if project_id is not None:
            return len(self._project(project_id).live)
        return sum(len(p.live) for p in self._projects.values())

    def _fresh(self, project: _Project, run_id: str, max_age: float) -> RunInfo | None:
        entry = project.seen.get(run_id)
        if entry is not None and self._clock() - entry[1] <= max_age:
            return entry[0]
        return None

    async def read(self, project_id: str, run_id: str, *, max_age: float = 0.0) -> RunInfo:
        """The run's status, no older than ``max_age`` seconds.

        Raises:
            HexAPIError: the status could not be read (after the client's retries).
        """
        project = self._project(project_id)
        cached = self._fresh(project, run_id, max_age)
        if cached is not None:
            return cached
        if project.listing is not None:
            await project.listing.wait()
            cached = self._fresh(project, run_id, max_age)
            if cached is not None:
                return cached
        if len(project.live) >= self._batch_from and project.listing is None:
            await self._refresh(project_id, project)
            cached = self._fresh(project, run_id, max_age)
            if cached is not None:
                return cached
        info = await self._client.get_run_status(project_id, run_id)
        project.seen[run_id] = (info, self._clock())
        return info

    async def _refresh(self, project_id: str, project: _Project) -> None:
        project.listing = done = anyio.Event()
        try:
            page = await self._client.list_runs_page(
                project_id, limit=min(MAX_PAGE, len(project.live) + _PAGE_SLACK)
            )
        except HexAPIError:
            return  # each caller falls back to its own status read
        else:
            now = self._clock()
            for info in page.runs:
                if info.run_id in project.live:
                    project.seen[info.run_id] = (info, now)
        finally:
            project.listing = None
            done.set()
