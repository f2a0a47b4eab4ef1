"""Dates relative to today: the forms accepted, their arithmetic, the time zone that decides
today, and the errors a nonsense date or a range that resolves backwards gives."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexbatch.manifest import DateRange, ManifestError
from hexbatch.manifest.durations import MAX_STEP
from hexbatch.manifest.model import RelativeDates
from hexbatch.manifest.relative import DateExpr, local_today, parse_date_expr
from hexbatch.manifest.resolve import resolve_dates
from hexbatch.manifest.schema import manifest_json_schema
from hexbatch.plan import build_plan
from tests.manifest.conftest import LoadText

HEAD = """
version: 1
projects:
  - id: 11111111-1111-4111-8111-111111111111
"""
MARCH_1 = dt.date(2025, 3, 1)


def _dates(start: str, end: str, *extra: str) -> str:
    more = "".join(f", {item}" for item in extra)
    return HEAD + f"    dates: {{param: d, start: {start}, end: {end}{more}}}\n"


def _runs(load_text: LoadText, text: str, as_of: dt.date) -> list[Any]:
    return [item.params["d"] for item in build_plan(load_text(text), as_of).items]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", DateExpr(offset=0)),
        ("yesterday", DateExpr(offset=-1)),
        ("today-7d", DateExpr(offset=-7)),
        ("today+2w", DateExpr(offset=2, unit="week")),
        ("today-1mo", DateExpr(offset=-1, unit="month")),
        ("today-0d", DateExpr(offset=0)),
        (" today - 3d ", DateExpr(offset=-3)),
        ("2025-03-01", DateExpr(fixed=MARCH_1)),
    ],
)
def test_the_accepted_forms(text: str, expected: DateExpr) -> None:
    """today, yesterday, today±N with d, w or mo (spaces around the sign allowed), or a date."""
    assert parse_date_expr(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("tomorrow", ""),
        ("today-0x", ""),
        ("Today", ""),
        ("today-3", "; the unit is missing"),
        ("today-1m", "; months are mo (m means minutes elsewhere)"),
        ("now", ""),
    ],
)
def test_nonsense_is_a_located_error_listing_the_forms(
    load_text: LoadText, text: str, hint: str
) -> None:
    """A date that is no form hexbatch knows names file, line, key and every accepted form."""
    with pytest.raises(ManifestError) as raised:
        load_text(_dates(text, "yesterday"))

    (issue,) = raised.value.issues
    assert (issue.line, issue.path) == (4, "projects[0].dates.start")
    assert issue.message == (
        f"{text!r} is not a date (write YYYY-MM-DD, today, yesterday, or today-N / today+N"
        f" with a unit d, w or mo, e.g. today-7d or today-1mo){hint}"
    )
    assert str(issue).startswith(f"{issue.file}:4:")


def test_an_offset_of_more_than_100_years_is_refused(load_text: LoadText) -> None:
    """As a step, an offset reaches at most 100 years (a longer one is a typo)."""
    with pytest.raises(ManifestError, match=r"'today-36526d' is more than 100 years from today"):
        load_text(_dates("today-36526d", "today"))
    assert load_text(_dates("today-36525d", "today")).relative_dates


def test_an_impossible_date_keeps_its_message(load_text: LoadText) -> None:
    """February 30th is still "not a date (write YYYY-MM-DD)", with no list of forms."""
    with pytest.raises(ManifestError) as raised:
        load_text(_dates("2025-02-01", "2025-02-30"))
    (issue,) = raised.value.issues
    assert issue.message == "2025-02-30 is not a date (write YYYY-MM-DD)"


_EXPRESSIONS = st.one_of(
    st.dates().map(lambda day: DateExpr(fixed=day)),
    st.sampled_from(list(MAX_STEP.items())).flatmap(
        lambda unit_limit: st.integers(-unit_limit[1], unit_limit[1]).map(
            lambda offset: DateExpr(offset=offset, unit=unit_limit[0])
        )
    ),
)


@given(_EXPRESSIONS)
def test_what_is_shown_reads_back_as_the_same_date(expression: DateExpr) -> None:
    """Every date expression prints as text that parses back to it (today-1d as yesterday)."""
    assert parse_date_expr(str(expression)) == expression


@given(st.dates(min_value=dt.date(2, 1, 1), max_value=dt.date(9998, 12, 31)), st.integers(1, 400))
def test_days_back_and_forth_are_plain_day_arithmetic(today: dt.date, days: int) -> None:
    """today-Nd and today+Nd are N days either side of today."""
    assert parse_date_expr(f"today-{days}d").resolve(today) == today - dt.timedelta(days=days)
    assert parse_date_expr(f"today+{days}d").resolve(today) == today + dt.timedelta(days=days)


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("today-1mo", dt.date(2025, 3, 31), dt.date(2025, 2, 28)),
        ("today-1mo", dt.date(2024, 3, 31), dt.date(2024, 2, 29)),
        ("today+1mo", dt.date(2025, 1, 31), dt.date(2025, 2, 28)),
        ("today-3mo", dt.date(2025, 5, 31), dt.date(2025, 2, 28)),
        ("today-12mo", dt.date(2024, 2, 29), dt.date(2023, 2, 28)),
        ("today-2mo", dt.date(2025, 1, 15), dt.date(2024, 11, 15)),
        ("today-1w", MARCH_1, dt.date(2025, 2, 22)),
        ("yesterday", MARCH_1, dt.date(2025, 2, 28)),
        ("yesterday", dt.date(2024, 3, 1), dt.date(2024, 2, 29)),
    ],
)
def test_months_clamp_to_the_end_of_a_shorter_month(
    text: str, today: dt.date, expected: dt.date
) -> None:
    """A month back from March 31st is the last day of February, in leap years too."""
    assert parse_date_expr(text).resolve(today) == expected


def test_the_done_means_range(load_text: LoadText) -> None:
    """start: today-3d, end: yesterday as of 2025-03-01 runs Feb 26, 27 and 28."""
    text = _dates("today-3d", "yesterday")
    assert _runs(load_text, text, MARCH_1) == ["2025-02-26", "2025-02-27", "2025-02-28"]
    assert _runs(load_text, text, dt.date(2024, 3, 1)) == ["2024-02-27", "2024-02-28", "2024-02-29"]


def test_a_fixed_start_and_a_relative_end_grow_each_day(load_text: LoadText) -> None:
    """A growing backfill: from a fixed date to yesterday, one more date each day."""
    text = _dates("2025-02-26", "yesterday")
    assert len(_runs(load_text, text, MARCH_1)) == 3
    assert len(_runs(load_text, text, dt.date(2025, 3, 2))) == 4


def test_a_range_is_kept_as_written_until_a_plan_resolves_it(load_text: LoadText) -> None:
    """Loading keeps the expressions; the plan's manifest holds the dates and how they were
    written, and the plan says which day was today."""
    manifest = load_text(_dates("today-3d", "yesterday", "format: '%d.%m.%Y'"))
    written = manifest.projects[0].dates
    assert isinstance(written, RelativeDates)
    assert (str(written.start), str(written.end)) == ("today-3d", "yesterday")

    plan = build_plan(manifest, MARCH_1)

    resolved = plan.manifest.projects[0].dates
    assert resolved == DateRange(
        "d", dt.date(2025, 2, 26), dt.date(2025, 2, 28), written.step, "%d.%m.%Y", written
    )
    assert plan.as_of == MARCH_1
    assert plan.items[0].params == {"d": "26.02.2025"}


def test_fixed_dates_have_no_as_of(load_text: LoadText) -> None:
    """A manifest without a date relative to today plans the same on any day, with no as-of."""
    manifest = load_text(_dates("2025-01-01", "2025-01-03"))
    assert not manifest.relative_dates
    assert build_plan(manifest, MARCH_1).as_of is None
    assert build_plan(manifest, MARCH_1).plan_hash == build_plan(manifest).plan_hash


def test_a_range_that_resolves_backwards_is_the_error_of_a_fixed_one(load_text: LoadText) -> None:
    """end before start once resolved: the error a fixed range gets, at dates.end, with how
    the bounds were written and the day they were resolved on."""
    manifest = load_text(_dates("2025-03-01", "yesterday"))

    with pytest.raises(ManifestError) as raised:
        build_plan(manifest, MARCH_1)

    (issue,) = raised.value.issues
    assert (issue.line, issue.path) == (4, "projects[0].dates.end")
    assert issue.message == (
        "2025-02-28 is before start 2025-03-01 (start 2025-03-01, end yesterday, as of 2025-03-01)"
    )
    assert len(build_plan(manifest, dt.date(2025, 3, 2))) == 1


def test_a_step_past_the_resolved_end_warns_as_for_fixed_dates(load_text: LoadText) -> None:
    """A step longer than the resolved range runs only the start date and says so."""
    plan = build_plan(load_text(_dates("today-3d", "today", "step: 1w")), MARCH_1)

    assert len(plan) == 1
    (warning,) = plan.warnings
    assert warning.endswith(
        "projects[0].dates.step: step 1w is longer than the range 2025-02-26..2025-03-01,"
        " so only 2025-02-26 runs"
    )


def test_a_resolved_range_too_long_for_a_plan_is_refused(load_text: LoadText) -> None:
    """The run limit counts the resolved dates: two thousand years of days twice is refused."""
    text = _dates("0001-01-01", "today") + "    matrix: {x: [1, 2]}\n"
    with pytest.raises(ManifestError, match=r"expands to 1,\d{3},\d{3} runs.*as of 2025-03-01"):
        build_plan(load_text(text), MARCH_1)


def test_a_bound_past_year_one_is_an_error_not_a_crash(load_text: LoadText) -> None:
    """Resolved near year 1, today-1mo has no date: a located error."""
    with pytest.raises(ManifestError, match=r"start: today-1mo is outside the years 1 to 9999"):
        build_plan(load_text(_dates("today-1mo", "today")), dt.date(1, 1, 15))


def test_resolving_leaves_fixed_ranges_alone(load_text: LoadText) -> None:
    """Only ranges relative to today are rewritten; others keep their object."""
    text = _dates("today-1d", "today") + HEAD.split("projects:\n")[1].replace(
        "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
    )
    text += "    dates: {param: d, start: 2025-01-01, end: 2025-01-02}\n"
    manifest = load_text(text)

    resolved = resolve_dates(manifest, MARCH_1)

    assert resolved.projects[1] is manifest.projects[1]
    assert isinstance(resolved.projects[0].dates, DateRange)


def test_today_is_the_date_in_the_manifests_time_zone(load_text: LoadText) -> None:
    """dates.timezone decides which date "now" falls on."""
    late = dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.UTC)
    manifest = load_text(_dates("today-3d", "yesterday", "timezone: Europe/Paris"))

    assert manifest.timezone == "Europe/Paris"
    assert local_today(late, manifest.timezone) == dt.date(2025, 3, 2)
    assert local_today(late, "America/Los_Angeles") == MARCH_1
    assert local_today(late, "UTC") == MARCH_1


def test_without_a_time_zone_today_is_this_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    """No dates.timezone: the date on this machine's clock (UTC+14 is a day ahead at noon)."""
    noon = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert local_today(noon) == dt.date(2025, 3, 2)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_an_unknown_time_zone_is_a_located_error_with_a_suggestion(load_text: LoadText) -> None:
    """A misspelt IANA name names file, line and key, and the closest zone."""
    with pytest.raises(ManifestError) as raised:
        load_text(_dates("today", "today", "timezone: Europe/Pariss"))
    (issue,) = raised.value.issues
    assert (issue.line, issue.path) == (4, "projects[0].dates.timezone")
    assert "'Europe/Pariss' is not an IANA time zone" in issue.message
    assert "did you mean 'Europe/Paris'?" in issue.message


def test_every_range_of_a_manifest_has_the_same_today(load_text: LoadText) -> None:
    """Two different time zones would give one batch two todays: refused at the second."""
    text = _dates("today", "today", "timezone: UTC") + (
        "  - id: 22222222-2222-4222-8222-222222222222\n"
        "    dates: {param: d, start: today, end: today, timezone: Asia/Tokyo}\n"
    )
    with pytest.raises(ManifestError) as raised:
        load_text(text)
    (issue,) = raised.value.issues
    assert (issue.line, issue.path) == (6, "projects[1].dates.timezone")
    assert "Asia/Tokyo differs from UTC (projects[0].dates.timezone)" in issue.message


@pytest.mark.parametrize("value", ["today", "yesterday", "today-7d", "today+2w", "today-1mo"])
def test_the_json_schema_accepts_the_relative_forms(value: str) -> None:
    """An editor checking formats accepts every relative form."""
    validator = jsonschema.Draft202012Validator(
        manifest_json_schema(), format_checker=jsonschema.FormatChecker()
    )
    document: dict[str, Any] = {
        "version": 1,
        "projects": [
            {
                "id": "11111111-1111-4111-8111-111111111111",
                "dates": {"param": "d", "start": value, "end": "2025-03-01"},
            }
        ],
    }
    assert validator.is_valid(document)
    document["projects"][0]["dates"]["start"] = "tomorrow"
    assert not validator.is_valid(document)
