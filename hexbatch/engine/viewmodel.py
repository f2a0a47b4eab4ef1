"""What a live view of a running batch shows: plain data, no rendering.

The engine fills a :class:`BatchView`; ``hexbatch.cli.view`` draws it. ``hexbatch status
--watch`` builds the same model from the state store, so both commands look alike.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

FAILURES_KEPT = 5
"""How many of the latest failed runs a view carries."""


@dataclass(frozen=True, slots=True)
class ProjectRow:
    """One project's runs, by where they stand."""

    name: str
    total: int
    completed: int = 0
    failed: int = 0
    live: int = 0
    skipped: int = 0

    @property
    def waiting(self) -> int:
        """Runs neither finished nor in flight."""
        return max(self.total - self.completed - self.failed - self.live - self.skipped, 0)


@dataclass(frozen=True, slots=True)
class FailedRun:
    """A run that ended without completing."""

    project: str
    params: str
    status: str
    error: str


@dataclass(frozen=True, slots=True)
class WaitReason:
    """Why triggers are held back, and for how much longer when known."""

    reason: str
    seconds_left: float | None = None


@dataclass(frozen=True, slots=True)
class BatchView:
    """Everything the live view draws, at one moment."""

    total: int
    finished: Counter[str]
    elapsed: float
    projects: tuple[ProjectRow, ...] = ()
    failures: tuple[FailedRun, ...] = ()
    failed_count: int = 0
    """All failed runs so far (``failures`` keeps only the latest)."""
    waits: tuple[WaitReason, ...] = ()
    done: bool = False

    @property
    def finished_count(self) -> int:
        """Runs that reached a final status."""
        return sum(self.finished.values())


def first_line(text: str | None) -> str:
    """The first non-empty line of an error message."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""
