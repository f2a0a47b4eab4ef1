"""Run lifecycle: runs whose status is derived lazily from the clock.

A run is created with its whole future fixed: when it starts (after its pending
time), when it ends and how. Its status at any moment is computed from the clock,
so no background task drives it and tests can step a fake clock. Durations and
outcomes are drawn deterministically from the scenario seed, the project, the
params and the attempt number.

Runs of the scenario's ``schedules`` are created the same lazy way: whenever runs
are read or created, every occurrence due by then is added with the times it was
due at. Their ids, durations and order depend only on the scenario, never on when
a client happened to look.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from hexbatch import status as st
from hexbatch.simulator.clock import SimClock
from hexbatch.simulator.publish import Publications
from hexbatch.simulator.scenario import PreexistingRun, Project, Scenario, Schedule, SpanRange


def canonical_params(params: dict[str, Any]) -> str:
    """A stable text form of params, used to group attempts of the same inputs."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(slots=True)
class Run:
    """One project run; times are clock readings (real seconds)."""

    run_id: str
    project_id: str
    params: dict[str, Any]
    token: str
    user: str
    created_at: float
    start_at: float
    end_at: float
    outcome: str
    attempt: int
    project_version: int
    trigger: str = "API"
    killed_at: float | None = field(default=None)
    seeded: bool = False

    def status_at(self, now: float) -> str:
        """The run's status at clock reading ``now``."""
        if self.killed_at is not None and now >= self.killed_at:
            return st.KILLED
        if now < self.start_at:
            return st.PENDING
        if self.outcome == st.UNABLE_TO_ALLOCATE_KERNEL:
            return st.UNABLE_TO_ALLOCATE_KERNEL
        if now < self.end_at:
            return st.RUNNING
        return self.outcome

    def is_live(self, now: float) -> bool:
        """Whether the run holds a kernel (PENDING or RUNNING) at ``now``."""
        return not st.is_terminal(self.status_at(now))

    def started_at(self, now: float) -> float | None:
        """When the run started, if it has (a run killed while pending never starts)."""
        if self.outcome == st.UNABLE_TO_ALLOCATE_KERNEL or now < self.start_at:
            return None
        if self.killed_at is not None and self.killed_at < self.start_at:
            return None
        return self.start_at

    def ended_at(self, now: float) -> float | None:
        """When the run reached its terminal status, if it has."""
        if self.killed_at is not None and now >= self.killed_at:
            return self.killed_at
        if self.outcome == st.UNABLE_TO_ALLOCATE_KERNEL:
            return self.start_at if now >= self.start_at else None
        return self.end_at if now >= self.end_at else None

    def timeline(self, now: float) -> list[tuple[str, float]]:
        """Each status the run has had so far, with the clock reading it began at."""
        steps = [(st.PENDING, self.created_at)]
        started = self.started_at(now)
        if started is not None:
            steps.append((st.RUNNING, started))
        ended = self.ended_at(now)
        if ended is not None:
            steps.append((self.status_at(now), ended))
        return steps


def _unit_draw(seed: int, *parts: object) -> float:
    """A number in [0, 1) that depends only on its inputs."""
    text = "|".join(str(part) for part in (seed, *parts))
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _stable_id(seed: int, *parts: object) -> str:
    """A UUID4 that depends only on its inputs."""
    text = "|".join(str(part) for part in (seed, *parts))
    digest = hashlib.sha256(text.encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _draw_span(span: float | SpanRange, draw: float) -> float:
    """A fixed span as is, or a point in a range chosen by ``draw``."""
    if isinstance(span, SpanRange):
        return span.min + (span.max - span.min) * draw
    return span


def decide_outcome(project: Project, params: dict[str, Any], attempt: int) -> str:
    """The terminal status of a run: the first matching rule's, else the default."""
    for rule in project.outcome.rules:
        if rule.first_attempts is not None and attempt > rule.first_attempts:
            continue
        if all(key in params and params[key] == value for key, value in rule.when.items()):
            return rule.status
    return project.outcome.default


class RunStore:
    """Every run the simulator knows of, by id and by project (oldest first)."""

    def __init__(self, scenario: Scenario, clock: SimClock) -> None:
        """Create the store and the past scheduled runs the scenario declares."""
        self._scenario = scenario
        self._clock = clock
        self.versions = Publications(scenario, clock)
        """The version each project has published at any moment."""
        self._ids = random.Random(scenario.seed)
        self._by_id: dict[str, Run] = {}
        self._by_project: dict[str, list[Run]] = {}
        # Runs not yet seen ended: time only moves forward, so a run found ended never
        # holds a kernel again and leaves this index (live counts stay O(live runs)).
        self._maybe_live: dict[str, Run] = {}
        self._attempts: dict[tuple[str, str], int] = {}
        self.scheduled: list[Run] = []
        """Runs Hex started on its own (past history, then schedules as they fall due)."""
        self._schedules = [
            (project, index, schedule)
            for project in scenario.projects
            for index, schedule in enumerate(project.schedules)
            if schedule.enabled
        ]
        self._occurrences = [0] * len(self._schedules)
        for project in scenario.projects:
            self._add_scheduled_history(project)
        now = clock.now()
        self.seeded = [self.seed(entry, now) for entry in scenario.preexisting_runs]

    def new_id(self) -> str:
        """A UUID4 drawn from the seeded generator, so ids repeat across runs of a scenario."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def create(
        self, project: Project, params: dict[str, Any], token: str, user: str, now: float
    ) -> Run:
        """Start a new API run of ``project`` at clock reading ``now``."""
        self.catch_up(now)
        key = (project.id, canonical_params(params))
        attempt = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempt
        seed = self._scenario.seed
        pending = _draw_span(project.pending, _unit_draw(seed, project.id, key[1], attempt, "p"))
        duration = _draw_span(project.duration, _unit_draw(seed, project.id, key[1], attempt, "d"))
        start_at = now + self._clock.scaled(pending)
        run = Run(
            run_id=self.new_id(),
            project_id=project.id,
            params=dict(params),
            token=token,
            user=user,
            created_at=now,
            start_at=start_at,
            end_at=start_at + self._clock.scaled(duration),
            outcome=decide_outcome(project, params, attempt),
            attempt=attempt,
            project_version=self.versions.version_at(project.id, now),
        )
        self._add(run)
        return run

    def seed(self, entry: PreexistingRun, now: float) -> Run:
        """Add a run another client created ``entry.age`` ago, in ``entry.status`` now.

        A PENDING one starts after the project's pending time from now; a RUNNING one
        started half-way through its age and runs the project's duration from then.
        It is not an attempt of its params, so outcome rules count our attempts only.
        """
        project = self._scenario.project(entry.project)
        if project is None:
            raise ValueError(f"no project {entry.project} in the scenario")
        token = self._scenario.token_named(entry.token) if entry.token else None
        token = token or self._scenario.tokens[0]
        key = canonical_params(entry.params)
        seed = self._scenario.seed
        pending = _draw_span(project.pending, _unit_draw(seed, project.id, key, "seeded", "p"))
        duration = _draw_span(project.duration, _unit_draw(seed, project.id, key, "seeded", "d"))
        created_at = now - self._clock.scaled(entry.age)
        outcome = decide_outcome(project, entry.params, 1)
        if entry.status == st.PENDING:
            start_at = now + self._clock.scaled(pending)
        else:
            start_at = (created_at + now) / 2
            if outcome == st.UNABLE_TO_ALLOCATE_KERNEL:  # it holds a kernel, so it got one
                outcome = st.ERRORED
        run = Run(
            run_id=self.new_id(),
            project_id=project.id,
            params=dict(entry.params),
            token=token.value,
            user=token.owner,
            created_at=created_at,
            start_at=start_at,
            end_at=max(start_at + self._clock.scaled(duration), now + 1e-6),
            outcome=outcome,
            attempt=1,
            project_version=self.versions.version_at(project.id, created_at),
            seeded=True,
        )
        self._add(run)
        return run

    def get(self, project_id: str, run_id: str) -> Run | None:
        """A run of the given project, or None."""
        self.catch_up(self._clock.now())
        run = self._by_id.get(run_id.lower())
        if run is None or run.project_id.lower() != project_id.lower():
            return None
        return run

    def for_project(self, project_id: str) -> list[Run]:
        """The project's runs, newest first."""
        self.catch_up(self._clock.now())
        return list(reversed(self._by_project.get(project_id.lower(), [])))

    def project_versions(self, now: float) -> dict[str, int]:
        """Each project's published version at ``now``."""
        return {
            project.id: self.versions.version_at(project.id, now)
            for project in self._scenario.projects
        }

    def live_for_user(self, user: str, now: float) -> int:
        """How many runs of ``user`` hold a kernel at ``now``."""
        return sum(1 for run in self.live(now) if run.user == user)

    def live(self, now: float) -> list[Run]:
        """Every run holding a kernel at ``now``."""
        ended = [run_id for run_id, run in self._maybe_live.items() if not run.is_live(now)]
        for run_id in ended:
            del self._maybe_live[run_id]
        return list(self._maybe_live.values())

    def catch_up(self, now: float) -> None:
        """Add every scheduled and app-refresh run due by clock reading ``now``."""
        due: list[Run] = []
        for slot, (project, index, schedule) in enumerate(self._schedules):
            occurrence = self._occurrences[slot]
            while (at := self._clock.at(schedule.start + occurrence * schedule.every)) <= now:
                due.append(self._scheduled_run(project, index, schedule, occurrence, at))
                occurrence += 1
            self._occurrences[slot] = occurrence
        # Time order, ties in schedule order: the same whatever the reads in between.
        for run in sorted(due, key=lambda run: run.created_at):
            self._add(run)

    def _scheduled_run(
        self, project: Project, index: int, schedule: Schedule, occurrence: int, at: float
    ) -> Run:
        """The ``occurrence``-th run of a project's schedule, due at clock reading ``at``."""
        seed = self._scenario.seed
        parts = (project.id, "schedule", index, occurrence)
        pending = _draw_span(schedule.pending, _unit_draw(seed, *parts, "p"))
        duration = _draw_span(schedule.duration, _unit_draw(seed, *parts, "d"))
        start_at = at + self._clock.scaled(pending)
        return Run(
            run_id=_stable_id(seed, *parts),
            project_id=project.id,
            params={},
            token="",
            user="scheduler",
            created_at=at,
            start_at=start_at,
            end_at=start_at + self._clock.scaled(duration),
            outcome=schedule.outcome,
            attempt=0,
            project_version=self.versions.version_at(project.id, at),
            trigger=schedule.trigger,
        )

    def _add(self, run: Run) -> None:
        self._by_id[run.run_id] = run
        if run.trigger == "API":
            # Hex's own runs hold no kernel of a token user: they stay out of live counts.
            self._maybe_live[run.run_id] = run
        else:
            self.scheduled.append(run)
        # Oldest first by creation time: a seeded run may predate the scheduled history.
        bisect.insort(
            self._by_project.setdefault(run.project_id.lower(), []),
            run,
            key=lambda other: other.created_at,
        )

    def _add_scheduled_history(self, project: Project) -> None:
        """Past, completed SCHEDULED runs: one per scenario hour before now."""
        now = self._clock.now()
        for hours_ago in range(project.scheduled_runs, 0, -1):
            created = now - self._clock.scaled(3600.0 * hours_ago)
            self._add(
                Run(
                    run_id=self.new_id(),
                    project_id=project.id,
                    params={},
                    token="",
                    user="scheduler",
                    created_at=created,
                    start_at=created,
                    end_at=created + self._clock.scaled(60.0),
                    outcome=st.COMPLETED,
                    attempt=0,
                    project_version=project.version,
                    trigger="SCHEDULED",
                )
            )
