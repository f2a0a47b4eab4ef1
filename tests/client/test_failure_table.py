"""The client sends a failed request again exactly when the failure table allows it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aioresponses import aioresponses

from hexbatch import errors
from hexbatch.api.client import HexClient
from hexbatch.api.http_errors import http_error
from hexbatch.api.request_failures import (
    Failure,
    RequestKind,
    failure_of_status,
    may_send_again,
    must_reconcile,
)
from tests.client.conftest import BASE, PROJECT, RUN

ATTEMPTS = 4  # the client fixture's retry policy
RUNS_URL = f"{BASE}/projects/{PROJECT}/runs"
STATUS_URL = f"{RUNS_URL}/{RUN}"

# Each kind of request: its HTTP method, a pattern matching its URL, and a call making it.
Call = Callable[[HexClient], Awaitable[object]]
REQUESTS: dict[RequestKind, tuple[str, re.Pattern[str], Call]] = {
    RequestKind.TRIGGER: (
        "POST",
        re.compile(rf"^{re.escape(RUNS_URL)}$"),
        lambda client: client.run_project(PROJECT, {"a": 1}),
    ),
    RequestKind.STATUS: (
        "GET",
        re.compile(rf"^{re.escape(STATUS_URL)}$"),
        lambda client: client.get_run_status(PROJECT, RUN),
    ),
    RequestKind.LIST: (
        "GET",
        re.compile(rf"^{re.escape(RUNS_URL)}\?"),
        lambda client: client.list_runs_page(PROJECT),
    ),
    RequestKind.CANCEL: (
        "DELETE",
        re.compile(rf"^{re.escape(STATUS_URL)}$"),
        lambda client: client.cancel_run(PROJECT, RUN),
    ),
    RequestKind.PROJECTS: (
        "GET",
        re.compile(rf"^{re.escape(BASE)}/projects/{PROJECT}$"),
        lambda client: client.get_project(PROJECT),
    ),
}


def _answer(http: aioresponses, kind: RequestKind, **answer: object) -> None:
    method, url, _ = REQUESTS[kind]
    http.add(url, method, repeat=True, **answer)  # type: ignore[arg-type]


def _sent(http: aioresponses) -> int:
    return sum(len(calls) for calls in http.requests.values())


def _expected_sends(kind: RequestKind, failure: Failure) -> int:
    return ATTEMPTS if may_send_again(kind, failure) else 1


# A 422 to a cancel is an answer (the run had already ended), not a failure.
ERROR_ANSWERS = [
    (kind, status)
    for kind in RequestKind
    for status in (400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504)
    if (kind, status) != (RequestKind.CANCEL, 422)
]


@pytest.mark.parametrize(("kind", "status"), ERROR_ANSWERS)
async def test_an_error_status_is_retried_and_raised_as_the_table_says(
    http: aioresponses, client: HexClient, kind: RequestKind, status: int
) -> None:
    """Each kind of request, each error status: how often it is sent, and what is raised."""
    failure = failure_of_status(status)
    operation = "RunProject" if kind is RequestKind.TRIGGER else "GetRunStatus"
    raised: type[errors.HexAPIError] = type(http_error(status, b"", {}, operation=operation))
    if must_reconcile(kind, failure):
        raised = errors.OutcomeUnknownError
    _answer(http, kind, status=status, payload={"reason": "no"})

    with pytest.raises(raised):
        await REQUESTS[kind][2](client)

    assert _sent(http) == _expected_sends(kind, failure)


@pytest.mark.parametrize(
    ("failure", "answer"),
    [
        (Failure.NO_ANSWER, {"exception": aiohttp.ServerDisconnectedError()}),
        (Failure.NO_ANSWER, {"exception": TimeoutError()}),
        (Failure.NOT_CONNECTED, {"exception": aiohttp.ConnectionTimeoutError()}),
        (Failure.NOT_JSON, {"status": 200, "body": "<html>"}),
    ],
)
@pytest.mark.parametrize("kind", [k for k in RequestKind if k is not RequestKind.CANCEL])
async def test_a_lost_or_unreadable_answer_is_retried_as_the_table_says(
    http: aioresponses,
    client: HexClient,
    kind: RequestKind,
    failure: Failure,
    answer: dict[str, object],
) -> None:
    """No connection, no answer, or an answer that is not JSON: sent again when harmless."""
    _answer(http, kind, **answer)

    with pytest.raises(errors.HexAPIError) as caught:
        await REQUESTS[kind][2](client)

    assert _sent(http) == _expected_sends(kind, failure)
    assert isinstance(caught.value, errors.OutcomeUnknownError) is (
        failure is Failure.NO_ANSWER or must_reconcile(kind, failure)
    )


async def test_a_trigger_left_to_wait_for_kernels_is_not_sent_again(
    http: aioresponses, client: HexClient
) -> None:
    """A caller that waits for busy kernels itself gets the first 503 back at once."""
    _answer(http, RequestKind.TRIGGER, status=503, payload={"reason": "busy"})

    with pytest.raises(errors.KernelLimitError):
        await client.run_project(PROJECT, {"a": 1}, retry_kernel_limit=False)

    assert _sent(http) == 1
