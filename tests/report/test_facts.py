"""Facts shared by every report format: labels, spans, ordering, links and durations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hexbatch import status as st
from hexbatch.outcome import Attempt, BatchReport, RunOutcome
from hexbatch.report.facts import (
    failed_runs,
    format_seconds,
    ordered_counts,
    params_text,
    retried_runs,
    run_label,
    run_span,
    safe_url,
    slowest_runs,
)
from tests.report.builders import T0, attempt, small_report


def test_run_label_names_project_and_params_in_manifest_order() -> None:
    """A run is named ``project[k=v,...]``, with non-string values as compact JSON."""
    run = RunOutcome("k", "p", "daily-revenue", {"run_date": "2025-01-09", "n": 3, "f": [1]}, "X")

    assert run_label(run) == "daily-revenue[run_date=2025-01-09,n=3,f=[1]]"


def test_run_label_without_params_is_the_project() -> None:
    """A run without params is named by its project alone."""
    assert run_label(RunOutcome("k", "p", "solo", {}, st.COMPLETED)) == "solo"
    assert params_text({}) == ""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://app.hex.tech/x", "https://app.hex.tech/x"),
        ("HTTP://host/y", "HTTP://host/y"),
        ("javascript:alert(1)", None),
        ("data:text/html,<b>", None),
        ("//host/no-scheme", None),
        ("https://", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url_accepts_only_absolute_http_links(url: str | None, expected: str | None) -> None:
    """Only absolute http(s) URLs may become links."""
    assert expected == safe_url(url)


def test_run_span_covers_every_attempt() -> None:
    """A retried run spans from its first trigger to its last finish."""
    run = small_report().runs[1]

    span = run_span(run)

    assert T0 + timedelta(seconds=1) == span.started_at
    assert span.seconds == 39.0


def test_run_span_falls_back_to_reported_elapsed_time() -> None:
    """Without a trigger time, the span is the sum of the attempts' elapsed times."""
    run = RunOutcome(
        "k", "p", "x", {}, st.COMPLETED, [Attempt(triggered_at=None, elapsed_ms=1500.0)]
    )

    assert run_span(run).seconds == 1.5


def test_run_span_of_a_run_never_triggered_is_unknown() -> None:
    """A run that never started has no span."""
    span = run_span(RunOutcome("k", "p", "x", {}, st.SKIPPED))

    assert (span.started_at, span.finished_at, span.seconds) == (None, None, None)


def test_counts_list_failures_first_and_success_last() -> None:
    """Statuses follow the report order, with an unfamiliar one just before COMPLETED."""
    runs = [
        RunOutcome("a", "p", "x", {}, st.COMPLETED),
        RunOutcome("b", "p", "x", {}, "BRAND_NEW"),
        RunOutcome("c", "p", "x", {}, st.SKIPPED),
        RunOutcome("d", "p", "x", {}, st.ERRORED),
    ]
    report = BatchReport("m", T0, T0, runs)

    assert [status for status, _ in ordered_counts(report)] == [
        st.ERRORED,
        st.SKIPPED,
        "BRAND_NEW",
        st.COMPLETED,
    ]


def test_failed_runs_exclude_completed_ones_and_put_errors_first() -> None:
    """The failure list holds every run that did not complete, worst status first."""
    failures = failed_runs(small_report())

    assert len(failures) == 5
    assert failures[0].status == st.ERRORED
    assert all(run.status != st.COMPLETED for run in failures)


def test_slowest_runs_are_longest_first_and_skip_unmeasured_runs() -> None:
    """Slowest runs are ordered by span and leave out runs without one."""
    slowest = slowest_runs(small_report().runs, 10)

    assert [seconds for _, seconds in slowest] == [90.0, 42.5, 39.0]


def test_retried_runs_are_those_with_several_attempts() -> None:
    """Only runs triggered more than once count as retried."""
    assert [run.key for run in retried_runs(small_report())] == ["k2"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.25, "250ms"), (12.34, "12.3s"), (245, "4m 05s"), (7380, "2h 03m")],
)
def test_format_seconds_is_short_and_human(seconds: float | None, text: str) -> None:
    """Durations read as ms, seconds, minutes or hours depending on size."""
    assert text == format_seconds(seconds)


def test_attempt_builder_leaves_unfinished_attempts_open() -> None:
    """The test builder's unfinished attempt has no finish time (guards the fixtures)."""
    assert attempt(0, None, st.UNKNOWN, "r").finished_at is None
