"""Turn an HTTP error answer from Hex into the right :mod:`hexbatch.errors` exception.

Hex answers errors in two envelopes (``{reason, traceId, details}`` from older
handlers, ``{message, code, issues}`` from newer ones), a parameter payload on
422 (``{traceId, invalid, notFound}``) and sometimes plain text. All of them
become one readable message.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Final

from hexbatch.api.request_failures import OPERATION_KINDS, Failure, RequestKind, failure_of_status
from hexbatch.errors import (
    AuthenticationError,
    BadRequestError,
    HexHTTPError,
    KernelLimitError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    UnprocessableError,
)

_TEXT_LIMIT = 300
# X-RateLimit-Reset above this is an epoch timestamp rather than a delay (1e9 s is
# 2001; no limit resets 31 years from now) ...
_EPOCH_THRESHOLD = 1e9
# ... and above this one it counts milliseconds (1e12 ms is 2001 too; as seconds it
# would be the year 33658).
_EPOCH_MS_THRESHOLD = 1e12
# The error class of each failure an HTTP status can be whose error carries nothing more.
_ERROR_TYPES: Final[Mapping[Failure, type[HexHTTPError]]] = {
    Failure.BAD_REQUEST: BadRequestError,
    Failure.UNAUTHENTICATED: AuthenticationError,
    Failure.FORBIDDEN: PermissionDeniedError,
    Failure.NOT_FOUND: NotFoundError,
    Failure.SERVER_ERROR: ServerError,
    Failure.OTHER_STATUS: HexHTTPError,
}


def parse_body(raw: bytes) -> tuple[Mapping[str, Any] | None, str]:
    """Decode a body as a JSON object if it is one; also return it as short text."""
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if len(text) > _TEXT_LIMIT:
        text = text[:_TEXT_LIMIT] + "…"
    return (data if isinstance(data, Mapping) else None), text


def _describe_invalid(invalid: list[dict[str, Any]], not_found: list[str]) -> str:
    parts = []
    for item in invalid:
        name = item.get("paramName", "?")
        value = item.get("paramValue", "?")
        kind = item.get("dataType")
        parts.append(f"{name}={value}" + (f" (expected {kind})" if kind else ""))
    text = ""
    if parts:
        text += "invalid inputs: " + ", ".join(parts)
    if not_found:
        text += ("; " if text else "") + "inputs not in the published app: " + ", ".join(not_found)
    return text


def _param_problems(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The 422 payload's ``invalid`` and ``notFound`` lists, ignoring malformed parts."""
    invalid = data.get("invalid")
    not_found = data.get("notFound")
    return (
        [item for item in invalid if isinstance(item, dict)] if isinstance(invalid, list) else [],
        [str(name) for name in not_found] if isinstance(not_found, list) else [],
    )


def error_message(data: Mapping[str, Any] | None, text: str, status: int) -> str:
    """The most useful human sentence a Hex error body holds."""
    if data is None:
        return text or f"HTTP {status} with an empty body"
    message = data.get("reason") or data.get("message")
    details = data.get("details")
    issues = data.get("issues")
    pieces = [str(message)] if message else []
    if isinstance(details, str) and details:
        pieces.append(details)
    if isinstance(issues, list):
        pieces.extend(str(issue.get("message")) for issue in issues if isinstance(issue, Mapping))
    invalid, not_found = _param_problems(data)
    if invalid or not_found:
        pieces.append(_describe_invalid(invalid, not_found))
    return ": ".join(pieces) if pieces else text or f"HTTP {status}"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(float(headers[name]))
    except (KeyError, ValueError, OverflowError):
        return None


def parse_reset(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds until a window resets, from ``X-RateLimit-Reset``.

    Hex documents neither unit nor origin, so all three forms seen in the wild are
    understood: a delay in seconds, epoch seconds and epoch milliseconds.
    """
    try:
        reset = float(value) if value is not None else math.nan
    except ValueError:
        return None
    if not math.isfinite(reset):
        return None
    if reset > _EPOCH_MS_THRESHOLD:
        reset /= 1000.0
    if reset > _EPOCH_THRESHOLD:
        reset -= time.time() if now is None else now
    return max(0.0, reset)


def http_error(
    status: int,
    raw: bytes,
    headers: Mapping[str, str],
    *,
    operation: str,
    project_id: str | None = None,
    run_id: str | None = None,
) -> HexHTTPError:
    """Build the exception for an HTTP error status from Hex."""
    data, text = parse_body(raw)
    message = error_message(data, text, status)
    trace = data.get("traceId") if data else None
    context: dict[str, Any] = {
        "operation": operation,
        "status": status,
        "trace_id": trace if isinstance(trace, str) else None,
        "project_id": project_id,
        "run_id": run_id,
    }
    failure = failure_of_status(status)
    if failure is Failure.UNPROCESSABLE:
        invalid, not_found = _param_problems(data or {})
        return UnprocessableError(message, invalid=invalid, not_found=not_found, **context)
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if failure is Failure.RATE_LIMITED:
        reset = parse_reset(headers.get("X-RateLimit-Reset"))
        return RateLimitedError(
            message,
            retry_after=retry_after if retry_after is not None else reset,
            limit=_int_header(headers, "X-RateLimit-Limit"),
            remaining=_int_header(headers, "X-RateLimit-Remaining"),
            reset=reset,
            **context,
        )
    if failure is Failure.UNAVAILABLE:
        # A trigger's 503 is the user's kernel limit: no run was created.
        is_trigger = OPERATION_KINDS.get(operation) is RequestKind.TRIGGER
        error_type = KernelLimitError if is_trigger else ServiceUnavailableError
        return error_type(message, retry_after=retry_after, **context)
    return _ERROR_TYPES[failure](message, **context)
