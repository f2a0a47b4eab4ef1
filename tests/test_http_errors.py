"""Parsing Hex's error answers and rate-limit headers."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexbatch import errors
from hexbatch.api.http_errors import (
    error_message,
    http_error,
    parse_body,
    parse_reset,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("Wed, 01 Jan 2025 00:01:00 GMT", 60.0),
    ],
)
def test_retry_after_forms(value: str | None, expected: float | None) -> None:
    """Retry-After is delta-seconds or an HTTP date; nonsense is ignored."""
    now = 1735689600.0  # 2025-01-01T00:00:00Z

    assert parse_retry_after(value, now=now) == expected


def test_new_envelope_issues_are_joined() -> None:
    """The {message, code, issues} envelope reads as one sentence."""
    data, text = parse_body(b'{"message": "Invalid input data", "issues": [{"message": "x"}]}')

    assert error_message(data, text, 400) == "Invalid input data: x"


def test_tsoa_details_are_included() -> None:
    """The {reason, details} envelope keeps its details."""
    data, text = parse_body(b'{"reason": "Bad request", "details": "limit too big"}')

    assert error_message(data, text, 400) == "Bad request: limit too big"


def test_empty_and_long_bodies() -> None:
    """An empty body still yields a message, and a huge one is cut short."""
    assert error_message(None, "", 502) == "HTTP 502 with an empty body"
    _, text = parse_body(b"x" * 1000)
    assert len(text) < 400


def test_unexpected_status_is_a_generic_http_error() -> None:
    """A status with no class of its own still becomes a HexHTTPError."""
    error = http_error(418, b"teapot", {}, operation="GetProject")

    assert type(error) is errors.HexHTTPError
    assert "teapot" in str(error)


def test_503_outside_a_trigger_is_not_a_kernel_limit() -> None:
    """Only RunProject's 503 means the kernel limit; elsewhere it is a plain outage."""
    error = http_error(503, b"", {"Retry-After": "3"}, operation="GetRunStatus")

    assert type(error) is errors.ServiceUnavailableError
    assert error.retry_after == 3.0


def test_epoch_reset_header_becomes_a_delay() -> None:
    """An X-RateLimit-Reset given as an epoch time turns into seconds from now."""
    error = http_error(429, b"", {"X-RateLimit-Reset": "99999999999"}, operation="ListProjects")

    assert isinstance(error, errors.RateLimitedError)
    assert error.reset is not None
    assert error.reset > 1e9


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30.0),  # a delay
        ("1764590430", 30.0),  # epoch seconds
        ("1764590430000", 30.0),  # epoch milliseconds
        ("1764590430500.0", 30.5),
        ("1764590000000", 0.0),  # already past
    ],
)
def test_a_reset_header_in_any_unit_becomes_seconds_from_now(header: str, seconds: float) -> None:
    """Epoch milliseconds are understood, not read as a wait of decades."""
    assert parse_reset(header, now=1764590400.0) == pytest.approx(seconds)


@pytest.mark.parametrize("header", [None, "", "soon", "nan", "inf"])
def test_an_unreadable_reset_header_is_ignored(header: str | None) -> None:
    """Anything that is not a finite number says nothing about the wait."""
    assert parse_reset(header) is None


def test_a_429_with_only_an_epoch_ms_reset_waits_until_then() -> None:
    """Without Retry-After, a reset in epoch milliseconds sets a wait of seconds."""
    reset_ms = str(int((time.time() + 20) * 1000))
    error = http_error(429, b"", {"X-RateLimit-Reset": reset_ms}, operation="RunProject")

    assert isinstance(error, errors.RateLimitedError)
    assert error.retry_after is not None
    assert 15 < error.retry_after <= 20


ENVELOPE_KEYS = ["reason", "message", "traceId", "details", "issues", "invalid", "notFound", "code"]
HEADER_NAMES = ["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]
HEADER_VALUES = ["1", "-5", "inf", "nan", "1e400", "abc", "", "Wed, 01 Jan 2025 00:01:00 GMT"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    status=st.sampled_from([400, 401, 403, 404, 418, 422, 429, 500, 502, 503, 504]),
    body=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(
            st.sampled_from(
                ["reason", "message", "traceId", "details", "issues", "invalid", "notFound", "code"]
            ),
            json_values,
        ).map(lambda data: json.dumps(data).encode()),
    ),
    headers=st.dictionaries(
        st.sampled_from(
            ["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]
        ),
        st.sampled_from(
            ["1", "-5", "inf", "nan", "1e400", "abc", "", "Wed, 01 Jan 2025 00:01:00 GMT"]
        ),
    ),
)
def test_any_error_answer_becomes_a_readable_error(
    status: int, body: bytes, headers: dict[str, str]
) -> None:
    """Whatever body and headers a server sends, parsing yields an error with a message."""
    error = http_error(status, body, headers, operation="RunProject", project_id="p")

    assert isinstance(error, errors.HexHTTPError)
    assert str(error)
    assert error.status == status
