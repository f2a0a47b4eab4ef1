"""When a run's status is read next: the poll rhythm.

A run alone in its project backs off on its own: before poll ``n`` (0-based)
it waits a random time between ``poll.initial`` and
``min(poll.max, poll.initial * poll.multiplier ** n)``. Early polls are
frequent because short runs are common, later ones back off towards the cap,
and the jitter keeps runs triggered together from polling in lockstep.

Runs that share a project share its reads instead: one
``GET /projects/{id}/runs`` page refreshes all of them, so the project is read
on one rhythm and every live run of it wakes for that read. Its interval
comes from two figures:

* freshness: a lone run at its cap is read every ``poll.max``; a read that
  serves ``n`` runs is worth sending ``n`` times as often, down to
  ``poll.initial`` (:func:`shared_interval`);
* the request budget: status reads together may use ``STATUS_SHARE`` of the
  manifest's request rate, split across projects in proportion to their live
  runs (:func:`budget_interval`). The rest stays free for triggers (each one
  also lists the project's runs first), retries, cancels and anything else
  that shares the token. The rate adapts to what is left: it shrinks with the
  share of the budget's fullest window already spent (see
  :meth:`~hexbatch.engine.statuses.StatusBoard.plan`), so reads back off while
  triggers use the budget and speed up again once it drains.

The slower of the two wins, so a read is never sent more often than it is
worth, nor more often than the budget's share allows; but never less often
than ``poll.max``, the manifest's promise of freshness (:func:`paced`). The
share is a soft target: the request limiter still enforces the hard limit,
and Hex's kernel limit (25 live runs) bounds how many projects can be read.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from hexbatch.manifest import PollSettings

# The part of the request budget that status reads may use.
STATUS_SHARE = 0.25


def poll_delay(poll: PollSettings, n: int, rng: random.Random) -> float:
    """Seconds to wait before poll number ``n`` of a run."""
    ceiling = min(poll.max, poll.initial * poll.multiplier ** min(n, 64))
    return rng.uniform(poll.initial, max(poll.initial, ceiling))


def shared_interval(poll: PollSettings, live_here: int) -> float:
    """Seconds between reads of a project whose one read serves ``live_here`` runs."""
    return min(poll.max, max(poll.initial, poll.max / max(1, live_here)))


def budget_interval(
    rate: float, live_total: int, live_here: int, share: float = STATUS_SHARE
) -> float:
    """Fewest seconds between reads of one project that keep status reads within budget.

    Args:
        rate: requests per second the request budget allows (``inf``: no budget).
        live_total: runs followed across the batch.
        live_here: runs followed in this project (its share of the budget).
        share: the part of ``rate`` that status reads may use.
    """
    if math.isinf(rate) or rate <= 0 or live_here <= 0:
        return 0.0
    return max(1, live_total) / (live_here * rate * share)


def paced(poll: PollSettings, wanted: float, floor: float) -> float:
    """``wanted`` seconds slowed to the budget's ``floor``, but never beyond ``poll.max``."""
    return min(poll.max, max(floor, wanted))


@dataclass(frozen=True, slots=True)
class PollPlan:
    """How long a run sleeps before its next read, and how old an answer it then accepts."""

    delay: float
    max_age: float
