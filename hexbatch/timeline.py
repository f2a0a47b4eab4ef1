"""A run's timeline: the state changes Hex reports, and queue time apart from run time.

Asked with the ``enable-expanded-stats: true`` header, Hex adds ``stateEvents`` to
a run's status: a list of ``{type, value, timestamp}``. Their vocabulary is not
documented, so events are read leniently: any mapping is kept as it came (for
the state store and the report), and only its ``value`` and ``timestamp`` are
interpreted. Queue time is how long a run waited for a kernel (PENDING until
RUNNING), run time how long it then ran; a run that sits in the queue is a
different problem (busy kernels, the concurrency limit) from a slow notebook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hexbatch.api.models import StateEvents, parse_state_events, parse_timestamp
from hexbatch.status import RUNNING


def event_time(event: dict[str, Any]) -> datetime | None:
    """When an event happened (None when its timestamp is missing or unreadable)."""
    return parse_timestamp(event.get("timestamp"))


@dataclass(frozen=True, slots=True)
class Phases:
    """Milliseconds a run spent queued (PENDING until RUNNING) and running, and the
    queued stretch itself (for drawing), each None where not known."""

    queued_ms: float | None
    run_ms: float | None
    queued_between: tuple[datetime, datetime] | None = None


def phases(
    *,
    triggered_at: datetime | None,
    started_at: datetime | None,
    finished_at: datetime | None,
    events: Sequence[dict[str, Any]] | None,
) -> Phases:
    """Split an attempt's life into queue and run time.

    The run started at its first RUNNING event, or else at Hex's ``startTime``
    (``started_at``); it was queued from its first event, or else from the trigger.
    A run that ended without ever running spent all its time queued. Figures that
    cannot be known yet (a run still PENDING) are None.
    """
    timed = [(event, event_time(event)) for event in events or ()]
    running = next(
        (at for event, at in timed if at is not None and event.get("value") == RUNNING), None
    )
    running = running or started_at
    queued_from = next((at for _event, at in timed if at is not None), None) or triggered_at
    until = running or finished_at
    between = None
    if queued_from is not None and until is not None and until >= queued_from:
        between = (queued_from, until)
    if running is None:
        if finished_at is None or queued_from is None:
            return Phases(None, None)
        return Phases(_ms(queued_from, finished_at), 0.0, between)
    queued = None if queued_from is None else _ms(queued_from, running)
    run = None if finished_at is None else _ms(running, finished_at)
    return Phases(queued, run, between)


def _ms(start: datetime, end: datetime) -> float:
    """Milliseconds from ``start`` to ``end``; never negative (clocks differ)."""
    return max(0.0, (end - start).total_seconds() * 1000.0)


__all__ = [
    "Phases",
    "StateEvents",
    "event_time",
    "parse_state_events",
    "phases",
]
