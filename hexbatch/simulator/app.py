"""The simulator's aiohttp application: Hex API v1 routes, both path families.

Every API request goes through one pipeline: count it in the ledger, pick its
faults (an ``error`` fault answers before anything else, ``latency`` waits),
authenticate the Bearer token (401), apply the rate limits (429 with
``Retry-After`` and ``X-RateLimit-*``), run the handler, then apply the
after-effects (``malformed`` body, ``slow`` answer, connection ``reset``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hexbatch import status as st
from hexbatch.simulator import payloads
from hexbatch.simulator.clock import Clock, SimClock
from hexbatch.simulator.faults import FaultInjector
from hexbatch.simulator.inputs import BadRequest, check_inputs, parse_run_body
from hexbatch.simulator.ledger import Ledger
from hexbatch.simulator.ratelimit import Decision, RateLimiter
from hexbatch.simulator.runs import Run, RunStore
from hexbatch.simulator.scenario import (
    RUN_TRIGGER_FILTERS,
    Fault,
    PreexistingRun,
    Project,
    Scenario,
    Token,
)

Sleep = Callable[[float], Awaitable[None]]
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_GATEWAY_PAGES = {
    502: "<html><body><h1>502 Bad Gateway</h1></body></html>",
    504: "<html><body><h1>504 Gateway Time-out</h1></body></html>",
}


@dataclass(slots=True)
class SimState:
    """Everything a request handler needs: scenario, clock, runs, ledger, limits, faults."""

    scenario: Scenario
    clock: SimClock
    runs: RunStore
    ledger: Ledger
    limiter: RateLimiter
    faults: FaultInjector
    sleep: Sleep
    late: set[asyncio.Task[web.StreamResponse]] = field(default_factory=set)
    """Requests held by ``late_create`` that finish even if their client has gone."""


STATE_KEY = web.AppKey("hexbatch_simulator_state", SimState)
LEDGER_KEY = web.AppKey("hexbatch_simulator_ledger", Ledger)


@dataclass(slots=True)
class Call:
    """One admitted API request: who made it and what faults shape its answer."""

    request: web.Request
    state: SimState
    operation: str
    token: Token
    faults: Mapping[str, Fault]

    @property
    def flap(self) -> bool:
        """Whether a live run's PENDING and RUNNING are swapped in this answer."""
        return "flap" in self.faults

    @property
    def origin(self) -> str:
        """Scheme, host and port the client used, for absolute URLs."""
        return str(self.request.url.origin())

    @property
    def expanded_stats(self) -> bool:
        """Whether the client asked for run timelines (``enable-expanded-stats: true``)."""
        value = self.request.headers.get("enable-expanded-stats", "")
        return value.strip().lower() == "true"

    def run_style(self, *, listed: bool = False) -> payloads.RunStyle:
        """How this answer shapes run payloads (``listed``: items of a run list)."""
        behaviour = self.state.scenario.behaviour
        return payloads.RunStyle(
            version_as_string=behaviour.project_version_type == "string",
            # The 2025 host, which lists API runs only, predates the field.
            run_trigger=behaviour.list_runs != "api_only",
            state_events=behaviour.list_state_events if listed else self.expanded_stats,
            extra_state_events=behaviour.extra_state_events,
        )

    def error(self, status: int, reason: str) -> web.Response:
        """An error response in the envelope this operation uses."""
        new = (
            self.state.scenario.behaviour.error_envelope == "new"
            and self.operation in payloads.NEW_ENVELOPE_OPERATIONS
        )
        return web.json_response(
            payloads.error_body(status, reason, new_envelope=new), status=status
        )

    def project(self) -> Project | web.Response:
        """The project named in the path, or the 400/404 to answer with."""
        project_id = self.request.match_info["projectId"]
        if not _UUID.match(project_id):
            return self.error(400, f"projectId is not a UUID: {project_id}")
        project = self.state.scenario.project(project_id)
        if project is None:
            return self.error(404, f"Project not found: {project_id}")
        return project

    def run(self, project: Project) -> Run | web.Response:
        """The run named in the path, or the 400/404 to answer with."""
        run_id = self.request.match_info["runId"]
        if not _UUID.match(run_id):
            return self.error(400, f"runId is not a UUID: {run_id}")
        run = self.state.runs.get(project.id, run_id)
        if run is None:
            return self.error(404, f"Run not found: {run_id}")
        return run


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


def _endpoint(operation: str, handler: Handler) -> Callable[[web.Request], Awaitable[Any]]:
    """Wrap a handler in the shared pipeline: ledger, faults, auth, rate limits."""

    async def pipeline(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE_KEY]
        faults = _record(request, state, operation)
        admitted = await _admit(request, state, operation, faults)
        if isinstance(admitted, web.Response):
            return admitted
        token, decision = admitted
        call = Call(request, state, operation, token, faults)
        if "late_create" in faults:
            response = await _outliving_client(call, handler, faults["late_create"].wait)
        else:
            response = await handler(call)
        response.headers.update(_limit_headers(state, decision))
        return await _after(request, state, response, faults)

    return pipeline


def _record(request: web.Request, state: SimState, operation: str) -> dict[str, Fault]:
    """Note the request in the ledger, and the faults the scenario picks for it."""
    state.ledger.record_request(operation)
    if operation == "GetProjectRuns":
        state.ledger.record_list_filter(request.query.get("runTriggerFilter"))
    elif operation == "ListProjects":
        query = request.query
        state.ledger.record_project_query({key: query.getall(key) for key in query})
    faults: dict[str, Fault] = {fault.kind: fault for fault in state.faults.pick(operation)}
    for kind in faults:
        state.ledger.record_fault(operation, kind)
    return faults


async def _admit(
    request: web.Request, state: SimState, operation: str, faults: dict[str, Fault]
) -> tuple[Token, Decision] | web.Response:
    """The caller's token and rate-limit decision, or the answer that turns it away (an
    injected error, no valid token, the rate limit)."""
    if "error" in faults:
        return _fault_error(faults["error"].status)
    if "latency" in faults:
        await state.sleep(state.clock.scaled(faults["latency"].wait))
    token = _authenticate(request, state.scenario)
    if token is None:
        body = payloads.error_body(401, "Authorization not provided or invalid")
        return web.json_response(body, status=401)
    decision = state.limiter.admit(token.owner, operation)
    if not decision.allowed:
        state.ledger.record_throttled(operation)
        body = payloads.error_body(429, "Rate limit exceeded")
        return web.json_response(body, status=429, headers=_limit_headers(state, decision))
    return token, decision


async def _after(
    request: web.Request,
    state: SimState,
    response: web.StreamResponse,
    faults: dict[str, Fault],
) -> web.StreamResponse:
    """The answer once served, with the faults that strike after the work: a garbled body,
    a slow answer, a reset connection."""
    if "malformed" in faults and isinstance(response, web.Response) and response.body:
        response = _malformed(response)
    if "slow" in faults:
        await state.sleep(state.clock.scaled(faults["slow"].wait))
    if "reset" in faults:
        _reset_connection(request)
    return response


async def _outliving_client(call: Call, handler: Handler, delay: float) -> web.StreamResponse:
    """Hold the request ``delay`` scenario seconds, then serve it even if the client left.

    A backend keeps working on a request whose client timed out: the run is created
    late. The work runs in its own task, shielded, so the server cancelling the
    handler on disconnect does not stop it.
    """
    state = call.state
    await call.request.read()  # keep the body: the connection may be gone when it is served

    async def late() -> web.StreamResponse:
        await state.sleep(state.clock.scaled(delay))
        return await handler(call)

    task = asyncio.ensure_future(late())
    state.late.add(task)
    task.add_done_callback(state.late.discard)
    return await asyncio.shield(task)


async def _cancel_late(app: web.Application) -> None:
    """At shutdown, stop requests still held by ``late_create``."""
    for task in list(app[STATE_KEY].late):
        task.cancel()


def _limit_headers(state: SimState, decision: Decision) -> dict[str, str]:
    """The rate-limit headers in the form the scenario's behaviour asks for."""
    behaviour = state.scenario.behaviour
    return decision.headers(
        reset_as=behaviour.rate_limit_reset,
        retry_after=behaviour.retry_after,
        epoch_now=state.clock.wall(state.clock.now()).timestamp(),
    )


def _authenticate(request: web.Request, scenario: Scenario) -> Token | None:
    """The scenario token named by the Bearer header, if any."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return scenario.token(value.strip())


def _fault_error(status: int) -> web.Response:
    """A failure before anything happened: tsoa JSON for 500, a gateway page otherwise."""
    if status in _GATEWAY_PAGES:
        return web.Response(status=status, text=_GATEWAY_PAGES[status], content_type="text/html")
    return web.json_response(payloads.error_body(status, "Internal server error"), status=status)


def _malformed(response: web.Response) -> web.Response:
    """The same answer with its JSON cut in half."""
    body = bytes(response.body) if isinstance(response.body, bytes | bytearray) else b"{"
    broken = web.Response(
        status=response.status, body=body[: max(1, len(body) // 2)], content_type="application/json"
    )
    broken.headers.update({k: v for k, v in response.headers.items() if k.startswith("X-")})
    return broken


def _reset_connection(request: web.Request) -> None:
    """Drop the TCP connection with a reset, after the work was done (the ambiguous case)."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


# --- handlers ---------------------------------------------------------------------------


def _query_int(call: Call, name: str, default: int, low: int, high: int | None) -> int | None:
    """An integer query parameter within bounds, or None when it is invalid."""
    raw = call.request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    if value < low or (high is not None and value > high):
        return None
    return value


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _uncursor(text: str) -> int | None:
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    prefix, _, number = decoded.partition(":")
    return int(number) if prefix == "offset" and number.isdigit() else None


def _query_names(call: Call, name: str) -> list[str]:
    """An array parameter: repeated (``statuses=a&statuses=b``) or comma-separated."""
    values = call.request.query.getall(name, [])
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _query_flag(call: Call, name: str) -> bool | None:
    """A boolean parameter (default false); None when it is neither true nor false."""
    value = call.request.query.get(name, "false").strip().lower()
    return {"true": True, "false": False}.get(value)


def _listed(call: Call) -> list[int] | web.Response:
    """The scenario positions of the projects ListProjects' filters keep, or a 400.

    Filters combine with AND; a project matches ``statuses`` with its status and
    ``categories`` with any one of its categories; emails compare without case.
    Archived and trashed projects are left out unless asked for, as Hex does.
    """
    flags = {name: _query_flag(call, name) for name in ("includeArchived", "includeTrashed")}
    for name, flag in flags.items():
        if flag is None:
            return call.error(400, f"{name} must be true or false")
    statuses = set(_query_names(call, "statuses"))
    categories = set(_query_names(call, "categories"))
    query = call.request.query
    creator, owner = query.get("creatorEmail"), query.get("ownerEmail")
    collection = query.get("collectionId")

    def keeps(project: Project) -> bool:
        return (
            (flags["includeArchived"] or not project.archived)
            and (flags["includeTrashed"] or not project.trashed)
            and (not statuses or project.status in statuses)
            and (not categories or not categories.isdisjoint(project.categories))
            and (creator is None or creator.lower() == project.created_by.lower())
            and (owner is None or owner.lower() == project.owner.lower())
            and (collection is None or collection.lower() == (project.collection or "").lower())
        )

    return [i for i, project in enumerate(call.state.scenario.projects) if keeps(project)]


async def list_projects(call: Call) -> web.StreamResponse:
    """ListProjects: newest first, filtered, cursor pagination with ``after``/``before``."""
    limit = _query_int(call, "limit", 25, 1, 100)
    if limit is None:
        return call.error(400, "limit must be an integer between 1 and 100")
    projects = _listed(call)
    if isinstance(projects, web.Response):
        return projects
    start = 0
    after, before = call.request.query.get("after"), call.request.query.get("before")
    if after is not None or before is not None:
        offset = _uncursor(after if after is not None else before or "")
        if offset is None:
            return call.error(400, "invalid pagination cursor")
        start = offset if after is not None else max(0, offset - limit)
    end = min(len(projects), start + limit)
    body = {
        "values": [_project_resource(call.state, i) for i in projects[start:end]],
        "pagination": {
            "after": _cursor(end) if end < len(projects) else None,
            "before": _cursor(start) if start > 0 else None,
        },
    }
    return web.json_response(body)


async def get_project(call: Call) -> web.StreamResponse:
    """GetProject."""
    project = call.project()
    if isinstance(project, web.Response):
        return project
    position = call.state.scenario.projects.index(project)
    return web.json_response(_project_resource(call.state, position))


def _project_resource(state: SimState, position: int) -> dict[str, Any]:
    """The project at ``position`` in the scenario, as a ProjectApiResource now."""
    project = state.scenario.projects[position]
    republished = state.runs.versions.published_at(project.id, state.clock.now())
    return payloads.project_resource(project, position, state.clock, republished)


async def run_project(call: Call) -> web.StreamResponse:
    """RunProject: validate, honour dryRun and the kernel limit, create the run (201)."""
    if call.token.read_only:
        return call.error(403, "Insufficient access: the token cannot run projects")
    project = call.project()
    if isinstance(project, web.Response):
        return project
    try:
        body = parse_run_body(await call.request.read())
    except BadRequest as exc:
        return call.error(400, str(exc))
    if not project.published:
        return call.error(422, "Project has not been published")
    state = call.state
    params = body.input_params or {}
    problems = check_inputs(project, params, state.scenario.behaviour.unknown_inputs == "reject")
    if problems:
        payload = {
            "traceId": payloads.trace_id(),
            "invalid": problems.invalid,
            "notFound": problems.not_found,
        }
        return web.json_response(payload, status=422)
    if body.dry_run:
        version = state.runs.versions.version_at(project.id, state.clock.now())
        dummy = payloads.dry_run_created(
            project, state.runs.new_id(), call.origin, version, call.run_style()
        )
        return web.json_response(dummy, status=201)
    now = state.clock.now()
    if state.runs.live_for_user(call.token.owner, now) >= state.scenario.limits.kernel_limit:
        state.ledger.record_unavailable()
        return call.error(503, "Concurrent kernel limit reached; no run was created")
    run = state.runs.create(project, params, call.token.value, call.token.owner, now)
    state.ledger.record_run(run, state.runs.live(now))
    created = payloads.run_created(run, call.origin, call.run_style())
    return web.json_response(created, status=201)


async def get_run_status(call: Call) -> web.StreamResponse:
    """GetRunStatus."""
    project = call.project()
    if isinstance(project, web.Response):
        return project
    run = call.run(project)
    if isinstance(run, web.Response):
        return run
    now = call.state.clock.now()
    lag = call.faults.get("not_found")
    if lag is not None and (
        lag.delay is None or now - run.created_at < call.state.clock.scaled(lag.delay)
    ):
        # Read-after-write lag (or a run the backend lost): the answer Hex gives an unknown id.
        return call.error(404, f"Run not found: {run.run_id}")
    return web.json_response(_status_payload(call, run, now, call.run_style()))


def _status_payload(call: Call, run: Run, now: float, style: payloads.RunStyle) -> dict[str, Any]:
    return payloads.run_status(run, now, call.state.clock, call.origin, style, flap=call.flap)


def _listed_triggers(call: Call) -> set[str] | web.Response | None:
    """The run triggers a run list shows (None: every one), or the 400 to answer with."""
    mode = call.state.scenario.behaviour.list_runs
    if mode == "api_only":
        return {"API"}
    wanted = call.request.query.get("runTriggerFilter")
    if mode == "all" or wanted is None or wanted == "ALL":
        return None
    if wanted not in RUN_TRIGGER_FILTERS:
        choices = " | ".join(RUN_TRIGGER_FILTERS)
        return call.error(400, f"runTriggerFilter must be one of {choices}: {wanted}")
    return {wanted}


async def get_project_runs(call: Call) -> web.StreamResponse:
    """GetProjectRuns: newest first; limit/offset/statusFilter/runTriggerFilter; page URLs."""
    project = call.project()
    if isinstance(project, web.Response):
        return project
    if not project.published:
        return call.error(422, "Project has not been published")
    limit = _query_int(call, "limit", 25, 1, 100)
    offset = _query_int(call, "offset", 0, 0, None)
    if limit is None or offset is None:
        return call.error(400, "limit must be 1..100 and offset at least 0")
    wanted = call.request.query.get("statusFilter")
    if wanted is not None and wanted not in st.HEX_STATUSES:
        return call.error(400, f"statusFilter is not a run status: {wanted}")
    triggers = _listed_triggers(call)
    if isinstance(triggers, web.Response):
        return triggers
    now = call.state.clock.now()
    runs = call.state.runs.for_project(project.id)
    if triggers is not None:
        runs = [run for run in runs if run.trigger in triggers]
    lag = call.faults.get("list_lag")
    if lag is not None:
        # An eventually consistent listing: runs show up only some time after creation.
        visible_from = now - call.state.clock.scaled(lag.wait)
        runs = [run for run in runs if run.created_at <= visible_from]
    if wanted is not None:
        runs = [run for run in runs if run.status_at(now) == wanted]
    page = runs[offset : offset + limit]
    style = call.run_style(listed=True)
    url = call.request.url

    def page_url(at: int) -> str:
        # update_query keeps the other parameters (statusFilter, runTriggerFilter).
        return str(url.update_query(limit=str(limit), offset=str(at)))

    body = {
        "runs": [_status_payload(call, run, now, style) for run in page],
        "nextPage": page_url(offset + limit) if offset + limit < len(runs) else None,
        "previousPage": page_url(max(0, offset - limit)) if offset > 0 else None,
        "traceId": payloads.trace_id(),
    }
    return web.json_response(body)


async def cancel_run(call: Call) -> web.StreamResponse:
    """CancelRun: a live run turns KILLED (204); a finished one per the scenario's choice."""
    if call.token.read_only:
        return call.error(403, "Insufficient access: the token cannot cancel runs")
    project = call.project()
    if isinstance(project, web.Response):
        return project
    run = call.run(project)
    if isinstance(run, web.Response):
        return run
    now = call.state.clock.now()
    if run.is_live(now):
        run.killed_at = now
    elif call.state.scenario.behaviour.cancel_finished == "unprocessable":
        return call.error(422, f"Run has already finished: {run.status_at(now)}")
    return web.Response(status=204)


async def ledger_view(request: web.Request) -> web.StreamResponse:
    """The ledger as JSON (simulator introspection; no token needed)."""
    return web.json_response(request.app[LEDGER_KEY].snapshot())


async def seed_run(request: web.Request) -> web.StreamResponse:
    """Add a run another client created earlier (the body is a ``preexisting_runs`` entry)."""
    state = request.app[STATE_KEY]
    try:
        entry = PreexistingRun.model_validate_json(await request.read())
    except ValidationError as exc:
        return web.json_response({"reason": str(exc)}, status=400)
    if state.scenario.project(entry.project) is None:
        return web.json_response({"reason": f"no project {entry.project}"}, status=404)
    if entry.token is not None and state.scenario.token_named(entry.token) is None:
        return web.json_response({"reason": f"no token named {entry.token}"}, status=400)
    now = state.clock.now()
    run = state.runs.seed(entry, now)
    state.ledger.record_run(run, state.runs.live(now))
    return web.json_response({"runId": run.run_id, "projectId": run.project_id}, status=201)


class PublishRequest(BaseModel):
    """The optional body of ``POST /_sim/projects/{projectId}/publish``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    version: int | None = Field(default=None, ge=1)


async def publish(request: web.Request) -> web.StreamResponse:
    """Re-publish a project now (simulator control; no token needed)."""
    state = request.app[STATE_KEY]
    project_id = request.match_info["projectId"]
    project = state.scenario.project(project_id)
    if project is None:
        return web.json_response({"reason": f"no project {project_id}"}, status=404)
    if not project.published:
        return web.json_response(
            {"reason": f"project {project_id} was never published; it cannot be re-published"},
            status=400,
        )
    raw = await request.read()
    try:
        wanted = PublishRequest.model_validate_json(raw) if raw.strip() else PublishRequest()
    except ValidationError as exc:
        reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return web.json_response({"reason": f"invalid body: {reason}"}, status=400)
    try:
        version = state.runs.versions.publish(project.id, state.clock.now(), wanted.version)
    except ValueError as exc:
        return web.json_response({"reason": f"cannot publish: {exc}"}, status=400)
    style = payloads.RunStyle(
        version_as_string=state.scenario.behaviour.project_version_type == "string"
    )
    return web.json_response({"projectId": project.id, "projectVersion": style.version(version)})


async def run_page(request: web.Request) -> web.StreamResponse:
    """A plain page standing in for the Hex UI's run view."""
    state = request.app[STATE_KEY]
    project = state.scenario.project(request.match_info["projectId"])
    run = state.runs.get(request.match_info["projectId"], request.match_info["runId"])
    if project is None or run is None:
        raise web.HTTPNotFound(text="no such run\n")
    text = f"{project.title}\nrun {run.run_id}: {run.status_at(state.clock.now())}\n"
    return web.Response(text=text)


def create_app(
    scenario: Scenario, clock: Clock | None = None, *, sleep: Sleep | None = None
) -> web.Application:
    """Build the simulator application; ``app[LEDGER_KEY]`` is its ledger."""
    sim_clock = SimClock(scenario.time_scale, clock)
    runs = RunStore(scenario, sim_clock)
    ledger = Ledger(sim_clock, runs)
    state = SimState(
        scenario=scenario,
        clock=sim_clock,
        runs=runs,
        ledger=ledger,
        limiter=RateLimiter(scenario.limits, sim_clock),
        faults=FaultInjector(scenario.faults, scenario.seed),
        sleep=sleep or asyncio.sleep,
    )
    for run in state.runs.seeded:
        ledger.record_run(run, state.runs.live(sim_clock.now()))
    app = web.Application()
    app[STATE_KEY] = state
    app[LEDGER_KEY] = ledger
    api = "/api/v1"
    routes = [
        ("GET", "/projects", "ListProjects", list_projects),
        ("GET", "/projects/{projectId}", "GetProject", get_project),
        ("POST", "/projects/{projectId}/runs", "RunProject", run_project),
        ("GET", "/projects/{projectId}/runs", "GetProjectRuns", get_project_runs),
        ("GET", "/projects/{projectId}/runs/{runId}", "GetRunStatus", get_run_status),
        ("DELETE", "/projects/{projectId}/runs/{runId}", "CancelRun", cancel_run),
        # The 2022 singular paths, still called by older Hex-maintained clients.
        ("POST", "/project/{projectId}/run", "RunProject", run_project),
        ("GET", "/project/{projectId}/runs", "GetProjectRuns", get_project_runs),
        ("GET", "/project/{projectId}/run/{runId}", "GetRunStatus", get_run_status),
        ("DELETE", "/project/{projectId}/run/{runId}", "CancelRun", cancel_run),
    ]
    for method, path, operation, handler in routes:
        app.router.add_route(method, api + path, _endpoint(operation, handler))
    app.on_shutdown.append(_cancel_late)
    app.router.add_get("/_sim/ledger", ledger_view)
    app.router.add_post("/_sim/runs", seed_run)
    app.router.add_post("/_sim/projects/{projectId}/publish", publish)
    app.router.add_get("/app/projects/{projectId}/runs/{runId}", run_page)
    return app


def ledger_of(app: web.Application) -> Ledger:
    """The ledger of a simulator application."""
    return app[LEDGER_KEY]
