"""The client's error classes, the safe/ambiguous split, and its retry rules."""

from __future__ import annotations

import aiohttp
import pytest
from aioresponses import aioresponses
from structlog.testing import capture_logs
from yarl import URL

from hexbatch import errors
from hexbatch.api.client import HexClient
from hexbatch.clock import VirtualClock
from tests.client.conftest import BASE, PROJECT, RUN, TOKEN, created_payload, run_payload

RUNS_URL = f"{BASE}/projects/{PROJECT}/runs"
STATUS_URL = f"{RUNS_URL}/{RUN}"


def _sent(http: aioresponses, method: str, url: str) -> int:
    return len(http.requests.get((method, URL(url)), []))


@pytest.mark.parametrize(
    ("status", "body", "error_type", "text"),
    [
        (400, {"reason": "Bad request", "traceId": "t-400"}, errors.BadRequestError, "Bad request"),
        (
            401,
            {"message": "Authorization not provided", "code": "UNAUTHORIZED"},
            errors.AuthenticationError,
            "regenerate it",
        ),
        (403, {"reason": "Insufficient access"}, errors.PermissionDeniedError, "Run projects"),
        (404, {"message": "Not found", "code": "NOT_FOUND"}, errors.NotFoundError, "shared"),
        (
            422,
            {"reason": "Project has not been published", "traceId": "t"},
            errors.UnprocessableError,
            "Publish the project",
        ),
    ],
)
async def test_error_statuses_map_to_classes_with_advice(
    http: aioresponses,
    client: HexClient,
    status: int,
    body: dict[str, str],
    error_type: type[errors.HexHTTPError],
    text: str,
) -> None:
    """Each documented error status raises its own class whose message says what to do."""
    http.post(RUNS_URL, status=status, payload=body)

    with pytest.raises(error_type) as caught:
        await client.run_project(PROJECT, {"a": 1})

    assert caught.value.status == status
    assert caught.value.project_id == PROJECT
    assert caught.value.operation == "RunProject"
    assert text in str(caught.value)
    assert _sent(http, "POST", RUNS_URL) == 1


async def test_a_401_explains_expiring_personal_tokens(
    http: aioresponses, client: HexClient
) -> None:
    """A nightly job whose personal token expired learns why, and what to use instead."""
    http.get(RUNS_URL + "/" + "r-1", status=401, payload={"reason": "Token expired"})

    with pytest.raises(errors.AuthenticationError) as caught:
        await client.get_run_status(PROJECT, "r-1")

    message = str(caught.value)
    assert "invalid, expired or revoked" in message
    assert "Personal access tokens expire" in message
    assert "workspace token" in message


async def test_422_invalid_inputs_are_listed(http: aioresponses, client: HexClient) -> None:
    """The invalid/notFound payload of a 422 becomes attributes and a readable message."""
    http.post(
        RUNS_URL,
        status=422,
        payload={
            "traceId": "t-9",
            "invalid": [
                {"paramName": "n", "paramValue": '"x"', "dataType": "NUMBER", "inputCellType": "X"}
            ],
            "notFound": ["regoin"],
        },
    )

    with pytest.raises(errors.UnprocessableError) as caught:
        await client.run_project(PROJECT, {"n": "x", "regoin": "us"})

    assert caught.value.not_found == ["regoin"]
    assert caught.value.invalid[0]["paramName"] == "n"
    assert caught.value.trace_id == "t-9"
    message = str(caught.value)
    assert 'n="x" (expected NUMBER)' in message
    assert "regoin" in message
    assert "Fix the named inputs" in message


async def test_plain_text_error_bodies_are_readable(http: aioresponses, client: HexClient) -> None:
    """A non-JSON error body (e.g. 'Unauthorized') is used as the message."""
    http.get(STATUS_URL, status=401, body="Unauthorized", content_type="text/plain")

    with pytest.raises(errors.AuthenticationError, match="Unauthorized"):
        await client.get_run_status(PROJECT, RUN)


async def test_trigger_timeout_is_outcome_unknown_and_never_resent(
    http: aioresponses, client: HexClient
) -> None:
    """A trigger that timed out after sending may have created a run: it is not retried."""
    http.post(RUNS_URL, exception=TimeoutError())
    http.post(RUNS_URL, status=201, payload=created_payload())

    with pytest.raises(errors.OutcomeUnknownError) as caught:
        await client.run_project(PROJECT, {"a": 1})

    assert caught.value.project_id == PROJECT
    assert _sent(http, "POST", RUNS_URL) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_trigger_5xx_is_outcome_unknown_and_never_resent(
    http: aioresponses, client: HexClient, status: int
) -> None:
    """A 5xx other than 503 to a trigger is ambiguous, so it is reported, not retried."""
    http.post(RUNS_URL, status=status, body="upstream error")

    with pytest.raises(errors.OutcomeUnknownError) as caught:
        await client.run_project(PROJECT)

    assert caught.value.status == status
    assert _sent(http, "POST", RUNS_URL) == 1


async def test_trigger_disconnect_is_outcome_unknown(http: aioresponses, client: HexClient) -> None:
    """A connection dropped after the request went out is ambiguous too."""
    http.post(RUNS_URL, exception=aiohttp.ServerDisconnectedError())

    with pytest.raises(errors.OutcomeUnknownError):
        await client.run_project(PROJECT)

    assert _sent(http, "POST", RUNS_URL) == 1


async def test_trigger_with_unreadable_201_is_outcome_unknown(
    http: aioresponses, client: HexClient
) -> None:
    """A 201 whose body cannot be read means a run exists whose id we lack: reconcile."""
    http.post(RUNS_URL, status=201, body="{not json")

    with pytest.raises(errors.OutcomeUnknownError):
        await client.run_project(PROJECT)


async def test_trigger_not_sent_is_retried(
    http: aioresponses, client: HexClient, clock: VirtualClock
) -> None:
    """A connect failure means the server never saw the trigger, so it is safe to resend."""
    http.post(RUNS_URL, exception=aiohttp.ConnectionTimeoutError())
    http.post(RUNS_URL, status=201, payload=created_payload())

    created = await client.run_project(PROJECT)

    assert created.run_id == RUN
    assert _sent(http, "POST", RUNS_URL) == 2
    assert len(clock.slept) == 1


async def test_trigger_503_waits_retry_after_then_succeeds(
    http: aioresponses, client: HexClient, clock: VirtualClock
) -> None:
    """The kernel-limit 503 created no run; the trigger is resent after the advised delay."""
    http.post(
        RUNS_URL,
        status=503,
        payload={"reason": "Too many kernels"},
        headers={"Retry-After": "7"},
    )
    http.post(RUNS_URL, status=201, payload=created_payload())

    await client.run_project(PROJECT)

    assert _sent(http, "POST", RUNS_URL) == 2
    assert clock.slept[0] >= 7


async def test_trigger_503_can_be_left_to_the_caller(http: aioresponses, client: HexClient) -> None:
    """With retry_kernel_limit=False the scheduler gets the KernelLimitError itself."""
    http.post(RUNS_URL, status=503, payload={"reason": "Too many kernels"})

    with pytest.raises(errors.KernelLimitError, match="waits for some to finish"):
        await client.run_project(PROJECT, retry_kernel_limit=False)


async def test_429_honours_retry_after_and_counts_throttling(
    http: aioresponses, client: HexClient, clock: VirtualClock
) -> None:
    """A 429 is retried after Retry-After, and counted as throttled."""
    http.post(
        RUNS_URL,
        status=429,
        payload={"reason": "Rate limit exceeded", "traceId": "t"},
        headers={
            "Retry-After": "12",
            "X-RateLimit-Limit": "20",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "11.5",
        },
    )
    http.post(RUNS_URL, status=201, payload=created_payload())

    await client.run_project(PROJECT)

    assert clock.slept[0] >= 12
    assert client.stats["throttled"] == 1
    assert client.stats["trigger"] == 2


async def test_rate_limited_error_exposes_headers(http: aioresponses, clock: VirtualClock) -> None:
    """When retries run out, the 429 error carries the parsed rate-limit headers."""
    http.get(
        STATUS_URL,
        status=429,
        payload={"reason": "Rate limit exceeded"},
        headers={
            "X-RateLimit-Limit": "60",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "30",
        },
    )
    from hexbatch.api.retry import NO_RETRIES

    async with HexClient(BASE, TOKEN, retry=NO_RETRIES, clock=clock, sleep=clock.sleep) as client:
        with pytest.raises(errors.RateLimitedError) as caught:
            await client.get_run_status(PROJECT, RUN)

    assert (caught.value.limit, caught.value.remaining, caught.value.reset) == (60, 0, 30.0)
    assert caught.value.retry_after == 30.0
    assert caught.value.run_id == RUN


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "body": "oops"},
        {"status": 502, "body": "bad gateway"},
        {"status": 503, "body": "unavailable"},
        {"status": 504, "body": "timeout"},
        {"exception": TimeoutError()},
        {"exception": aiohttp.ServerDisconnectedError()},
        {"status": 200, "body": "<html>not json</html>"},
    ],
)
async def test_status_reads_retry_transient_failures(
    http: aioresponses, client: HexClient, failure: dict[str, object]
) -> None:
    """GETs are idempotent: 5xx, timeouts, resets and garbled bodies are retried."""
    http.get(STATUS_URL, **failure)
    http.get(STATUS_URL, payload=run_payload())

    info = await client.get_run_status(PROJECT, RUN)

    assert info.status == "RUNNING"
    assert _sent(http, "GET", STATUS_URL) == 2


async def test_retries_are_bounded_in_attempts(
    http: aioresponses, client: HexClient, clock: VirtualClock
) -> None:
    """After the policy's attempts the last error is raised, with backoff between tries."""
    for _ in range(10):
        http.get(STATUS_URL, status=500, body="down")

    with pytest.raises(errors.ServerError):
        await client.get_run_status(PROJECT, RUN)

    assert _sent(http, "GET", STATUS_URL) == 4
    assert len(clock.slept) == 3
    assert all(0 <= wait <= 8.0 for wait in clock.slept)


async def test_cancel_is_retried_on_server_errors(http: aioresponses, client: HexClient) -> None:
    """DELETE is idempotent, so a 502 is retried."""
    http.delete(STATUS_URL, status=502, body="bad gateway")
    http.delete(STATUS_URL, status=204)

    assert await client.cancel_run(PROJECT, RUN) is True
    assert _sent(http, "DELETE", STATUS_URL) == 2


async def test_retries_are_logged_without_the_token(http: aioresponses, client: HexClient) -> None:
    """Every retry is logged as request_retrying, and the token never appears."""
    http.get(STATUS_URL, status=500, body=f"echo Bearer {TOKEN}")
    http.get(STATUS_URL, payload=run_payload())

    with capture_logs() as logs:
        await client.get_run_status(PROJECT, RUN)

    (event,) = [e for e in logs if e["event"] == "request_retrying"]
    assert event["operation"] == "GetRunStatus"
    assert event["run_id"] == RUN
    assert TOKEN not in repr(logs)
    assert "***" in event["error"]


async def test_token_echoed_in_an_error_is_masked(http: aioresponses, client: HexClient) -> None:
    """A server that echoes the token back cannot make it reach an error message."""
    http.post(RUNS_URL, status=400, payload={"reason": f"bad token {TOKEN}"})

    with pytest.raises(errors.BadRequestError) as caught:
        await client.run_project(PROJECT)

    assert TOKEN not in str(caught.value)
    assert "bad token ***" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://app.hex.tech/api/v1", True),
        ("http://127.0.0.1:8765/api/v1", True),
        ("http://localhost:8765/api/v1/", True),
        ("http://[::1]:8765/api/v1", True),
        ("http://hex.internal.example/api/v1", False),
        ("ftp://app.hex.tech/api/v1", False),
        ("app.hex.tech/api/v1", False),
    ],
)
def test_plain_http_is_refused_off_loopback(url: str, allowed: bool) -> None:
    """The token must not cross a network in clear; loopback http is fine for the simulator."""
    if allowed:
        assert not HexClient(url, TOKEN).base_url.endswith("/")
    else:
        with pytest.raises(errors.ConfigurationError):
            HexClient(url, TOKEN)


def test_plain_http_can_be_forced() -> None:
    """A user who insists can allow plain http to another host."""
    client = HexClient("http://hex.internal.example/api/v1", TOKEN, allow_insecure_http=True)

    assert client.base_url == "http://hex.internal.example/api/v1"


def test_missing_token_is_a_configuration_error() -> None:
    """An empty token fails at construction, before any request."""
    with pytest.raises(errors.ConfigurationError, match="no Hex API token"):
        HexClient(BASE, "")


async def test_client_outside_context_manager_says_how_to_use_it() -> None:
    """Calling an endpoint without entering the client explains the fix."""
    client = HexClient(BASE, TOKEN)

    with pytest.raises(errors.ConfigurationError, match="async with"):
        await client.get_run_status(PROJECT, RUN)
