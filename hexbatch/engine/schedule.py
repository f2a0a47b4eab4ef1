"""When a run is polled next: capped exponential backoff with jitter.

Before poll ``n`` (0-based) of a run, wait a random time between
``poll.initial`` and ``min(poll.max, poll.initial * poll.multiplier ** n)``:
early polls are frequent because short runs are common, later ones back off
towards the cap, and the jitter keeps runs triggered together from polling in
lockstep.
"""

from __future__ import annotations

import random

from hexbatch.manifest import PollSettings


def poll_delay(poll: PollSettings, n: int, rng: random.Random) -> float:
    """Seconds to wait before poll number ``n`` of a run."""
    ceiling = min(poll.max, poll.initial * poll.multiplier ** min(n, 64))
    return rng.uniform(poll.initial, max(poll.initial, ceiling))
