"""Durations (``250ms``, ``2s``, ``5m``, ``1h``, ``1h30m`` or plain seconds) and date steps."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"

_STEP = re.compile(r"(\d+)\s*(d|w|mo)")
STEP_PATTERN = r"^\d+\s*(d|w|mo)$"
StepUnit = Literal["day", "week", "month"]
_STEP_UNITS: dict[str, StepUnit] = {"d": "day", "w": "week", "mo": "month"}
# The longest step a date range may take: 100 years. Anything longer is a typo (5000000d),
# and could only ever produce the start date.
MAX_STEP: dict[StepUnit, int] = {"day": 36_525, "week": 5_218, "month": 1_200}


def describe(value: Any) -> str:
    """Name a YAML value for an error message: ``'abc'``, ``a list``, ``a mapping``."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def parse_duration(value: Any) -> float:
    """Return seconds for a number or a duration string; raise ValueError with a user message."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(
            f"{describe(value)} is not a duration (write 250ms, 2s, 5m, 1h or seconds)"
        )
    if isinstance(value, str):
        text = value.strip()
        if not _DURATION.fullmatch(text):
            raise ValueError(f"{value!r} is not a duration (write 250ms, 2s, 5m, 1h or seconds)")
        seconds = sum(
            float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text)
        )
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(
            f"{describe(value)} is not a duration (it must be a finite, positive time)"
        )
    return seconds


def parse_positive_duration(value: Any) -> float:
    """Like :func:`parse_duration` but zero is refused."""
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return seconds


@dataclass(frozen=True, slots=True)
class DateStep:
    """How far apart consecutive dates of a range are: ``count`` days, weeks or months."""

    count: int
    unit: StepUnit

    def __str__(self) -> str:
        suffix = {"day": "d", "week": "w", "month": "mo"}[self.unit]
        return f"{self.count}{suffix}"


def parse_date_step(value: Any) -> DateStep:
    """Parse ``1d``, ``2w``, ``1mo`` (or a number of days); raise ValueError with a user message."""
    if isinstance(value, DateStep):
        return value
    hint = "write a step like 1d, 7d, 2w or 1mo"
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"{value} is not a step ({hint})")
        return _bounded(DateStep(value, "day"))
    if not isinstance(value, str):
        raise ValueError(f"{describe(value)} is not a step ({hint})")
    match = _STEP.fullmatch(value.strip())
    if match is None:
        extra = " (m means minutes elsewhere; months are mo)" if value.strip().endswith("m") else ""
        raise ValueError(f"{value!r} is not a step ({hint}){extra}")
    count = int(match.group(1))
    if count < 1:
        raise ValueError(f"{value!r} is not a step (it must be at least 1)")
    return _bounded(DateStep(count, _STEP_UNITS[match.group(2)]))


def _bounded(step: DateStep) -> DateStep:
    """Refuse a step longer than :data:`MAX_STEP` (100 years)."""
    limit = MAX_STEP[step.unit]
    if step.count > limit:
        longest = DateStep(limit, step.unit)
        raise ValueError(f"step {step} is longer than 100 years (at most {longest})")
    return step
