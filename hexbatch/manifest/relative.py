"""Dates written relative to today (``today-7d``, ``yesterday``) and the day that is "today".

A ``dates.start`` or ``dates.end`` is a :class:`DateExpr`: a fixed date, or today moved
by a number of days, weeks or months. It is kept as written when the manifest is loaded
and resolved against an anchor date (``--as-of``, the anchor a batch recorded, or the
date the batch starts on) when the plan is built, so that one manifest plans the same
runs for a whole batch, however long the batch takes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any, Final

from hexbatch.manifest.durations import MAX_STEP, StepUnit, describe
from hexbatch.manifest.errors import did_you_mean

_UNITS: Final[dict[str, StepUnit]] = {"d": "day", "w": "week", "mo": "month"}
_SUFFIX: Final[dict[StepUnit, str]] = {"day": "d", "week": "w", "month": "mo"}
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_RELATIVE: Final = re.compile(r"today\s*([+-])\s*(\d+)\s*(d|w|mo)")
RELATIVE_DATE_PATTERN: Final = r"^\s*(today|yesterday|today\s*[+-]\s*\d+\s*(d|w|mo))\s*$"
DATE_FORMS: Final = (
    "write YYYY-MM-DD, today, yesterday, or today-N / today+N with a unit d, w or mo,"
    " e.g. today-7d or today-1mo"
)


def add_months(day: dt.date, months: int) -> dt.date | None:
    """``day`` plus (or minus) ``months``, clamped to the month's last day (Mar 31 less a
    month is Feb 28 or 29); None outside the years 1 to 9999."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        return None
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def shift(day: dt.date, count: int, unit: StepUnit) -> dt.date | None:
    """``day`` moved by ``count`` days, weeks or months; None outside the years 1 to 9999."""
    if unit == "month":
        return add_months(day, count)
    try:
        return day + dt.timedelta(days=count * (7 if unit == "week" else 1))
    except OverflowError:
        return None


@dataclass(frozen=True, slots=True)
class DateExpr:
    """A ``dates.start`` or ``dates.end`` as written: a ``fixed`` date, or today moved by
    ``offset`` (negative: into the past) days, weeks or months."""

    fixed: dt.date | None = None
    offset: int = 0
    unit: StepUnit = "day"

    def __post_init__(self) -> None:
        if self.offset == 0 and self.unit != "day":
            # today+0w is today: one value for one date, so equal expressions compare equal.
            object.__setattr__(self, "unit", "day")

    @property
    def relative(self) -> bool:
        """True when the date depends on which day is today."""
        return self.fixed is None

    def resolve(self, today: dt.date) -> dt.date | None:
        """The date this stands for when ``today`` is today (None outside years 1 to 9999)."""
        if self.fixed is not None:
            return self.fixed
        return shift(today, self.offset, self.unit)

    def __str__(self) -> str:
        if self.fixed is not None:
            return self.fixed.isoformat()
        if self.offset == 0:
            return "today"
        if (self.offset, self.unit) == (-1, "day"):
            return "yesterday"
        return f"today{self.offset:+d}{_SUFFIX[self.unit]}"


def parse_date_expr(value: Any) -> DateExpr:
    """Parse a date or a date relative to today; raise ValueError with a user message."""
    if isinstance(value, DateExpr):
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return DateExpr(fixed=value)
    if not isinstance(value, str):
        raise ValueError(f"{describe(value)} is not a date ({DATE_FORMS})")
    text = value.strip()
    if text == "today":
        return DateExpr()
    if text == "yesterday":
        return DateExpr(offset=-1)
    match = _RELATIVE.fullmatch(text)
    if match is not None:
        sign, number, suffix = match.groups()
        unit = _UNITS[suffix]
        count = int(number)
        if count > MAX_STEP[unit]:
            raise ValueError(
                f"{value!r} is more than 100 years from today"
                f" (at most {MAX_STEP[unit]}{suffix} either way)"
            )
        return DateExpr(offset=-count if sign == "-" else count, unit=unit)
    try:
        return DateExpr(fixed=dt.date.fromisoformat(text))
    except ValueError:
        if _ISO_DATE.fullmatch(text):  # shaped like a date, but no such day (2025-02-30)
            raise ValueError(f"{value} is not a date (write YYYY-MM-DD)") from None
    raise ValueError(f"{value!r} is not a date ({DATE_FORMS}){_hint(text)}")


def _hint(text: str) -> str:
    """A nudge for the near misses: a missing unit, or minutes written for months."""
    if re.fullmatch(r"today\s*[+-]\s*\d+", text):
        return "; the unit is missing"
    if re.fullmatch(r"today\s*[+-]\s*\d+\s*m", text):
        return "; months are mo (m means minutes elsewhere)"
    return ""


def parse_timezone(value: Any) -> str:
    """Check an IANA time zone name (``Europe/Paris``); raise ValueError with a user message."""
    if isinstance(value, str) and value.strip():
        name = value.strip()
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return name
        hint = did_you_mean(name, zoneinfo.available_timezones())
    else:
        hint = ""
    raise ValueError(
        f"{describe(value)} is not an IANA time zone (e.g. UTC, Europe/Paris,"
        f" America/New_York){hint}"
    )


def local_today(now: dt.datetime, timezone: str | None = None) -> dt.date:
    """The date ``now`` falls on in ``timezone`` (an IANA name), or on this machine's clock."""
    if timezone is not None:
        return now.astimezone(zoneinfo.ZoneInfo(timezone)).date()
    return now.astimezone().date()
