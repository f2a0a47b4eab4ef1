"""Run statuses: the ones Hex reports and the final statuses hexbatch adds.

Hex's ``ProjectRunStatus`` enum has six values; four are terminal. A status the
client does not know (Hex may add one) is kept verbatim and treated as not
terminal, so a poller keeps following the run instead of declaring it done.

hexbatch adds final statuses for outcomes Hex never reports itself: a run
cancelled at its timeout, a trigger the API refused, a trigger whose outcome
could not be established, a run never triggered, a run cancelled because
the user interrupted the batch, and a run not triggered because its key already
completed in an earlier batch (``--skip-completed``).
"""

from __future__ import annotations

from typing import Final

PENDING: Final = "PENDING"
RUNNING: Final = "RUNNING"
COMPLETED: Final = "COMPLETED"
ERRORED: Final = "ERRORED"
KILLED: Final = "KILLED"
UNABLE_TO_ALLOCATE_KERNEL: Final = "UNABLE_TO_ALLOCATE_KERNEL"

TIMED_OUT: Final = "TIMED_OUT"
TRIGGER_FAILED: Final = "TRIGGER_FAILED"
UNKNOWN: Final = "UNKNOWN"
SKIPPED: Final = "SKIPPED"
CANCELLED: Final = "CANCELLED"
ALREADY_COMPLETED: Final = "ALREADY_COMPLETED"

HEX_STATUSES: Final = frozenset(
    {PENDING, RUNNING, COMPLETED, ERRORED, KILLED, UNABLE_TO_ALLOCATE_KERNEL}
)
HEX_TERMINAL: Final = frozenset({COMPLETED, ERRORED, KILLED, UNABLE_TO_ALLOCATE_KERNEL})
FINAL_STATUSES: Final = HEX_TERMINAL | {
    TIMED_OUT,
    TRIGGER_FAILED,
    UNKNOWN,
    SKIPPED,
    CANCELLED,
    ALREADY_COMPLETED,
}
# The order reports list statuses in: failures first, success last.
REPORT_ORDER: Final = (
    ERRORED,
    TRIGGER_FAILED,
    UNKNOWN,
    TIMED_OUT,
    KILLED,
    UNABLE_TO_ALLOCATE_KERNEL,
    CANCELLED,
    SKIPPED,
    ALREADY_COMPLETED,
    COMPLETED,
)


def is_terminal(status: str) -> bool:
    """Tell whether a status Hex reported ends the run; unknown values do not."""
    return status in HEX_TERMINAL


def is_success(status: str) -> bool:
    """Tell whether a final status counts as success for the exit code."""
    return status in (COMPLETED, ALREADY_COMPLETED)
