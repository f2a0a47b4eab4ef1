"""What the engine asks of the Hex API: a protocol, so the engine does not depend on HTTP.

:class:`hexbatch.api.client.HexClient` implements it over HTTP; the simulator's
:class:`hexbatch.simulator.inprocess.InProcessHex` implements it in memory, on a
virtual clock, so the engine's behaviour can be tested exactly and quickly.
Errors are the :class:`hexbatch.errors.HexAPIError` family in both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hexbatch.api.client import Reservation, Timeouts
    from hexbatch.api.limits import WindowLimiter
    from hexbatch.api.models import RunCreated, RunInfo, RunsPage


class HexService(Protocol):
    """The requests the engine sends, and the budgets it consults before sending."""

    @property
    def timeouts(self) -> Timeouts:
        """Per-request time limits (an ambiguous trigger is settled only after ``total``)."""
        ...

    @property
    def request_budget(self) -> WindowLimiter | None:
        """The budget every request shares (None: unlimited); status reads pace to it."""
        ...

    async def run_project(
        self,
        project_id: str,
        input_params: Mapping[str, Any] | None = None,
        *,
        dry_run: bool = False,
        update_published_results: bool | None = None,
        use_cached_sql_results: bool | None = None,
        view_id: str | None = None,
        notifications: Sequence[Mapping[str, Any]] | None = None,
        retry_kernel_limit: bool = True,
        cancel_if: Callable[[], bool] | None = None,
        reservation: Reservation | None = None,
    ) -> RunCreated:
        """Trigger a run of the project's published version."""
        ...

    async def get_run_status(self, project_id: str, run_id: str) -> RunInfo:
        """A run's current status."""
        ...

    async def list_runs_page(
        self, project_id: str, *, limit: int = 25, reservation: Reservation | None = None
    ) -> RunsPage:
        """One page of the project's API-triggered runs, newest first."""
        ...

    async def list_runs(self, project_id: str, *, max_runs: int | None = None) -> list[RunInfo]:
        """The project's API-triggered runs, newest first, up to ``max_runs``."""
        ...

    async def cancel_run(self, project_id: str, run_id: str) -> bool:
        """Ask Hex to stop a run (False: it had already finished)."""
        ...

    async def reserve_trigger(self, *, reads: int = 0) -> Reservation:
        """Take a trigger's budget slots now, with ``reads`` request slots beside it."""
        ...

    def read_wait(self) -> float:
        """Seconds a read would wait for the request budget now (0: it may go at once)."""
        ...

    def advised_trigger_wait(self) -> tuple[float, str]:
        """Seconds Hex's last 429 still asks triggers to wait, and why (0 when none)."""
        ...

    def trigger_wait(self) -> tuple[float, str]:
        """Seconds before another trigger may be sent, and why (0 when it may go now)."""
        ...
