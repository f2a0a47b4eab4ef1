"""Rate-limit headers kept per request kind, across answers and across resumed runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hexbatch.api.limits_seen import LimitsSeen, merge_seen, observe

T0 = datetime(2026, 3, 1, 2, 0, 0, tzinfo=UTC)


def test_epoch_resets_are_read_relative_to_when_they_were_seen() -> None:
    """An epoch-seconds reset becomes seconds to wait, as of the answer's time."""
    seen = observe(None, {"X-RateLimit-Reset": str(int(T0.timestamp()) + 40)}, T0)

    assert seen is not None
    assert seen.reset_s == 40.0
    assert seen.limit is None


def test_an_answer_without_limit_headers_records_nothing() -> None:
    """No header, no record: an empty block rather than a row of nulls."""
    assert observe(None, {"Content-Type": "application/json"}, T0) is None


def test_merge_keeps_the_later_figures_of_each_part() -> None:
    """A resumed batch's figures merge with the stored ones: the later trio and the
    later Retry-After win separately."""
    stored = {
        "trigger": LimitsSeen(
            limit=20,
            remaining=0,
            seen_at="2026-03-01T02:00:00.000Z",
            retry_after_s=30.0,
            retry_after_at="2026-03-01T02:00:00.000Z",
        )
    }
    later = observe(
        None, {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "19"}, T0 + timedelta(hours=1)
    )
    assert later is not None

    merged = merge_seen(stored, {"trigger": later, "status": later})

    assert merged["trigger"].remaining == 19
    assert merged["trigger"].retry_after_s == 30.0
    assert merged["status"] == later
    assert merge_seen(merged, stored) == merged
