"""How long a plan needs, worked out before anything is sent.

The trigger budget alone sets a floor: :func:`trigger_schedule` replays the rule
the batch's trigger limiter admits triggers by (every window stretched by the
same two percent safety margin as :func:`hexbatch.api.limits.limiter`; no interval of
a window's stretched length ever holds more than its count) and tells when the
last of ``count`` triggers can be sent, and which window sets that pace.

With history (the seconds each run key took in earlier batches),
:func:`makespan_estimate` plays the batch through as the engine would: runs in
longest-first order, handed to ``max_in_flight`` workers under each entry's own
``max_in_flight``, each trigger admitted by the same replayed limiter, each run
lasting what it took before (the mean of the known ones when it never ran).

The replay is computed, not waited for: it needs no event loop, logs nothing and
handles 100,000 triggers in a fraction of a second. Tests check it admits every
trigger at the very moment hexbatch's own limiter does.
"""

from __future__ import annotations

import heapq
import math
import statistics
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hexbatch.api.limits import SAFETY, Window
from hexbatch.engine import longest_first
from hexbatch.engine.work import WorkItem
from hexbatch.plan import Plan

_NAMED_SPANS: Final = {1.0: "a second", 60.0: "a minute", 3600.0: "an hour", 86400.0: "a day"}


@dataclass(frozen=True, slots=True)
class TriggerBound:
    """When the last of ``triggers`` triggers may be sent, at the earliest.

    ``binding`` is the window the triggers waited for longest in all (None when
    every trigger may go at once): the one that sets the pace.
    """

    triggers: int
    seconds: float
    binding: Window | None
    windows: tuple[Window, ...]

    def text(self) -> str:
        """The bound in words, e.g. ``365 triggers need at least 6 h 07 m at 60 an hour``."""
        counted = _plural(self.triggers, "trigger")
        if not self.windows:
            return f"{counted}: no trigger limit is set, so they can all be sent at once"
        if self.binding is None:
            limits = ", ".join(describe_window(window) for window in self.windows)
            return f"{counted} can all be sent at once (at most {limits})"
        return (
            f"{counted} need at least {format_duration(self.seconds)}"
            f" at {describe_window(self.binding)}"
        )

    def as_json(self) -> dict[str, Any]:
        """The bound's part of the ``estimate`` object of ``hexbatch plan --json``."""
        binding = self.binding
        return {
            "trigger_bound_s": round(self.seconds, 3),
            "binding_window": None
            if binding is None
            else {"count": binding.count, "per_s": binding.per},
        }


@dataclass(frozen=True, slots=True)
class Estimate:
    """How long a batch of ``runs`` runs should take, from earlier durations."""

    makespan_s: float
    runs: int
    runs_with_history: int
    trigger_bound_s: float
    max_in_flight: int

    @property
    def bound_share(self) -> float:
        """The part of the makespan the trigger budget alone accounts for (0 to 1)."""
        return min(1.0, self.trigger_bound_s / self.makespan_s) if self.makespan_s > 0 else 0.0

    def text(self) -> str:
        """The estimate in words, with how much of the plan it rests on."""
        return (
            f"estimated makespan {format_duration(self.makespan_s)}"
            f" with {self.max_in_flight:,} in flight"
            f" (history for {self.runs_with_history:,} of {_plural(self.runs, 'run')})"
        )


class _Admissions:
    """The trigger limiter's admission rule, replayed in computed time.

    Callers are admitted in turn (the limiter's lock is first come, first served),
    each at the earliest moment at or after it asks when every window has room.
    """

    def __init__(self, windows: Iterable[Window]) -> None:
        self._windows = tuple(windows)
        self._spans = tuple(window.per * (1.0 + SAFETY) for window in self._windows)
        self._history = tuple(deque[float](maxlen=window.count) for window in self._windows)
        self._last = -math.inf
        self._waited = [0.0] * len(self._windows)

    @property
    def binding(self) -> Window | None:
        """The window that made triggers wait longest in all (None: none waited)."""
        most = max(self._waited, default=0.0)
        return self._windows[self._waited.index(most)] if most > 0 else None

    def admit(self, asked: float) -> float:
        """The moment a trigger asked for at ``asked`` is sent; it then counts in every window."""
        ready = moment = max(asked, self._last)
        waited_for: int | None = None
        for n, (window, span, history) in enumerate(
            zip(self._windows, self._spans, self._history, strict=True)
        ):
            # A full history: the oldest of the last ``count`` must leave the window first.
            if len(history) == window.count and history[0] + span > moment:
                moment = history[0] + span
                waited_for = n
        if waited_for is not None:
            self._waited[waited_for] += moment - ready
        for history in self._history:
            history.append(moment)
        self._last = moment
        return moment


def trigger_schedule(count: int, windows: Sequence[Window]) -> TriggerBound:
    """The earliest moment (seconds from the first) the last of ``count`` triggers is sent.

    All are ready at once, as in a batch whose runs are all waiting for their trigger.
    """
    admissions = _Admissions(windows)
    last = 0.0
    for _ in range(count):
        last = admissions.admit(0.0)
    return TriggerBound(count, last, admissions.binding, tuple(windows))


def trigger_bound(count: int, windows: Sequence[Window]) -> float:
    """The least seconds in which ``count`` triggers can all be sent under ``windows``."""
    return trigger_schedule(count, windows).seconds


def makespan_estimate(
    plan: Plan,
    durations: Mapping[str, float],
    *,
    max_in_flight: int,
    trigger_windows: Sequence[Window],
) -> Estimate | None:
    """How long the batch should take, or None when no run of the plan has history.

    Runs go longest-first (the engine's own order, unknown runs at the mean); a run is
    handed out when one of ``max_in_flight`` workers is free and its manifest entry
    is under its own ``max_in_flight``, starts when its trigger is admitted, and ends
    its expected duration later.

    Raises:
        ValueError: ``max_in_flight`` is below 1.
    """
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
    known = [durations[item.key] for item in plan.items if item.key in durations]
    if not known:
        return None
    typical = statistics.fmean(known)
    order = longest_first([WorkItem(item) for item in plan.items], dict(durations))
    # Per manifest entry, its runs in order, each with its place in the whole order.
    queues: dict[int, deque[tuple[int, float]]] = {}
    for rank, work in enumerate(order):
        expected = durations.get(work.key, typical)
        queues.setdefault(work.entry, deque()).append((rank, expected))
    caps = {item.project.index: item.project.max_in_flight for item in plan.items}
    busy = dict.fromkeys(queues, 0)
    admissions = _Admissions(trigger_windows)
    running: list[tuple[float, int]] = []  # (end, entry) of the run each busy worker holds
    now = makespan = 0.0
    for _ in order:
        while (entry := _next_entry(queues, busy, caps, len(running) < max_in_flight)) is None:
            now, ended = heapq.heappop(running)
            busy[ended] -= 1
        _, expected = queues[entry].popleft()
        busy[entry] += 1
        end = admissions.admit(now) + expected
        makespan = max(makespan, end)
        heapq.heappush(running, (end, entry))
    bound = trigger_bound(len(order), trigger_windows)
    return Estimate(makespan, len(order), len(known), bound, max_in_flight)


def _next_entry(
    queues: Mapping[int, deque[tuple[int, float]]],
    busy: Mapping[int, int],
    caps: Mapping[int, int | None],
    worker_free: bool,
) -> int | None:
    """The entry the engine's dispatcher hands a free worker a run of: of the entries under
    their cap, the one whose next run comes first in order (None: no worker or none)."""
    if not worker_free:
        return None
    best: int | None = None
    for entry, queue in queues.items():
        cap = caps[entry]
        has_room = bool(queue) and (cap is None or busy[entry] < cap)
        if has_room and (best is None or queue[0][0] < queues[best][0][0]):
            best = entry
    return best


def describe_window(window: Window) -> str:
    """A window in words: ``20 a minute``, ``60 an hour``, ``5 every 90s``."""
    named = _NAMED_SPANS.get(window.per)
    return f"{window.count:,} {named}" if named else f"{window.count:,} every {window.per:g}s"


def format_duration(seconds: float) -> str:
    """Seconds in the two largest units, rounded down: ``6 h 07 m``, ``45 m 10 s``, ``12 s``."""
    whole = max(0, math.floor(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days:,} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} m"
    if minutes:
        return f"{minutes} m {secs:02d} s"
    return f"{secs} s"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"
