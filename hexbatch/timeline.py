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

from hexbatch.models import StateEvents, parse_state_events, parse_timestamp
from hexbatch.status import RUNNING


def event_time(event: dict[str, Any]) -> datetime | None:
    """When an event happened (None when its timestamp is missing or unreadable)."""
    return parse_timestamp(event.get("timestamp"))


@dataclass(frozen=True, slots=True)
class Phases:
    """Milliseconds a run spent queued (PENDING until RUNNING) and running."""

    queued_ms: float | None
    run_ms: float | None


def _marks(
    triggered_at: datetime | None,
    started_at: datetime | None,
    events: Sequence[dict[str, Any]] | None,
) -> tuple[datetime | None, datetime | None]:
    """When the attempt's run was queued from, and when it started running (if known)."""
    timed = [(event, event_time(event)) for event in events or ()]
    running = next(
        (at for event, at in timed if at is not None and event.get("value") == RUNNING), None
    )
    queued_from = next((at for _event, at in timed if at is not None), None) or triggered_at
    return queued_from, running or started_at


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
    queued_from, running = _marks(triggered_at, started_at, events)
    if running is None:
        if finished_at is None or queued_from is None:
            return Phases(None, None)
        return Phases(_ms(queued_from, finished_at), 0.0)
    queued = None if queued_from is None else _ms(queued_from, running)
    run = None if finished_at is None else _ms(running, finished_at)
    return Phases(queued, run)


def queued_between(
    *,
    triggered_at: datetime | None,
    started_at: datetime | None,
    finished_at: datetime | None,
    events: Sequence[dict[str, Any]] | None,
) -> tuple[datetime, datetime] | None:
    """The stretch the run waited in the queue (for drawing), when both ends are known."""
    queued_from, running = _marks(triggered_at, started_at, events)
    until = running or finished_at
    if queued_from is None or until is None or until < queued_from:
        return None
    return queued_from, until


def _ms(start: datetime, end: datetime) -> float:
    """Milliseconds from ``start`` to ``end``; never negative (clocks differ)."""
    return max(0.0, (end - start).total_seconds() * 1000.0)


__all__ = [
    "Phases",
    "StateEvents",
    "event_time",
    "parse_state_events",
    "phases",
    "queued_between",
]
