"""What a failed request to Hex means, for each kind of request: one table.

The client decides from it whether to send a request again; the engine decides
from it what a trigger's error means for the run. Every failure is one of a few
kinds (the request never left; it left and no answer came; Hex answered 429,
503, another 5xx, a 4xx; the answer could not be read), and for each kind of
request the table gives its meaning:

* ``NOT_SENT``: Hex did nothing with the request; sending it again is safe.
* ``MAYBE_PROCESSED``: Hex may have acted on it. A read is simply sent again; a
  trigger never is blindly: a run may exist, so the project's runs are reconciled
  first, and the client raises :class:`~hexbatch.errors.OutcomeUnknownError`.
* ``FINAL``: Hex refused it for good; give up with this error.

A trigger (RunProject) is the one request that creates something, so it is the
one kind that is not idempotent; :data:`RequestKind.TRIGGER` is the only test of
"is this a trigger" anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Final

from hexbatch.errors import (
    AuthenticationError,
    BadRequestError,
    HexAPIError,
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    RequestNotSentError,
    SendCancelled,
    ServerError,
    ServiceUnavailableError,
    UnprocessableError,
)


class RequestKind(StrEnum):
    """What a request to Hex does; each kind has its own budget counters too."""

    TRIGGER = "trigger"
    """RunProject: creates a run."""
    STATUS = "status"
    """GetRunStatus: reads one run."""
    LIST = "list"
    """GetProjectRuns: reads a page of a project's runs."""
    CANCEL = "cancel"
    """CancelRun: asks Hex to stop a run (asking twice does no harm)."""
    PROJECTS = "projects"
    """ListProjects and GetProject: read the workspace's projects."""

    @property
    def idempotent(self) -> bool:
        """Whether sending the request twice has the effect of sending it once."""
        return self is not RequestKind.TRIGGER


OPERATION_KINDS: Final[Mapping[str, RequestKind]] = MappingProxyType(
    {
        "RunProject": RequestKind.TRIGGER,
        "GetRunStatus": RequestKind.STATUS,
        "GetProjectRuns": RequestKind.LIST,
        "CancelRun": RequestKind.CANCEL,
        "ListProjects": RequestKind.PROJECTS,
        "GetProject": RequestKind.PROJECTS,
    }
)
"""The kind of each Hex operation hexbatch sends."""


def kind_of(operation: str) -> RequestKind:
    """The kind of the Hex operation named ``operation`` (e.g. ``RunProject``).

    Raises:
        KeyError: an operation hexbatch does not send.
    """
    return OPERATION_KINDS[operation]


class Failure(Enum):
    """How a request failed, as far as the client can tell."""

    WITHDRAWN = "withdrawn by the caller before sending"
    NOT_CONNECTED = "no connection: the request never left"
    NO_ANSWER = "timeout or reset after the request went out"
    RATE_LIMITED = "429"
    UNAVAILABLE = "503 (on a trigger: the user's kernels are all busy)"
    SERVER_ERROR = "another 5xx"
    BAD_REQUEST = "400"
    UNAUTHENTICATED = "401"
    FORBIDDEN = "403"
    NOT_FOUND = "404"
    UNPROCESSABLE = "422"
    OTHER_STATUS = "any other error status"
    NOT_JSON = "a 2xx whose body is not JSON"
    UNREADABLE = "a 2xx in JSON without the fields expected (found after the retries)"


class Meaning(Enum):
    """What a failure says about the request's effect in Hex."""

    NOT_SENT = "not sent: safe to send again"
    MAYBE_PROCESSED = "maybe processed: reconcile a trigger, repeat a read"
    FINAL = "final: give up with this error"


_NOT_SENT, _MAYBE, _FINAL = Meaning.NOT_SENT, Meaning.MAYBE_PROCESSED, Meaning.FINAL

# What each failure means for a read or a cancel.
_IDEMPOTENT_MEANINGS: Final[Mapping[Failure, Meaning]] = {
    Failure.WITHDRAWN: _NOT_SENT,
    Failure.NOT_CONNECTED: _NOT_SENT,
    Failure.NO_ANSWER: _MAYBE,
    Failure.RATE_LIMITED: _NOT_SENT,
    Failure.UNAVAILABLE: _NOT_SENT,
    Failure.SERVER_ERROR: _MAYBE,
    Failure.BAD_REQUEST: _FINAL,
    Failure.UNAUTHENTICATED: _FINAL,
    Failure.FORBIDDEN: _FINAL,
    Failure.NOT_FOUND: _FINAL,
    Failure.UNPROCESSABLE: _FINAL,
    Failure.OTHER_STATUS: _FINAL,
    Failure.NOT_JSON: _MAYBE,
    # A read's answer that parses but lacks its fields will not improve by asking again.
    Failure.UNREADABLE: _FINAL,
}
# Where a trigger differs: Hex accepted it (2xx) or failed half-way (5xx), so a run
# may exist whatever the answer looked like; a 503 is the kernel limit, which
# creates no run.
_TRIGGER_MEANINGS: Final[Mapping[Failure, Meaning]] = {
    **_IDEMPOTENT_MEANINGS,
    Failure.UNREADABLE: _MAYBE,
}

MEANINGS: Final[Mapping[tuple[RequestKind, Failure], Meaning]] = MappingProxyType(
    {
        (kind, failure): (_IDEMPOTENT_MEANINGS if kind.idempotent else _TRIGGER_MEANINGS)[failure]
        for kind in RequestKind
        for failure in Failure
    }
)
"""The table: every (request kind, failure) pair and what it means."""


def meaning_of(kind: RequestKind, failure: Failure) -> Meaning:
    """What ``failure`` of a request of ``kind`` means."""
    return MEANINGS[kind, failure]


def must_reconcile(kind: RequestKind, failure: Failure) -> bool:
    """Whether the failure leaves a request that creates something in doubt: the caller
    must look for its effect rather than send it again (raised as OutcomeUnknownError)."""
    return not kind.idempotent and meaning_of(kind, failure) is Meaning.MAYBE_PROCESSED


def may_send_again(kind: RequestKind, failure: Failure) -> bool:
    """Whether the client may send a request of ``kind`` again after ``failure``.

    A request the caller withdrew stays withdrawn; one Hex may have processed is
    sent again only when that is harmless (idempotent).
    """
    if failure is Failure.WITHDRAWN:
        return False
    meaning = meaning_of(kind, failure)
    return meaning is Meaning.NOT_SENT or (meaning is Meaning.MAYBE_PROCESSED and kind.idempotent)


_STATUS_FAILURES: Final[Mapping[int, Failure]] = {
    400: Failure.BAD_REQUEST,
    401: Failure.UNAUTHENTICATED,
    403: Failure.FORBIDDEN,
    404: Failure.NOT_FOUND,
    422: Failure.UNPROCESSABLE,
    429: Failure.RATE_LIMITED,
    503: Failure.UNAVAILABLE,
}


def failure_of_status(status: int) -> Failure:
    """The failure an HTTP error status is."""
    if status in _STATUS_FAILURES:
        return _STATUS_FAILURES[status]
    return Failure.SERVER_ERROR if status >= 500 else Failure.OTHER_STATUS


# Most specific first: a SendCancelled is a RequestNotSentError, a 503 a ServerError.
_ERROR_FAILURES: Final[tuple[tuple[type[HexAPIError], Failure], ...]] = (
    (SendCancelled, Failure.WITHDRAWN),
    (RequestNotSentError, Failure.NOT_CONNECTED),
    (OutcomeUnknownError, Failure.NO_ANSWER),
    (MalformedResponseError, Failure.NOT_JSON),
    (RateLimitedError, Failure.RATE_LIMITED),
    (ServiceUnavailableError, Failure.UNAVAILABLE),
    (ServerError, Failure.SERVER_ERROR),
    (BadRequestError, Failure.BAD_REQUEST),
    (AuthenticationError, Failure.UNAUTHENTICATED),
    (PermissionDeniedError, Failure.FORBIDDEN),
    (NotFoundError, Failure.NOT_FOUND),
    (UnprocessableError, Failure.UNPROCESSABLE),
)


def failure_of(error: HexAPIError) -> Failure:
    """The failure the client's ``error`` reports.

    A trigger whose outcome is in doubt is raised as OutcomeUnknownError whatever
    happened (no answer, a 5xx, an unreadable answer); all of those mean the same
    for it, so it reads as ``NO_ANSWER``.
    """
    for error_type, failure in _ERROR_FAILURES:
        if isinstance(error, error_type):
            return failure
    return Failure.OTHER_STATUS


def retry_after(error: HexAPIError) -> float | None:
    """Seconds Hex asked to wait before sending again (429, 503), when it said."""
    wait = getattr(error, "retry_after", None)
    return wait if isinstance(wait, int | float) else None


__all__ = [
    "MEANINGS",
    "OPERATION_KINDS",
    "Failure",
    "Meaning",
    "RequestKind",
    "failure_of",
    "failure_of_status",
    "kind_of",
    "may_send_again",
    "meaning_of",
    "must_reconcile",
    "retry_after",
]
