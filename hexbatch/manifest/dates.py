"""The dates of a ``dates:`` range, computed without ever stepping past year 9999."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

from hexbatch.manifest.durations import DateStep
from hexbatch.manifest.model import DateRange
from hexbatch.manifest.relative import add_months


def step_date(start: dt.date, step: DateStep, number: int) -> dt.date | None:
    """The ``number``-th date from ``start`` (counted from start, so Jan 31 gives Feb 28, Mar 31).

    None when that date would be after 9999-12-31, which no range can reach.
    """
    if step.unit == "month":
        return add_months(start, number * step.count)
    days = number * step.count * (7 if step.unit == "week" else 1)
    if days > (dt.date.max - start).days:
        return None
    return start + dt.timedelta(days=days)


def range_dates(dates: DateRange) -> Iterator[dt.date]:
    """Every date of the range, ``start`` to ``end`` inclusive."""
    for number in itertools.count():
        day = step_date(dates.start, dates.step, number)
        if day is None or day > dates.end:
            return
        yield day


def date_count(dates: DateRange) -> int:
    """How many dates the range has (0 when end is before start), without listing them."""
    if dates.end < dates.start:
        return 0
    step = dates.step
    if step.unit == "month":
        months = (dates.end.year - dates.start.year) * 12 + dates.end.month - dates.start.month
        # A shorter month can clamp the last step back inside the range: count it, then check.
        count = months // step.count + 1
        last = step_date(dates.start, step, count - 1)
        return count if last is not None and last <= dates.end else count - 1
    days = step.count * (7 if step.unit == "week" else 1)
    return (dates.end - dates.start).days // days + 1
