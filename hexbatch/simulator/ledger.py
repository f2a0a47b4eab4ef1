"""The ledger: what the simulator saw and did, for tests and benchmarks.

It keeps every run created through the API (with params, token, times and the
timeline so far), requests per operation, the ``runTriggerFilter`` each run list
request carried, the query of each project list request, the 429s and 503s sent,
the faults injected and the peak number of live runs, overall and per token. Tests prove
"no duplicate triggers" with ``runs_for(project_id, params)``. Runs Hex started on
its own (schedules, app refreshes) are not among ``runs``; ``scheduled`` lists them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from hexbatch.simulator.clock import SimClock
from hexbatch.simulator.runs import Run, RunStore, canonical_params


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """One injected fault."""

    operation: str
    kind: str
    at: float


class Ledger:
    """Counters and records kept by the running simulator."""

    def __init__(self, clock: SimClock, store: RunStore | None = None) -> None:
        """Start an empty ledger reading times from ``clock`` (and Hex's own runs from
        ``store``, when given)."""
        self._clock = clock
        self._store = store
        self.runs: list[Run] = []
        self.requests: Counter[str] = Counter()
        self.list_filters: list[str | None] = []
        """The runTriggerFilter of each GetProjectRuns request, in order (None: absent)."""
        self.project_queries: list[dict[str, list[str]]] = []
        """The query parameters of each ListProjects request, in order (each with every
        value it was given, so a repeated parameter shows all of them)."""
        self.throttled: Counter[str] = Counter()
        self.unavailable = 0
        self.faults: list[FaultRecord] = []
        self.peak_live = 0
        self.peak_live_by_token: dict[str, int] = {}

    def record_request(self, operation: str) -> None:
        """Count a request of ``operation`` (before any check)."""
        self.requests[operation] += 1

    def record_list_filter(self, value: str | None) -> None:
        """Note the runTriggerFilter a GetProjectRuns request carried (None when absent)."""
        self.list_filters.append(value)

    def record_project_query(self, query: dict[str, list[str]]) -> None:
        """Note the query parameters a ListProjects request carried."""
        self.project_queries.append(query)

    def record_throttled(self, operation: str) -> None:
        """Count a 429 sent to a request of ``operation``."""
        self.throttled[operation] += 1

    def record_unavailable(self) -> None:
        """Count a 503 sent because the kernel limit was reached."""
        self.unavailable += 1

    def record_fault(self, operation: str, kind: str) -> None:
        """Note a fault injected into a request of ``operation``."""
        self.faults.append(FaultRecord(operation, kind, self._clock.now()))

    def record_run(self, run: Run, live: list[Run]) -> None:
        """Add a created run; ``live`` are all live runs including it, for the peaks."""
        self.runs.append(run)
        self.peak_live = max(self.peak_live, len(live))
        mine = sum(1 for other in live if other.token == run.token)
        self.peak_live_by_token[run.token] = max(self.peak_live_by_token.get(run.token, 0), mine)

    def runs_for(self, project_id: str, params: dict[str, Any] | None = None) -> list[Run]:
        """Runs created for a project, only those with exactly ``params`` when given."""
        wanted = None if params is None else canonical_params(params)
        return [
            run
            for run in self.runs
            if run.project_id.lower() == project_id.lower()
            and (wanted is None or canonical_params(run.params) == wanted)
        ]

    @property
    def scheduled(self) -> list[Run]:
        """Runs Hex started on its own (schedules, app refreshes) up to now."""
        if self._store is None:
            return []
        self._store.catch_up(self._clock.now())
        return list(self._store.scheduled)

    @property
    def total_throttled(self) -> int:
        """All 429s sent."""
        return sum(self.throttled.values())

    def snapshot(self) -> dict[str, Any]:
        """The ledger as JSON-ready data, with each run's status as of now."""
        now = self._clock.now()
        return {
            "runs": [self._run_entry(run, now) for run in self.runs],
            "scheduled": dict(Counter(run.trigger for run in self.scheduled)),
            "project_versions": self._versions(now),
            "requests": dict(self.requests),
            "list_filters": list(self.list_filters),
            "project_queries": list(self.project_queries),
            "throttled": dict(self.throttled),
            "throttled_total": self.total_throttled,
            "unavailable": self.unavailable,
            "faults": [
                {"operation": f.operation, "kind": f.kind, "at": self._clock.stamp(f.at)}
                for f in self.faults
            ],
            "peak_live": self.peak_live,
            "peak_live_by_token": dict(self.peak_live_by_token),
            "live": sum(1 for run in self.runs if run.is_live(now)),
        }

    def _versions(self, now: float) -> dict[str, int]:
        """Each project's published version now."""
        if self._store is None:
            return {}
        return self._store.project_versions(now)

    def _run_entry(self, run: Run, now: float) -> dict[str, Any]:
        return {
            "run_id": run.run_id,
            "project_id": run.project_id,
            "params": run.params,
            "token": run.token,
            "user": run.user,
            "attempt": run.attempt,
            "project_version": run.project_version,
            "seeded": run.seeded,
            "created_at": self._clock.stamp(run.created_at),
            "status": run.status_at(now),
            "timeline": [
                {"status": status, "at": self._clock.stamp(at)} for status, at in run.timeline(now)
            ],
        }
