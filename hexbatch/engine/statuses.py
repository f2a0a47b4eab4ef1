"""Read run statuses with as few requests as possible.

Every read goes through one :class:`StatusBoard`, which also sets the rhythm
(:meth:`StatusBoard.plan`, rules in :mod:`hexbatch.engine.schedule`). A run
alone in its project backs off on its own. When a project has several runs
alive, one ``GET /projects/{id}/runs`` page (up to 100 runs) refreshes all of
them: the project gets one next-read time, every live run of it sleeps until
then, the first to wake sends the list and the others take its answer. Runs
the page does not show (older than the page, or the list failed) fall back to
``GET /projects/{id}/runs/{runId}``. Concurrent reads of one project share a
single in-flight list request.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import anyio

from hexbatch.api.models import RunInfo
from hexbatch.clock import Clock
from hexbatch.engine.hexapi import HexService
from hexbatch.engine.schedule import (
    PollPlan,
    budget_interval,
    paced,
    poll_delay,
    shared_interval,
)
from hexbatch.errors import HexAPIError
from hexbatch.manifest import PollSettings

# Status requests for k runs cost k; one list page costs 1. From two live runs
# of a project on, the list is cheaper whenever both would be read.
BATCH_FROM = 2
MAX_PAGE = 100
# The least share of the budget's rate reads plan on, however full its windows: the
# limiter holds them anyway, and poll.max bounds how stale a status may get.
MIN_HEADROOM = 0.1
# A few more runs than we follow, for runs created meanwhile by others.
_PAGE_SLACK = 10


@dataclass(slots=True)
class _Project:
    live: set[str] = field(default_factory=set)
    seen: dict[str, tuple[RunInfo, float]] = field(default_factory=dict)
    listing: anyio.Event | None = None
    # The shared rhythm: when the next list is due, and the interval it was set with.
    next_read: float | None = None
    interval: float = 0.0
    # Live runs whose end is foreseen from an earlier batch (they look at it themselves).
    foreseen: set[str] = field(default_factory=set)


class StatusBoard:
    """Shared, batched status reads for every run the engine follows."""

    def __init__(self, client: HexService, clock: Clock, *, batch_from: int = BATCH_FROM) -> None:
        self._client = client
        self._clock = clock
        self._batch_from = batch_from
        self._projects: dict[str, _Project] = {}
        self._live_total = 0

    def _project(self, project_id: str) -> _Project:
        return self._projects.setdefault(project_id, _Project())

    def follow(self, project_id: str, run_id: str) -> None:
        """Start following a run (it becomes part of the project's batched reads)."""
        live = self._project(project_id).live
        if run_id not in live:
            live.add(run_id)
            self._live_total += 1

    def forget(self, project_id: str, run_id: str) -> None:
        """Stop following a run."""
        project = self._project(project_id)
        if run_id in project.live:
            project.live.discard(run_id)
            self._live_total -= 1
        project.seen.pop(run_id, None)
        project.foreseen.discard(run_id)

    def foresee(self, project_id: str, run_id: str) -> None:
        """The run knows when it should end and will read then on its own."""
        self._project(project_id).foreseen.add(run_id)

    def live_count(self, project_id: str | None = None) -> int:
        """Runs followed, in one project or overall."""
        if project_id is not None:
            return len(self._project(project_id).live)
        return self._live_total

    def _budget_rate(self) -> float:
        """Requests per second reads may plan on: the budget's sustained rate, slowed as
        its fullest window fills (what triggers and retries spent is not there to read)."""
        budget = self._client.request_budget
        if budget is None:
            return math.inf
        return budget.rate() * max(MIN_HEADROOM, budget.headroom(self._clock()))

    def plan(self, project_id: str, poll: PollSettings, n: int, rng: random.Random) -> PollPlan:
        """When a followed run of ``project_id`` should read next, before its poll ``n``.

        A run alone in its project backs off on its own; runs sharing a project
        wake together for its next list read. Neither polls faster than the
        request budget's status share allows, nor slower than ``poll.max``.
        """
        project = self._project(project_id)
        here = len(project.live)
        floor = budget_interval(self._budget_rate(), self._live_total, here)
        if here < self._batch_from:
            delay = paced(poll, poll_delay(poll, n, rng), floor)
            return PollPlan(delay, delay / 2)
        project.interval = paced(poll, shared_interval(poll, here), floor)
        if project.live <= project.foreseen:
            # Every live run reads at its own foreseen end; the shared rhythm only has
            # to catch surprises (an early failure), so it can run at half the pace.
            project.interval = min(poll.max, 2 * project.interval)
        now = self._clock()
        if project.next_read is None:
            # Runs just started: short runs are common, so look soon.
            project.next_read = now + min(project.interval, poll.initial)
        return PollPlan(max(0.0, project.next_read - now), project.interval / 2)

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
        # Set before sending, so a failed list cannot make the project's runs spin.
        project.next_read = self._clock() + project.interval
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
