"""The rate-limit figures Hex announces, kept per request kind, so users learn their limits.

Hex documents default limits (RunProject 20 a minute and 60 an hour; reads 30 a
minute and 1,800 an hour) but says a workspace's may vary, and its
``X-RateLimit-*`` headers are not documented at all. Whatever Hex sends is
therefore worth keeping: the last ``X-RateLimit-Limit``, ``-Remaining`` and
``-Reset`` and the last ``Retry-After`` of each kind of request land in the
report's ``requests.rate_limits`` block.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from hexbatch.api.http_errors import parse_reset, parse_retry_after

_TRIO = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@dataclass(frozen=True, slots=True)
class LimitsSeen:
    """The last rate-limit figures of one kind of request (None: never announced).

    The ``X-RateLimit-*`` trio comes with ordinary answers and the ``Retry-After``
    with refusals, so each keeps the time it was last seen.
    """

    limit: int | None = None
    remaining: int | None = None
    reset_s: float | None = None
    seen_at: str | None = None
    retry_after_s: float | None = None
    retry_after_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The report's shape: seconds rounded to milliseconds."""
        return {
            "limit": self.limit,
            "remaining": self.remaining,
            "reset_s": _rounded(self.reset_s),
            "seen_at": self.seen_at,
            "retry_after_s": _rounded(self.retry_after_s),
            "retry_after_at": self.retry_after_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LimitsSeen:
        """Read back what :meth:`to_json` wrote (a stored report)."""
        return cls(
            limit=_maybe_int(data.get("limit")),
            remaining=_maybe_int(data.get("remaining")),
            reset_s=_maybe_float(data.get("reset_s")),
            seen_at=_maybe_str(data.get("seen_at")),
            retry_after_s=_maybe_float(data.get("retry_after_s")),
            retry_after_at=_maybe_str(data.get("retry_after_at")),
        )


def observe(
    previous: LimitsSeen | None, headers: Mapping[str, str], at: datetime
) -> LimitsSeen | None:
    """``previous`` updated with a response's rate-limit headers (None: none seen yet).

    Header names are matched without regard to case, as HTTP defines them. A
    response without the trio keeps the last trio; one without Retry-After keeps
    the last Retry-After.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    seen = previous or LimitsSeen()
    stamp = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if any(name in lowered for name in _TRIO):
        seen = replace(
            seen,
            limit=_maybe_int(lowered.get("x-ratelimit-limit")),
            remaining=_maybe_int(lowered.get("x-ratelimit-remaining")),
            reset_s=parse_reset(lowered.get("x-ratelimit-reset"), now=at.timestamp()),
            seen_at=stamp,
        )
    if "retry-after" in lowered:
        waited = parse_retry_after(lowered["retry-after"], now=at.timestamp())
        seen = replace(seen, retry_after_s=waited, retry_after_at=stamp)
    return None if seen == LimitsSeen() else seen


def merge_seen(
    older: Mapping[str, LimitsSeen], newer: Mapping[str, LimitsSeen]
) -> dict[str, LimitsSeen]:
    """Per kind, the later figures of two records (a resumed batch adds to its earlier runs')."""
    merged = dict(older)
    for kind, seen in newer.items():
        old = merged.get(kind)
        if old is None:
            merged[kind] = seen
            continue
        if (seen.seen_at or "") < (old.seen_at or ""):
            seen = replace(
                seen,
                limit=old.limit,
                remaining=old.remaining,
                reset_s=old.reset_s,
                seen_at=old.seen_at,
            )
        if (seen.retry_after_at or "") < (old.retry_after_at or ""):
            seen = replace(seen, retry_after_s=old.retry_after_s, retry_after_at=old.retry_after_at)
        merged[kind] = seen
    return merged


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _maybe_str(value: object) -> str | None:
    return None if value is None else str(value)


def _maybe_int(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(str(value)))
    except (ValueError, OverflowError):
        return None


def _maybe_float(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(str(value))
    except ValueError:
        return None
