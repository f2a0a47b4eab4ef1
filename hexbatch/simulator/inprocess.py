"""The simulated Hex API in memory: the engine's :class:`HexService` without HTTP.

:class:`InProcessHex` answers the engine from the same model the HTTP simulator
serves (its runs, scenario outcomes, kernel and rate limits, faults and ledger),
on the batch's own :class:`~hexbatch.clock.TimeSource`. With a virtual one, a whole
batch runs deterministically, with no socket and no real sleep.

Each request is answered once, as the engine sees it after the HTTP client's own
retries gave up: a fault that fires fails the request the engine made. Errors are
built by the HTTP client's own rules (:func:`hexbatch.api.http_errors.http_error`), so
the engine meets the same exceptions either way. What only HTTP can show (retries,
budgets, headers, connection errors before sending) is tested over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import anyio.lowlevel

from hexbatch.api.client import RequestStats, Reservation, Timeouts
from hexbatch.api.http_errors import http_error
from hexbatch.api.limits import WindowLimiter
from hexbatch.api.models import RunCreated, RunInfo, RunsPage
from hexbatch.clock import TimeSource
from hexbatch.errors import (
    HexAPIError,
    KernelLimitError,
    MalformedResponseError,
    OutcomeUnknownError,
    SendCancelled,
    ServerError,
    UnprocessableError,
)
from hexbatch.simulator import payloads
from hexbatch.simulator.clock import SimClock
from hexbatch.simulator.faults import FaultInjector
from hexbatch.simulator.inputs import check_inputs
from hexbatch.simulator.ledger import Ledger
from hexbatch.simulator.ratelimit import RateLimiter
from hexbatch.simulator.runs import Run, RunStore
from hexbatch.simulator.scenario import Fault, Project, Scenario, Token

ORIGIN: Final = "http://hex.in-process"
"""The origin of the run URLs an in-process Hex gives."""
_NOT_MODELLED: Final = frozenset({"late_create"})
"""Faults only a server that outlives its client can show: tested over HTTP."""
_PAGE: Final = 100
"""The longest page of runs Hex gives."""
_KINDS: Final = {
    "RunProject": "trigger",
    "GetRunStatus": "status",
    "GetProjectRuns": "list",
    "CancelRun": "cancel",
}


@dataclass(slots=True)
class _Request:
    """One request being answered: what it asks, and the faults that fire on it."""

    operation: str
    project_id: str
    run_id: str | None = None
    firing: dict[str, Fault] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        """What the error of this request names."""
        return {"operation": self.operation, "project_id": self.project_id, "run_id": self.run_id}

    def unknown(self, message: str) -> OutcomeUnknownError:
        """The request went out; whether it took effect is unknown."""
        return OutcomeUnknownError(message, **self.context())

    def error(
        self,
        status: int,
        reason: str,
        headers: Mapping[str, str] | None = None,
        **body: Any,
    ) -> HexAPIError:
        """The exception the HTTP client raises for this answer."""
        raw = json.dumps(payloads.error_body(status, reason) | body).encode()
        error = http_error(status, raw, headers or {}, **self.context())
        if (
            self.operation == "RunProject"
            and isinstance(error, ServerError)
            and not isinstance(error, KernelLimitError)
        ):
            # As over HTTP: a 5xx after the body went out says nothing about the run.
            return self.unknown(
                f"Hex answered {status} to a trigger; a run may or may not exist: {reason}"
            )
        return error


Handler = Callable[[_Request, Token], Mapping[str, Any]]


class InProcessHex:
    """The Hex API of a simulator scenario, answered in memory on ``time``.

    Args:
        scenario: the projects, limits, faults and behaviour to simulate.
        time: the batch's time source (a virtual one in tests).
        token: the value of the scenario token the requests carry (default: the first
            token allowed to run projects; an unknown value is refused with 401).
    """

    timeouts = Timeouts()
    request_budget: WindowLimiter | None = None

    def __init__(self, scenario: Scenario, time: TimeSource, *, token: str | None = None) -> None:
        unmodelled = sorted({f.kind for f in scenario.faults} & _NOT_MODELLED)
        if unmodelled:
            raise ValueError(f"in-process Hex cannot simulate {', '.join(unmodelled)} faults")
        self.scenario = scenario
        self._time = time
        self.clock = SimClock(scenario.time_scale, time.clock, wall=time.now())
        self.runs = RunStore(scenario, self.clock)
        self.ledger = Ledger(self.clock, self.runs)
        self.stats = RequestStats()
        """Requests sent, by kind (as the HTTP client counts them)."""
        self._limiter = RateLimiter(scenario.limits, self.clock)
        self._faults = FaultInjector(scenario.faults, scenario.seed)
        self._token = scenario.run_token if token is None else scenario.token(token)
        for run in self.runs.seeded:
            self.ledger.record_run(run, self.runs.live(self.clock.now()))

    # -- the protocol -------------------------------------------------------------------

    async def run_project(
        self,
        project_id: str,
        input_params: Mapping[str, Any] | None = None,
        *,
        dry_run: bool = False,
        update_published_results: bool | None = None,
        use_cached_sql_results: bool | None = None,
        view_id: str | None = None,
        notifications: Sequence[Mapping[str, Any]] | None = None,
        retry_kernel_limit: bool = True,
        cancel_if: Callable[[], bool] | None = None,
        reservation: Reservation | None = None,
    ) -> RunCreated:
        """Trigger a run: validated, held by the kernel limit, decided by the scenario."""
        params = dict(input_params or {})

        def create(request: _Request, token: Token) -> Mapping[str, Any]:
            return self._create(request, token, params, dry_run=dry_run)

        request = _Request("RunProject", project_id)
        return RunCreated.from_json(await self._answer(request, create, cancel_if))

    async def get_run_status(self, project_id: str, run_id: str) -> RunInfo:
        """A run's status now (a ``not_found`` fault: Hex's read-after-write lag)."""
        request = _Request("GetRunStatus", project_id, run_id)
        return RunInfo.from_json(await self._answer(request, self._read))

    async def list_runs_page(
        self, project_id: str, *, limit: int = 25, reservation: Reservation | None = None
    ) -> RunsPage:
        """The project's API runs, newest first (hexbatch's own trigger filter)."""
        return await self._page(project_id, limit=limit, offset=0)

    async def list_runs(self, project_id: str, *, max_runs: int | None = None) -> list[RunInfo]:
        """The project's API runs, newest first, page by page up to ``max_runs``."""
        runs: list[RunInfo] = []
        while max_runs is None or len(runs) < max_runs:
            page = await self._page(project_id, limit=_PAGE, offset=len(runs))
            runs.extend(page.runs)
            if page.next_page is None or not page.runs:
                break
        return runs if max_runs is None else runs[:max_runs]

    async def cancel_run(self, project_id: str, run_id: str) -> bool:
        """Kill a live run; False for a finished one when Hex answers 422 to that."""
        try:
            await self._answer(_Request("CancelRun", project_id, run_id), self._cancel)
        except UnprocessableError:
            return False
        return True

    async def reserve_trigger(self, *, reads: int = 0) -> Reservation:
        """No budgets in process: the slots are free at once."""
        return Reservation(reads=reads)

    def read_wait(self) -> float:
        """Reads never wait for a budget in process."""
        return 0.0

    def advised_trigger_wait(self) -> tuple[float, str]:
        """No 429 pause is kept in process (a 429 fails the request)."""
        return 0.0, ""

    def trigger_wait(self) -> tuple[float, str]:
        """Triggers never wait for a budget in process."""
        return 0.0, ""

    # -- one request, as the HTTP simulator's pipeline serves it ------------------------

    async def _answer(
        self, request: _Request, handle: Handler, cancel_if: Callable[[], bool] | None = None
    ) -> Mapping[str, Any]:
        """Count, fault, authenticate, rate-limit and serve one request."""
        operation = request.operation
        # As over HTTP, a request is a cancellation point before it is sent, and one
        # its caller withdrew then is not sent at all.
        await anyio.lowlevel.checkpoint()
        if cancel_if is not None and cancel_if():
            raise SendCancelled("withdrawn before sending", **request.context())
        self.stats.add(_KINDS[operation])
        self.ledger.record_request(operation)
        if operation == "GetProjectRuns":
            self.ledger.record_list_filter("API")
        request.firing = {fault.kind: fault for fault in self._faults.pick(operation)}
        for kind in request.firing:
            self.ledger.record_fault(operation, kind)
        if "error" in request.firing:
            raise request.error(request.firing["error"].status, "Internal Server Error")
        if "latency" in request.firing:
            await self._time.sleep(self.clock.scaled(request.firing["latency"].wait))
        token = self._token
        if token is None:
            raise request.error(401, "Authorization not provided or invalid")
        decision = self._limiter.admit(token.owner, operation)
        if not decision.allowed:
            self.ledger.record_throttled(operation)
            raise request.error(429, "Rate limit exceeded", decision.headers())
        return await self._deliver(request, handle(request, token))

    async def _deliver(self, request: _Request, answer: Mapping[str, Any]) -> Mapping[str, Any]:
        """The answer as the client receives it: late, lost or garbled when a fault says."""
        slow = request.firing.get("slow")
        if slow is not None:
            wait = self.clock.scaled(slow.wait)
            await self._time.sleep(min(wait, self.timeouts.total))
            if wait > self.timeouts.total:
                raise request.unknown("the request was sent but timed out before an answer")
        if "reset" in request.firing:
            raise request.unknown("the request was sent but the connection was reset")
        if "malformed" in request.firing and answer:
            if request.operation == "RunProject":
                raise request.unknown("HTTP 201 with a body that is not JSON")
            raise MalformedResponseError(
                "HTTP 200 with a body that is not JSON", status=200, **request.context()
            )
        return answer

    # -- the handlers -------------------------------------------------------------------

    def _project(self, request: _Request) -> Project:
        project = self.scenario.project(request.project_id)
        if project is None:
            raise request.error(404, f"Project not found: {request.project_id}")
        return project

    def _run(self, request: _Request) -> Run:
        run_id = request.run_id or ""
        run = self.runs.get(self._project(request).id, run_id)
        if run is None:
            raise request.error(404, f"Run not found: {run_id}")
        return run

    def _create(
        self, request: _Request, token: Token, params: dict[str, Any], *, dry_run: bool
    ) -> Mapping[str, Any]:
        if token.read_only:
            raise request.error(403, "Insufficient access: the token cannot run projects")
        project = self._project(request)
        if not project.published:
            raise request.error(422, "Project has not been published")
        reject = self.scenario.behaviour.unknown_inputs == "reject"
        problems = check_inputs(project, params, reject)
        if problems:
            raise request.error(
                422, "Invalid inputs", invalid=problems.invalid, notFound=problems.not_found
            )
        now = self.clock.now()
        if dry_run:
            version = self.runs.versions.version_at(project.id, now)
            return payloads.dry_run_created(
                project, self.runs.new_id(), ORIGIN, version, self._style(listed=False)
            )
        if self.runs.live_for_user(token.owner, now) >= self.scenario.limits.kernel_limit:
            self.ledger.record_unavailable()
            raise request.error(503, "Concurrent kernel limit reached; no run was created")
        run = self.runs.create(project, params, token.value, token.owner, now)
        self.ledger.record_run(run, self.runs.live(now))
        return payloads.run_created(run, ORIGIN, self._style(listed=False))

    def _read(self, request: _Request, token: Token) -> Mapping[str, Any]:
        run = self._run(request)
        lag = request.firing.get("not_found")
        now = self.clock.now()
        if lag is not None and (
            lag.delay is None or now - run.created_at < self.clock.scaled(lag.delay)
        ):
            raise request.error(404, f"Run not found: {run.run_id}")
        return self._status(request, run, listed=False)

    def _cancel(self, request: _Request, token: Token) -> Mapping[str, Any]:
        if token.read_only:
            raise request.error(403, "Insufficient access: the token cannot cancel runs")
        run = self._run(request)
        now = self.clock.now()
        if run.is_live(now):
            run.killed_at = now
        elif self.scenario.behaviour.cancel_finished == "unprocessable":
            raise request.error(422, f"Run has already finished: {run.status_at(now)}")
        return {}

    async def _page(self, project_id: str, *, limit: int, offset: int) -> RunsPage:
        def listing(request: _Request, token: Token) -> Mapping[str, Any]:
            project = self._project(request)
            if not project.published:
                raise request.error(422, "Project has not been published")
            now = self.clock.now()
            runs = self.runs.for_project(project.id)
            if self.scenario.behaviour.list_runs != "all":
                runs = [run for run in runs if run.trigger == "API"]
            lag = request.firing.get("list_lag")
            if lag is not None:
                # An eventually consistent listing: runs show up some time after creation.
                visible_from = now - self.clock.scaled(lag.wait)
                runs = [run for run in runs if run.created_at <= visible_from]
            more = offset + limit < len(runs)
            return {
                "runs": [
                    self._status(request, run, listed=True) for run in runs[offset : offset + limit]
                ],
                "nextPage": f"{ORIGIN}/runs?offset={offset + limit}" if more else None,
                "previousPage": None,
                "traceId": payloads.trace_id(),
            }

        request = _Request("GetProjectRuns", project_id)
        return RunsPage.from_json(await self._answer(request, listing))

    def _style(self, *, listed: bool) -> payloads.RunStyle:
        behaviour = self.scenario.behaviour
        return payloads.RunStyle(
            version_as_string=behaviour.project_version_type == "string",
            # The 2025 host, which lists API runs only, predates the field.
            run_trigger=behaviour.list_runs != "api_only",
            # The client asks every status and list read for the run's timeline.
            state_events=behaviour.list_state_events if listed else True,
            extra_state_events=behaviour.extra_state_events,
        )

    def _status(self, request: _Request, run: Run, *, listed: bool) -> dict[str, Any]:
        now = self.clock.now()
        style = self._style(listed=listed)
        flap = "flap" in request.firing
        return payloads.run_status(run, now, self.clock, ORIGIN, style, flap=flap)
