"""The exceptions hexbatch raises.

::

    HexbatchError
    ├── ConfigurationError            bad base URL, missing token, refused plain http
    ├── ManifestError                 (hexbatch.manifest) every problem found in a manifest
    ├── ScenarioError                 a simulator scenario that cannot
    │                                 be used; also a ValueError
    ├── PreflightError                (hexbatch.batch) a project cannot be run: nothing
    │                                 was triggered
    ├── NothingToRerun                (hexbatch.resume) --rerun found no batch or no run
    ├── StateError                    (hexbatch.state) the state store cannot serve
    │   ├── StateLockedError          another process holds it
    │   │   └── LeaseHeldError        a live driver holds the batch's lease
    │   └── LeaseLostError            this driver's lease was taken over
    ├── ReportsNotWritten             (hexbatch.report.writer) some report formats could
    │                                 not be written; also an OSError
    └── HexAPIError                   anything that went wrong talking to Hex
        ├── RequestNotSentError       connect/DNS failure: the server never saw it,
        │   │                         so retrying is safe even for a trigger POST
        │   └── SendCancelled         withdrawn by the caller before sending
        ├── OutcomeUnknownError       timeout, disconnect, 5xx or garbled answer after
        │                             a request was sent: a trigger may or may not have
        │                             created a run, so it must be reconciled, never
        │                             blindly retried
        ├── MalformedResponseError    a 2xx answer whose body is not what Hex sends
        └── HexHTTPError              an HTTP error status from Hex
            ├── BadRequestError              400
            ├── AuthenticationError          401 invalid or expired token
            ├── PermissionDeniedError        403 token lacks the scope (e.g. Run projects)
            ├── NotFoundError                404 unknown or unshared project or run
            ├── UnprocessableError           422 not published, or invalid inputs
            ├── RateLimitedError             429 with Retry-After and X-RateLimit-*
            └── ServerError                  5xx
                └── ServiceUnavailableError  503
                    └── KernelLimitError     503 on a trigger: no run was created

A few more stay inside the package (a manifest value's problem while loading, an
undelivered notification, a request the simulator refuses); they descend from
:class:`HexbatchError` too, so one ``except HexbatchError`` catches all that hexbatch
raises on purpose. Which exit code each means to the command line is decided in one
place, :mod:`hexbatch.exits`.

Every :class:`HexAPIError` carries the operation, HTTP status, Hex trace id and
the project and run ids it concerned as attributes, and its message says what
to do next. Messages pass through :func:`hexbatch.redact.redact`, so a token
echoed back by a server never reaches a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hexbatch.redact import redact


class HexbatchError(Exception):
    """Base class of every error hexbatch raises on purpose."""

    def __str__(self) -> str:
        return redact(super().__str__())


class ConfigurationError(HexbatchError):
    """The tool was configured in a way that cannot work (URL, token, scheme)."""


class ScenarioError(HexbatchError, ValueError):
    """A simulator scenario that cannot be used; the message names the file, line and key.

    Defined here, not in :mod:`hexbatch.simulator`, so that a command can catch it (and
    :mod:`hexbatch.exits` can map it) without importing the simulator.
    """


class HexAPIError(HexbatchError):
    """A request to the Hex API failed.

    Attributes:
        operation: Hex's operation name, e.g. ``RunProject``.
        status: the HTTP status, or None when no response arrived.
        trace_id: Hex's request trace id, for its support team.
        project_id: the project the request concerned, if any.
        run_id: the run the request concerned, if any.
    """

    hint = ""

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        status: int | None = None,
        trace_id: str | None = None,
        project_id: str | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.status = status
        self.trace_id = trace_id
        self.project_id = project_id
        self.run_id = run_id

    def __str__(self) -> str:
        parts = [self.message.rstrip(". ")]
        if self.hint:
            parts.append(self.hint)
        context = []
        if self.operation:
            context.append(self.operation)
        if self.status is not None:
            context.append(f"HTTP {self.status}")
        if self.project_id:
            context.append(f"project {self.project_id}")
        if self.run_id:
            context.append(f"run {self.run_id}")
        if self.trace_id:
            context.append(f"trace {self.trace_id}")
        text = ". ".join(parts) if len(parts) > 1 else parts[0]
        if context:
            text = f"{text} [{', '.join(context)}]"
        return redact(text)


class RequestNotSentError(HexAPIError):
    """The request never reached the server; it is safe to send it again."""


class SendCancelled(RequestNotSentError):
    """The caller withdrew the request before it was sent (the batch is stopping)."""


class OutcomeUnknownError(HexAPIError):
    """The request was sent but its outcome is unknown; reconcile before retrying."""


class MalformedResponseError(HexAPIError):
    """Hex answered with a success status but a body hexbatch cannot read."""


class HexHTTPError(HexAPIError):
    """Hex answered with an HTTP error status."""


class BadRequestError(HexHTTPError):
    """400: Hex rejected the request's shape."""


class AuthenticationError(HexHTTPError):
    """401: the token is missing, invalid, expired or revoked."""

    hint = (
        "The token is invalid, expired or revoked: regenerate it, and check the base URL. "
        "Personal access tokens expire (workspace admins cap their lifetime); a scheduled "
        "job should use a workspace token."
    )


class PermissionDeniedError(HexHTTPError):
    """403: the token's user or scopes do not allow this."""

    hint = 'The token lacks access: triggering runs needs the "Run projects" scope.'


class NotFoundError(HexHTTPError):
    """404: the project or run does not exist or is not shared with the token's user."""

    hint = "Check the project id and that the project is shared with the token's user."


class UnprocessableError(HexHTTPError):
    """422: the project is not published, or some input parameters are invalid.

    Attributes:
        invalid: Hex's ``invalid`` list (name, value, type of each bad input).
        not_found: names of inputs the published app does not have.
    """

    def __init__(
        self,
        message: str,
        *,
        invalid: Sequence[dict[str, Any]] = (),
        not_found: Sequence[str] = (),
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.invalid = list(invalid)
        self.not_found = list(not_found)

    @property
    def hint(self) -> str:  # type: ignore[override]
        """Say what to fix: the named inputs, or publishing the project."""
        if self.invalid or self.not_found:
            return "Fix the named inputs in the manifest."
        return "Publish the project in Hex (only the published version can be run)."


class RateLimitedError(HexHTTPError):
    """429: too many requests.

    Attributes:
        retry_after: seconds the server asked to wait, when it said.
        limit, remaining, reset: the ``X-RateLimit-*`` headers, when present.
    """

    hint = "Lower the manifest's limits to stay under Hex's."

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        limit: int | None = None,
        remaining: int | None = None,
        reset: float | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after
        self.limit = limit
        self.remaining = remaining
        self.reset = reset


class ServerError(HexHTTPError):
    """5xx: Hex failed to answer."""


class ServiceUnavailableError(ServerError):
    """503: Hex is temporarily unable to serve the request."""

    def __init__(self, message: str, *, retry_after: float | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


class KernelLimitError(ServiceUnavailableError):
    """503 on a trigger: the user's concurrent-kernel limit is reached; no run was created."""

    hint = "Too many runs are alive for this user; hexbatch waits for some to finish."


def sole_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one real error inside nested task-group wrappers, or the group itself.

    Task groups wrap whatever ends them; a caller of hexbatch should see the error.
    """
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
