"""Everything the workers of one batch share."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import anyio

from hexbatch.api.retry import RetryPolicy
from hexbatch.clock import Clock, Sleep, TimeSource, WallClock, utc_now
from hexbatch.engine.control import Control
from hexbatch.engine.gate import KernelGate
from hexbatch.engine.hexapi import HexService
from hexbatch.engine.journal import Journal, NullJournal
from hexbatch.engine.statuses import StatusBoard
from hexbatch.engine.versions import VersionWatch

__all__ = ["BatchContext", "EngineSettings", "utc_now"]


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How the engine runs a batch (the manifest supplies per-project settings).

    Attributes:
        max_in_flight: runs alive at once across the batch.
        fail_fast: stop triggering after the first run that does not complete.
        cancel_on_fail_fast: with fail_fast, also cancel the live runs.
        dry_run: send every trigger with Hex's dryRun flag (validates, runs nothing).
        durations: seconds per run key from earlier batches; when given, the
            longest runs start first.
        trigger_rounds: how many times a trigger that was throttled or never
            sent is tried again after the client's own retries gave up.
        reconcile_checks: the fewest times the run list is read to settle an
            ambiguous trigger.
        reconcile_skew: seconds of clock difference tolerated between this
            machine and Hex when matching a run to an ambiguous trigger.
        reconcile_window: seconds after an ambiguous trigger was sent before "no
            run was created" may be concluded (None: the client's request timeout
            plus ``reconcile_skew``, since Hex may create a run after the client
            stopped waiting).
        lost_after: seconds a 404 must persist (over several reads) before a run
            whose id Hex gave is believed gone; a 404 right after creation is lag.
        cancel_grace: seconds allowed for cancelling runs in Hex (timeouts, interrupts).
        request_retry: how the client retries a failed request before the engine sees it.
        time: every clock, sleep, timer and random draw of the batch (virtual in tests);
            ``clock``, ``sleep``, ``rng`` and ``now`` read its parts.
    """

    max_in_flight: int = 10
    fail_fast: bool = False
    cancel_on_fail_fast: bool = False
    dry_run: bool = False
    durations: Mapping[str, float] = field(default_factory=dict)
    trigger_rounds: int = 5
    reconcile_checks: int = 3
    reconcile_skew: float = 15.0
    reconcile_window: float | None = None
    lost_after: float = 60.0
    cancel_grace: float = 30.0
    request_retry: RetryPolicy = field(default_factory=RetryPolicy)
    time: TimeSource = field(default_factory=TimeSource)

    @property
    def clock(self) -> Clock:
        """Monotonic seconds."""
        return self.time.clock

    @property
    def sleep(self) -> Sleep:
        """Waits on :attr:`clock`."""
        return self.time.sleep

    @property
    def rng(self) -> random.Random:
        """The random generator for jitter."""
        return self.time.rng

    @property
    def now(self) -> WallClock:
        """The wall clock."""
        return self.time.now


@dataclass(slots=True)
class BatchContext:
    """The shared state of a running batch."""

    client: HexService
    settings: EngineSettings
    journal: Journal = field(default_factory=NullJournal)
    control: Control = field(default_factory=Control)
    board: StatusBoard = field(init=False)
    gate: KernelGate = field(init=False)
    claimed: set[str] = field(default_factory=set)
    """Run ids this batch recorded or found claimed (other batches' are asked of the journal)."""
    quota_waited: float = 0.0
    """Seconds this batch's triggers have waited for quota, all together."""
    trigger_locks: dict[str, anyio.Lock] = field(default_factory=dict)
    live_runs: int = 0
    """Runs that exist in Hex and are being followed (from the 201 to their end)."""
    versions: VersionWatch = field(default_factory=VersionWatch)

    def __post_init__(self) -> None:
        self.board = StatusBoard(self.client, self.settings.clock)
        self.gate = KernelGate(self.settings.sleep)

    def trigger_lock(self, project_id: str) -> anyio.Lock:
        """Triggers of one project go one at a time, so an ambiguous one can be matched."""
        return self.trigger_locks.setdefault(project_id, anyio.Lock())
