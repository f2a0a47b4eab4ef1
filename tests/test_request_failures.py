"""The failure table: what each failure of each kind of request means, row by row."""

from __future__ import annotations

import pytest

from hexbatch import errors
from hexbatch.api.http_errors import http_error
from hexbatch.api.request_failures import (
    MEANINGS,
    OPERATION_KINDS,
    Failure,
    Meaning,
    RequestKind,
    failure_of,
    failure_of_status,
    kind_of,
    may_send_again,
    meaning_of,
    must_reconcile,
)

NOT_SENT, MAYBE, FINAL = Meaning.NOT_SENT, Meaning.MAYBE_PROCESSED, Meaning.FINAL
READS = [RequestKind.STATUS, RequestKind.LIST, RequestKind.CANCEL, RequestKind.PROJECTS]

# failure: (meaning for a read or cancel, meaning for a trigger), written out by hand.
EXPECTED: dict[Failure, tuple[Meaning, Meaning]] = {
    Failure.WITHDRAWN: (NOT_SENT, NOT_SENT),
    Failure.NOT_CONNECTED: (NOT_SENT, NOT_SENT),
    Failure.NO_ANSWER: (MAYBE, MAYBE),
    Failure.RATE_LIMITED: (NOT_SENT, NOT_SENT),
    Failure.UNAVAILABLE: (NOT_SENT, NOT_SENT),
    Failure.SERVER_ERROR: (MAYBE, MAYBE),
    Failure.BAD_REQUEST: (FINAL, FINAL),
    Failure.UNAUTHENTICATED: (FINAL, FINAL),
    Failure.FORBIDDEN: (FINAL, FINAL),
    Failure.NOT_FOUND: (FINAL, FINAL),
    Failure.UNPROCESSABLE: (FINAL, FINAL),
    Failure.OTHER_STATUS: (FINAL, FINAL),
    Failure.NOT_JSON: (MAYBE, MAYBE),
    Failure.UNREADABLE: (FINAL, MAYBE),
}

# failure: (a read is sent again, a trigger is sent again)
RESENT: dict[Failure, tuple[bool, bool]] = {
    Failure.WITHDRAWN: (False, False),
    Failure.NOT_CONNECTED: (True, True),
    Failure.NO_ANSWER: (True, False),
    Failure.RATE_LIMITED: (True, True),
    Failure.UNAVAILABLE: (True, True),
    Failure.SERVER_ERROR: (True, False),
    Failure.BAD_REQUEST: (False, False),
    Failure.UNAUTHENTICATED: (False, False),
    Failure.FORBIDDEN: (False, False),
    Failure.NOT_FOUND: (False, False),
    Failure.UNPROCESSABLE: (False, False),
    Failure.OTHER_STATUS: (False, False),
    Failure.NOT_JSON: (True, False),
    Failure.UNREADABLE: (False, False),
}


def test_the_table_has_a_row_for_every_kind_and_failure() -> None:
    """No pair of request kind and failure is left without a meaning."""
    assert set(EXPECTED) == set(Failure)
    assert set(MEANINGS) == {(kind, failure) for kind in RequestKind for failure in Failure}


@pytest.mark.parametrize("failure", list(Failure))
@pytest.mark.parametrize("kind", READS)
def test_each_failure_of_a_read_or_cancel_means_what_the_table_says(
    kind: RequestKind, failure: Failure
) -> None:
    """Reads and cancels repeat what may have been processed and never need reconciling."""
    meaning, _ = EXPECTED[failure]
    resent, _ = RESENT[failure]

    assert meaning_of(kind, failure) is meaning
    assert may_send_again(kind, failure) is resent
    assert not must_reconcile(kind, failure)


@pytest.mark.parametrize("failure", list(Failure))
def test_each_failure_of_a_trigger_means_what_the_table_says(failure: Failure) -> None:
    """A trigger that may have been processed is never sent again: it is reconciled."""
    _, meaning = EXPECTED[failure]
    _, resent = RESENT[failure]

    assert meaning_of(RequestKind.TRIGGER, failure) is meaning
    assert may_send_again(RequestKind.TRIGGER, failure) is resent
    assert must_reconcile(RequestKind.TRIGGER, failure) is (meaning is MAYBE)


def test_only_the_trigger_is_not_idempotent() -> None:
    """There is one test of "is this a trigger": the RunProject operation's kind."""
    assert [kind for kind in RequestKind if not kind.idempotent] == [RequestKind.TRIGGER]
    assert [op for op, kind in OPERATION_KINDS.items() if kind is RequestKind.TRIGGER] == [
        "RunProject"
    ]
    assert kind_of("GetRunStatus") is RequestKind.STATUS
    assert kind_of("GetProjectRuns") is RequestKind.LIST
    assert kind_of("CancelRun") is RequestKind.CANCEL
    assert {kind_of("ListProjects"), kind_of("GetProject")} == {RequestKind.PROJECTS}


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        (400, Failure.BAD_REQUEST),
        (401, Failure.UNAUTHENTICATED),
        (403, Failure.FORBIDDEN),
        (404, Failure.NOT_FOUND),
        (409, Failure.OTHER_STATUS),
        (418, Failure.OTHER_STATUS),
        (422, Failure.UNPROCESSABLE),
        (429, Failure.RATE_LIMITED),
        (500, Failure.SERVER_ERROR),
        (502, Failure.SERVER_ERROR),
        (503, Failure.UNAVAILABLE),
        (504, Failure.SERVER_ERROR),
        (302, Failure.OTHER_STATUS),
    ],
)
def test_each_error_status_is_one_failure(status: int, failure: Failure) -> None:
    """A status names its failure, and the error the client builds for it reads back as it."""
    assert failure_of_status(status) is failure
    for operation in OPERATION_KINDS:
        assert failure_of(http_error(status, b"", {}, operation=operation)) is failure


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (errors.SendCancelled("withdrawn"), Failure.WITHDRAWN),
        (errors.RequestNotSentError("refused"), Failure.NOT_CONNECTED),
        (errors.OutcomeUnknownError("timed out"), Failure.NO_ANSWER),
        (errors.MalformedResponseError("not JSON"), Failure.NOT_JSON),
        (errors.KernelLimitError("kernels busy"), Failure.UNAVAILABLE),
        (errors.HexHTTPError("teapot", status=418), Failure.OTHER_STATUS),
        (errors.HexAPIError("something else"), Failure.OTHER_STATUS),
    ],
)
def test_each_error_the_client_raises_reads_back_as_its_failure(
    error: errors.HexAPIError, failure: Failure
) -> None:
    """The engine learns the failure from the error alone, a subclass before its base."""
    assert failure_of(error) is failure
