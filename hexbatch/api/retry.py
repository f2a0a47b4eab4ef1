"""Backoff and retry: how long to wait, and whether to try again.

The waiting rule is exponential backoff with *full jitter*: before retry number
``n`` (0-based) wait ``uniform(0, min(max, initial * multiplier ** n))``, but
never less than what the server asked for in ``Retry-After``. Full jitter keeps
many clients that failed together from retrying together. Retries are bounded
twice: by a number of attempts and by a total time budget, whichever ends
first. The policy is a small pure object; the loop that applies it takes the
clock, the sleep and the random source as arguments, so it runs in virtual time
under test.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from hexbatch.clock import Clock, Sleep, monotonic, real_sleep

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential growth: ``min(max, initial * multiplier ** n)``."""

    initial: float = 0.5
    max: float = 30.0
    multiplier: float = 2.0

    def ceiling(self, n: int) -> float:
        """The longest wait before retry ``n`` (0-based)."""
        # Cap the exponent so huge retry counts cannot overflow a float.
        return min(self.max, self.initial * self.multiplier ** min(n, 64))

    def full_jitter(self, n: int, rng: random.Random) -> float:
        """A random wait in ``[0, ceiling(n)]``."""
        return rng.uniform(0.0, self.ceiling(n))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how often a failed request is tried again.

    Attributes:
        attempts: tries in total, the first included (1 disables retries).
        backoff: the jittered exponential wait between tries.
        budget: seconds after the first try beyond which no retry starts.
    """

    attempts: int = 6
    backoff: Backoff = field(default_factory=Backoff)
    budget: float = 120.0

    def delay(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry``, honouring ``Retry-After``."""
        wait = self.backoff.full_jitter(retry, rng)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait


NO_RETRIES = RetryPolicy(attempts=1)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Whether an error may be retried, and the server's advised wait if any."""

    retry: bool
    retry_after: float | None = None


async def call_with_retries(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    classify: Callable[[Exception], RetryDecision],
    clock: Clock = monotonic,
    sleep: Sleep = real_sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[Exception, int, float], None] | None = None,
) -> T:
    """Run ``operation`` until it succeeds, an error is final, or the policy gives up.

    The last error is re-raised unchanged, so callers catch the real exception.

    Args:
        operation: the request to make; called once per attempt.
        policy: attempts, backoff and total budget.
        classify: tells for each error whether to retry and what the server advised.
        clock, sleep: time sources (virtual in tests).
        rng: the jitter source.
        on_retry: called with (error, retry number, wait) before each wait, for logs.
    """
    rng = rng or random.Random()
    started = clock()
    retry = 0
    while True:
        try:
            return await operation()
        except Exception as error:
            decision = classify(error)
            if not decision.retry or retry + 1 >= policy.attempts:
                raise
            wait = policy.delay(retry, rng, decision.retry_after)
            if clock() - started + wait > policy.budget:
                raise
            if on_retry is not None:
                on_retry(error, retry, wait)
            await sleep(wait)
            retry += 1
