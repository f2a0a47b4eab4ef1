"""The cancel-and-confirm rule the engine and `hexbatch cancel` share."""

from __future__ import annotations

import anyio
import pytest

from hexbatch.api.models import RunInfo
from hexbatch.cancelling import CancelConfirmation
from hexbatch.errors import RequestNotSentError


class _Hex:
    """A Hex that accepts (or refuses, or fails) the cancel and then reports ``statuses``."""

    def __init__(self, statuses: list[str], *, accepts: bool = True, fails: bool = False) -> None:
        self.statuses = statuses
        self.accepts = accepts
        self.fails = fails
        self.reads = 0

    async def cancel_run(self, project_id: str, run_id: str) -> bool:
        if self.fails:
            raise RequestNotSentError("connection refused", operation="CancelRun")
        return self.accepts

    async def get_run_status(self, project_id: str, run_id: str) -> RunInfo:
        status = self.statuses[min(self.reads, len(self.statuses) - 1)]
        self.reads += 1
        return RunInfo("p", run_id, None, status, None, None, None, None, "API", None)


def _confirm(hex_api: _Hex, reads: int, pauses: list[int] | None = None) -> CancelConfirmation:
    confirmation = CancelConfirmation()

    async def pause(check: int) -> None:
        assert pauses is not None
        pauses.append(check)

    async def main() -> None:
        await confirmation.request(
            hex_api, "p", "r", reads=reads, pause=None if pauses is None else pause
        )

    anyio.run(main)
    return confirmation


@pytest.mark.parametrize(
    ("statuses", "ended_on_its_own", "seen"),
    [
        (["COMPLETED"], True, "COMPLETED"),  # it ended before the cancel landed
        (["ERRORED"], True, "ERRORED"),
        (["KILLED"], False, "KILLED"),  # the cancel's own doing
        (["RUNNING", "RUNNING", "KILLED"], False, "KILLED"),
        (["RUNNING"], False, "RUNNING"),  # never seen ended: the cancel's
    ],
)
def test_a_run_seen_ended_but_killed_keeps_its_status(
    statuses: list[str], ended_on_its_own: bool, seen: str
) -> None:
    """A run read back ended with any status but KILLED ended on its own."""
    confirmation = _confirm(_Hex(statuses), reads=3)

    assert confirmation.accepted is True
    assert confirmation.seen is not None
    assert confirmation.seen.status == seen
    assert confirmation.ended_on_its_own is ended_on_its_own


def test_reads_stop_once_the_run_has_ended_and_pause_between() -> None:
    """The status is read until it is final, at most ``reads`` times, pausing after each."""
    hex_api = _Hex(["RUNNING", "RUNNING", "KILLED", "KILLED"])
    pauses: list[int] = []
    _confirm(hex_api, reads=5, pauses=pauses)
    assert (hex_api.reads, pauses) == (3, [0, 1])

    still, pauses = _Hex(["RUNNING"]), []
    _confirm(still, reads=2, pauses=pauses)
    assert (still.reads, pauses) == (2, [0, 1])


def test_a_failed_cancel_request_reads_nothing() -> None:
    """A cancel Hex never answered leaves no answer and no status, only the error."""
    hex_api = _Hex(["COMPLETED"], fails=True)
    confirmation = _confirm(hex_api, reads=3)

    assert (confirmation.accepted, confirmation.seen, hex_api.reads) == (None, None, 0)
    assert isinstance(confirmation.error, RequestNotSentError)
    assert not confirmation.ended_on_its_own


def test_a_refused_cancel_still_reads_the_status() -> None:
    """Hex refusing the cancel is an answer: the status is still read back."""
    confirmation = _confirm(_Hex(["COMPLETED"], accepts=False), reads=1)

    assert confirmation.accepted is False
    assert confirmation.ended_on_its_own
