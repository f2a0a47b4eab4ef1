"""An async client for the Hex API v1, safe to use for many runs at once.

Usage::

    async with HexClient("https://app.hex.tech/api/v1", token) as hex:
        created = await hex.run_project(project_id, {"run_date": "2025-01-01"})
        info = await hex.get_run_status(project_id, created.run_id)

All requests share one ``aiohttp.ClientSession``, one request budget and (for
triggers) one trigger budget. Reads and cancels are retried on transient
failures; a trigger is retried only when it provably created no run (the
request never left, 429, or 503 kernel limit). Anything else after a trigger
was sent raises :class:`~hexbatch.errors.OutcomeUnknownError`: the caller must
reconcile against the project's run list rather than risk a duplicate run.
What each failure of each kind of request means is one table,
:mod:`hexbatch.api.request_failures`.
"""

from __future__ import annotations

import ipaddress
import json
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import aiohttp
import anyio
import structlog

from hexbatch.api.filters import ProjectFilter
from hexbatch.api.http_errors import http_error
from hexbatch.api.limits import WindowLimiter, acquire_together
from hexbatch.api.limits_seen import LimitsSeen, observe
from hexbatch.api.models import Project, ProjectsPage, RunCreated, RunInfo, RunsPage
from hexbatch.api.request_failures import (
    Failure,
    RequestKind,
    failure_of,
    failure_of_status,
    kind_of,
    may_send_again,
    must_reconcile,
    retry_after,
)
from hexbatch.api.retry import RetryDecision, RetryPolicy, call_with_retries
from hexbatch.clock import Clock, Sleep, monotonic, real_sleep
from hexbatch.errors import (
    ConfigurationError,
    HexAPIError,
    MalformedResponseError,
    OutcomeUnknownError,
    RateLimitedError,
    RequestNotSentError,
    SendCancelled,
    UnprocessableError,
)
from hexbatch.redact import Secret, redact
from hexbatch.version import package_version

log = structlog.get_logger("hexbatch.api.client")

DEFAULT_BASE_URL: Final = "https://app.hex.tech/api/v1"
MAX_PAGE: Final = 100
API_RUNS: Final = "API"
"""The ``runTriggerFilter`` hexbatch lists runs with: its own kind, not scheduled runs."""
# Reads that may carry a run's state changes (stateEvents) when asked: the header
# costs no request, so every status and list read asks.
_EXPANDED_KINDS: Final = frozenset({RequestKind.STATUS, RequestKind.LIST})
# A mapping, or pairs where a parameter repeats (an array's values, one pair each).
QueryParams = Mapping[str, Any] | Sequence[tuple[str, str]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-request time limits in seconds."""

    connect: float = 10.0
    read: float = 30.0
    total: float = 60.0

    def for_aiohttp(self) -> aiohttp.ClientTimeout:
        """The equivalent aiohttp setting."""
        return aiohttp.ClientTimeout(
            total=self.total, sock_connect=self.connect, sock_read=self.read
        )


@dataclass(slots=True)
class RequestStats:
    """How many requests of each kind were sent (every attempt counts), and the
    rate-limit figures Hex last announced for each kind."""

    counts: dict[str, int] = field(default_factory=dict)
    limits: dict[str, LimitsSeen] = field(default_factory=dict)

    def observe_limits(self, kind: str, headers: Mapping[str, str], at: datetime) -> None:
        """Keep the rate-limit headers of an answer to a request of ``kind``."""
        seen = observe(self.limits.get(kind), headers, at)
        if seen is not None:
            self.limits[kind] = seen

    def add(self, kind: str, amount: int = 1) -> None:
        """Count ``amount`` more requests of ``kind``."""
        self.counts[kind] = self.counts.get(kind, 0) + amount

    def __getitem__(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def as_dict(self) -> dict[str, int]:
        """A copy of the counters."""
        return dict(self.counts)


@dataclass(slots=True)
class Reservation:
    """Budget slots taken together ahead of a trigger: the trigger's own and its reads'.

    A trigger and the reads that must happen right before it (the snapshot of the
    project's runs) are admitted at one instant by :meth:`HexClient.reserve_trigger`,
    then sent without waiting again, so the time each budget recorded is the time
    the request really left.
    """

    trigger: bool = True
    """The trigger's own slots (trigger budget and request budget) are still unused."""
    reads: int = 0
    """Request slots left for the reads that go with it."""
    waited_s: float = 0.0
    """Seconds the trigger waited for its budget slots (quota: this process's windows and
    the token's ledger)."""

    def take(self, kind: RequestKind) -> bool:
        """Use a reserved slot for a request of ``kind``; False when none is left."""
        if kind is RequestKind.TRIGGER:
            taken, self.trigger = self.trigger, False
            return taken
        if self.reads < 1:
            return False
        self.reads -= 1
        return True


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (where plain http is acceptable)."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_base_url(base_url: str, *, allow_insecure_http: bool = False) -> str:
    """Validate a Hex API base URL and strip its trailing slash.

    Raises:
        ConfigurationError: not http(s), no host, or plain http to a non-loopback
            host without ``allow_insecure_http`` (the token would travel in clear).
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(
            f"the Hex base URL {base_url!r} is not an http(s) URL; "
            "expected something like https://app.hex.tech/api/v1"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
        raise ConfigurationError(
            f"refusing plain http to {parts.hostname}: the token would cross the network "
            "unencrypted. Use https, or pass --allow-insecure-http if you really mean it."
        )
    return base_url.strip().rstrip("/")


def _retry_rule(
    kind: RequestKind, *, wait_for_kernels: bool
) -> Callable[[Exception], RetryDecision]:
    """Whether a failed request of ``kind`` is sent again, as the failure table says.

    ``wait_for_kernels`` False leaves a trigger's 503 (busy kernels) to the caller.
    """

    def classify(error: Exception) -> RetryDecision:
        if not isinstance(error, HexAPIError):
            return RetryDecision(False)
        failure = failure_of(error)
        if failure is Failure.UNAVAILABLE and kind is RequestKind.TRIGGER and not wait_for_kernels:
            return RetryDecision(False)
        return RetryDecision(may_send_again(kind, failure), retry_after(error))

    return classify


def _run_body(
    input_params: Mapping[str, Any] | None,
    *,
    dry_run: bool,
    update_published_results: bool | None,
    use_cached_sql_results: bool | None,
    view_id: str | None,
    notifications: Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    """The RunProject request body: only the fields that were given."""
    if view_id is not None and input_params:
        raise ConfigurationError("a run takes either view_id or input_params, not both")
    body: dict[str, Any] = {}
    if input_params:
        body["inputParams"] = dict(input_params)
    if dry_run:
        body["dryRun"] = True
    if update_published_results is not None:
        body["updatePublishedResults"] = update_published_results
    if use_cached_sql_results is not None:
        body["useCachedSqlResults"] = use_cached_sql_results
    if view_id is not None:
        body["viewId"] = view_id
    if notifications:
        body["notifications"] = [dict(item) for item in notifications]
    return body


def _run_created(data: Any, project_id: str) -> RunCreated:
    """The new run a trigger's answer names."""
    try:
        return RunCreated.from_json(data)
    except MalformedResponseError as error:
        if not must_reconcile(RequestKind.TRIGGER, Failure.UNREADABLE):
            raise
        # Hex accepted the trigger, so a run probably exists, but its id is unreadable.
        raise OutcomeUnknownError(
            f"the trigger was accepted but the answer is unreadable: {error.message}",
            operation="RunProject",
            project_id=project_id,
        ) from error


def _log_retry(context: Mapping[str, Any]) -> Callable[[Exception, int, float], None]:
    """The log line written before a failed request is sent again."""

    def on_retry(error: Exception, retry: int, wait: float) -> None:
        log.warning(
            "request_retrying",
            **context,
            retry=retry + 1,
            wait_s=round(wait, 3),
            error=redact(str(error)),
        )

    return on_retry


class HexClient:
    """The Hex API, with budgets, retries and the safe/ambiguous failure split.

    Args:
        base_url: e.g. ``https://app.hex.tech/api/v1`` (or a single-tenant host).
        token: a Hex API token; it is sent only in the Authorization header and
            masked everywhere else.
        session: an existing aiohttp session to use (not closed by this client).
        timeouts: per-request connect/read/total limits.
        retry: the policy for retryable failures.
        request_budget: shared by every request this client sends.
        trigger_budget: additionally applied to every RunProject request.
        max_connections: cap on open sockets to Hex.
        clock, sleep, rng: time and jitter sources (virtual in tests).
        wall: the wall clock, for when rate-limit headers were seen.
        allow_insecure_http: permit plain http to a non-loopback host.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        request_budget: WindowLimiter | None = None,
        trigger_budget: WindowLimiter | None = None,
        max_connections: int = 20,
        clock: Clock = monotonic,
        sleep: Sleep = real_sleep,
        rng: random.Random | None = None,
        wall: Callable[[], datetime] = _utc_now,
        allow_insecure_http: bool = False,
    ) -> None:
        if not token:
            raise ConfigurationError("no Hex API token was given")
        self.base_url = normalize_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._token = Secret(token)
        self._session = session
        self._owns_session = session is None
        self._timeouts = timeouts or Timeouts()
        self._retry = retry or RetryPolicy()
        self.request_budget = request_budget
        self.trigger_budget = trigger_budget
        self._max_connections = max_connections
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._wall = wall
        self.stats = RequestStats()

    def __repr__(self) -> str:
        return f"HexClient({self.base_url!r}, token={self._token!r})"

    @property
    def timeouts(self) -> Timeouts:
        """The per-request time limits."""
        return self._timeouts

    async def __aenter__(self) -> Self:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=self._timeouts.for_aiohttp(),
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session if this client opened it."""
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None if self._owns_session else self._session

    # -- the endpoints -----------------------------------------------------------------

    async def list_projects(
        self, *, page_size: int = MAX_PAGE, filters: ProjectFilter | None = None
    ) -> list[Project]:
        """Every project the token can see (that Hex's ``filters`` keep), following cursors
        to the end."""
        pages = self.iter_project_pages(page_size, filters=filters)
        return [project async for page in pages for project in page]

    async def iter_project_pages(
        self, page_size: int = MAX_PAGE, *, filters: ProjectFilter | None = None
    ) -> AsyncIterator[list[Project]]:
        """Yield the workspace's projects a page at a time, as Hex filters them.

        Only the filters Hex applies are sent (not the title glob); the projects are
        Hex's answer, unchecked: see :meth:`ProjectFilter.matches`.
        """
        wanted = [] if filters is None else filters.query_params()
        after: str | None = None
        while True:
            params: list[tuple[str, str]] = [("limit", str(page_size)), *wanted]
            if after:
                params.append(("after", after))
            data = await self._json("ListProjects", "GET", "/projects", params=params)
            page = ProjectsPage.from_json(data)
            yield list(page.projects)
            if not page.after or not page.projects:
                return
            after = page.after

    async def get_project(self, project_id: str) -> Project:
        """One project's metadata (title, published or not)."""
        data = await self._json(
            "GetProject", "GET", f"/projects/{project_id}", project_id=project_id
        )
        return Project.from_json(data)

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
        """Trigger a run of the project's published version.

        Raises:
            OutcomeUnknownError: the request went out but no usable answer came
                back; a run may exist. Reconcile with :meth:`list_runs`.
            KernelLimitError: the user's kernels are all busy and
                ``retry_kernel_limit`` is False (or retries ran out).
            SendCancelled: ``cancel_if`` said so after the budgets were waited for;
                nothing was sent.

        ``reservation`` (from :meth:`reserve_trigger`) replaces the first try's wait
        for the budgets; a retry waits for them again.
        """
        body = _run_body(
            input_params,
            dry_run=dry_run,
            update_published_results=update_published_results,
            use_cached_sql_results=use_cached_sql_results,
            view_id=view_id,
            notifications=notifications,
        )
        data = await self._json(
            "RunProject",
            "POST",
            f"/projects/{project_id}/runs",
            body=body,
            project_id=project_id,
            retry_kernel_limit=retry_kernel_limit,
            cancel_if=cancel_if,
            reservation=reservation,
        )
        return _run_created(data, project_id)

    async def get_run_status(self, project_id: str, run_id: str) -> RunInfo:
        """A run's current status."""
        data = await self._json(
            "GetRunStatus",
            "GET",
            f"/projects/{project_id}/runs/{run_id}",
            project_id=project_id,
            run_id=run_id,
        )
        return RunInfo.from_json(data)

    async def list_runs_page(
        self,
        project_id: str,
        *,
        limit: int = 25,
        offset: int = 0,
        status_filter: str | None = None,
        trigger_filter: str | None = API_RUNS,
        reservation: Reservation | None = None,
    ) -> RunsPage:
        """One page of the project's runs, newest first (``reservation``: see run_project).

        ``trigger_filter`` (Hex's ``runTriggerFilter``: API, SCHEDULED, APP_REFRESH or
        ALL; None sends none) defaults to API-triggered runs only: unfiltered, Hex also
        lists scheduled and app-refresh runs, which crowd a project's own runs off a page.
        Hosts that ignore the filter still list others' runs, so callers keep checking
        each run's ``run_trigger``.
        """
        params: dict[str, Any] = {"limit": max(1, min(limit, MAX_PAGE)), "offset": offset}
        if status_filter:
            params["statusFilter"] = status_filter
        if trigger_filter:
            params["runTriggerFilter"] = trigger_filter
        data = await self._json(
            "GetProjectRuns",
            "GET",
            f"/projects/{project_id}/runs",
            params=params,
            project_id=project_id,
            reservation=reservation,
        )
        return RunsPage.from_json(data)

    async def list_runs(
        self,
        project_id: str,
        *,
        limit: int = MAX_PAGE,
        offset: int = 0,
        status_filter: str | None = None,
        trigger_filter: str | None = API_RUNS,
        max_runs: int | None = None,
    ) -> list[RunInfo]:
        """The project's runs, newest first, following pages until the end or ``max_runs``.

        Every page carries the same filters (see :meth:`list_runs_page`).
        """
        runs: list[RunInfo] = []
        while max_runs is None or len(runs) < max_runs:
            page = await self.list_runs_page(
                project_id,
                limit=limit,
                offset=offset,
                status_filter=status_filter,
                trigger_filter=trigger_filter,
            )
            runs.extend(page.runs)
            if page.next_page is None or not page.runs:
                break
            offset += len(page.runs)
        return runs if max_runs is None else runs[:max_runs]

    async def cancel_run(self, project_id: str, run_id: str) -> bool:
        """Ask Hex to stop a run.

        Returns:
            True when Hex accepted the cancel; False when it answered that the run
            cannot be cancelled (it had already finished), which is not an error.
        """
        try:
            await self._call(
                "CancelRun",
                "DELETE",
                f"/projects/{project_id}/runs/{run_id}",
                project_id=project_id,
                run_id=run_id,
            )
        except UnprocessableError:
            return False
        return True

    async def reserve_trigger(self, *, reads: int = 0) -> Reservation:
        """Take a trigger's budget slots now, with ``reads`` request slots beside it.

        Pass the result as ``reservation=`` to the reads and then to
        :meth:`run_project`; they go out without waiting for the budgets again.
        """
        asked = self._clock()
        await acquire_together(self.trigger_budget, self.request_budget, second_count=1 + reads)
        return Reservation(reads=reads, waited_s=self._clock() - asked)

    def read_wait(self) -> float:
        """Seconds a read would wait for the request budget now (0: it may go at once)."""
        return 0.0 if self.request_budget is None else self.request_budget.delay(self._clock())

    def advised_trigger_wait(self) -> tuple[float, str]:
        """Seconds Hex's last 429 still asks triggers to wait, and why (0 when none)."""
        budgets = [b for b in (self.trigger_budget, self.request_budget) if b is not None]
        now = self._clock()
        waits = [(budget.advised_wait(now), budget.why(now)) for budget in budgets]
        return max(waits, default=(0.0, ""))

    def trigger_wait(self) -> tuple[float, str]:
        """Seconds before another trigger may be sent, and why (0 when it may go now): the
        budgets' own pacing as well as Hex's last 429."""
        budgets = [b for b in (self.trigger_budget, self.request_budget) if b is not None]
        now = self._clock()
        waits = [(budget.delay(now), budget.why(now)) for budget in budgets]
        return max(waits, default=(0.0, ""))

    # -- plumbing ----------------------------------------------------------------------

    async def _json(self, operation: str, method: str, path: str, **kwargs: Any) -> Any:
        return await self._call(operation, method, path, expect_json=True, **kwargs)

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        expect_json: bool = False,
        body: Mapping[str, Any] | None = None,
        params: QueryParams | None = None,
        project_id: str | None = None,
        run_id: str | None = None,
        retry_kernel_limit: bool = True,
        cancel_if: Callable[[], bool] | None = None,
        reservation: Reservation | None = None,
    ) -> Any:
        """Send a request, and send it again as long as the failure table allows."""
        kind = kind_of(operation)
        context: dict[str, Any] = {
            "operation": operation,
            "project_id": project_id,
            "run_id": run_id,
        }

        async def attempt() -> Any:
            if self._session is None:
                raise ConfigurationError("use the client inside 'async with HexClient(...)'")
            if not (reservation is not None and reservation.take(kind)):
                await self._admit(kind)  # reserved slots were taken together, just before
            if cancel_if is not None and cancel_if():
                raise SendCancelled(
                    "withdrawn before sending", operation=operation, project_id=project_id
                )
            return await self._send(method, path, kind, body, params, expect_json, context)

        return await call_with_retries(
            attempt,
            policy=self._retry,
            classify=_retry_rule(kind, wait_for_kernels=retry_kernel_limit),
            clock=self._clock,
            sleep=self._sleep,
            rng=self._rng,
            on_retry=_log_retry(context),
        )

    async def _send(
        self,
        method: str,
        path: str,
        kind: RequestKind,
        body: Mapping[str, Any] | None,
        params: QueryParams | None,
        expect_json: bool,
        context: dict[str, Any],
    ) -> Any:
        """Send one request whose budget slots are taken, and read its answer."""
        self.stats.add(kind.value)
        headers = {
            "Authorization": f"Bearer {self._token.reveal()}",
            "User-Agent": f"hexbatch/{package_version()}",
            "Accept": "application/json",
        }
        if kind in _EXPANDED_KINDS:
            headers["enable-expanded-stats"] = "true"
        try:
            # A trigger that went out is never abandoned half-way by a cancellation: its
            # answer (the new run's id) must be read.
            with anyio.CancelScope(shield=kind is RequestKind.TRIGGER):
                raw, status, response_headers = await self._exchange(
                    method, path, body, params, headers
                )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            raise RequestNotSentError(
                f"could not connect to {self.base_url}: {error}", **context
            ) from error
        except (TimeoutError, aiohttp.ClientError) as error:
            what = "timed out" if isinstance(error, TimeoutError) else f"failed ({error!r})"
            raise OutcomeUnknownError(
                f"the request was sent but {what} before an answer arrived", **context
            ) from error
        self.stats.observe_limits(kind.value, response_headers, self._wall())
        if 200 <= status < 300:
            return _decoded(raw, status, kind, expect_json, context)
        raise self._http_failure(status, raw, response_headers, kind, context)

    async def _admit(self, kind: RequestKind) -> None:
        """Wait for the budgets a request of ``kind`` counts against, and take its slots."""
        if kind is RequestKind.TRIGGER:
            # Both budgets admit a trigger at the same instant, right before it leaves.
            await acquire_together(self.trigger_budget, self.request_budget)
        elif self.request_budget is not None:
            await self.request_budget.acquire()

    async def _exchange(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        params: QueryParams | None,
        headers: Mapping[str, str],
    ) -> tuple[bytes, int, dict[str, str]]:
        if self._session is None:  # checked by the caller; keeps the type checker informed
            raise AssertionError("unreachable")
        async with self._session.request(
            method,
            self.base_url + path,
            json=body if method == "POST" else None,
            params=params,
            headers=headers,
            timeout=self._timeouts.for_aiohttp(),
        ) as response:
            return await response.read(), response.status, dict(response.headers)

    def _http_failure(
        self,
        status: int,
        raw: bytes,
        headers: Mapping[str, str],
        kind: RequestKind,
        context: dict[str, Any],
    ) -> HexAPIError:
        """The error an HTTP error answer means (and a 429 slows its budget)."""
        error = http_error(status, raw, headers, **context)
        if isinstance(error, RateLimitedError):
            self.stats.add("throttled")
            # Slow down the budget that was exceeded: a trigger's 429 is the trigger
            # limit (when there is a trigger budget), any other the request limit.
            budget = self.trigger_budget if kind is RequestKind.TRIGGER else None
            budget = budget or self.request_budget
            if budget is not None:
                budget.penalize(error.retry_after)
        if must_reconcile(kind, failure_of_status(status)):
            # A 500/502/504 after the body went out says nothing about whether the
            # run was created; only reconciliation can tell.
            doubt = OutcomeUnknownError(
                f"Hex answered {status} to a trigger; a run may or may not exist: {error.message}",
                status=status,
                trace_id=error.trace_id,
                **context,
            )
            doubt.__cause__ = error
            return doubt
        return error


def _decoded(
    raw: bytes, status: int, kind: RequestKind, expect_json: bool, context: dict[str, Any]
) -> Any:
    """A success answer's JSON (None when none is expected)."""
    if not expect_json:
        return None
    try:
        return json.loads(raw)
    except ValueError as bad_json:
        in_doubt = must_reconcile(kind, Failure.NOT_JSON)
        error_type = OutcomeUnknownError if in_doubt else MalformedResponseError
        raise error_type(
            f"HTTP {status} with a body that is not JSON", status=status, **context
        ) from bad_json


__all__ = [
    "API_RUNS",
    "DEFAULT_BASE_URL",
    "HexAPIError",
    "HexClient",
    "RequestStats",
    "Reservation",
    "Timeouts",
    "is_loopback",
    "normalize_base_url",
]
