"""Cancel a run in Hex and confirm how it ended: the rule the engine and ``hexbatch cancel``
share.

Hex may accept a cancel for a run that had already ended, so the run's status is read
back after the request. A run seen ended with any status but KILLED (the cancel's own
doing) ended on its own before the cancel landed: it keeps the status it ended with.
Any other run is the cancel's, whatever the reads said or failed to say.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from hexbatch.api.models import RunInfo
from hexbatch.errors import HexAPIError
from hexbatch.status import KILLED


class CancelsRuns(Protocol):
    """The two requests of the Hex API that cancelling a run needs."""

    async def cancel_run(self, project_id: str, run_id: str) -> bool:
        """Ask Hex to stop a run; whether Hex accepted."""
        ...

    async def get_run_status(self, project_id: str, run_id: str) -> RunInfo:
        """A run's current status."""
        ...


@dataclass(slots=True)
class CancelConfirmation:
    """What a cancel request and the reads after it found, filled in as they answer.

    Filled in place, so that a caller whose time ran out mid-way (the engine bounds the
    whole exchange) still has what was learnt until then.
    """

    accepted: bool | None = None
    """Hex's answer to the cancel request; None until it answered."""
    seen: RunInfo | None = None
    """The run's status as last read after the cancel, if a read answered."""
    error: HexAPIError | None = None
    """Why the cancel request or a read failed (the exchange stops there)."""

    @property
    def ended_on_its_own(self) -> bool:
        """The run had ended before the cancel landed: it keeps the status it ended with."""
        seen = self.seen
        return seen is not None and seen.terminal and seen.status != KILLED

    async def request(
        self,
        client: CancelsRuns,
        project_id: str,
        run_id: str,
        *,
        reads: int = 1,
        pause: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        """Cancel the run, then read its status up to ``reads`` times until it has ended.

        ``pause(n)`` is awaited after the ``n``-th read (from 0) that found the run
        still going; without it the reads follow one another at once.
        """
        try:
            self.accepted = await client.cancel_run(project_id, run_id)
            for check in range(reads):
                self.seen = await client.get_run_status(project_id, run_id)
                if self.seen.terminal:
                    return
                if pause is not None:
                    await pause(check)
        except HexAPIError as error:
            self.error = error
