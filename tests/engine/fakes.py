"""A base for the engine tests' hand-written fakes of the Hex API.

Every request of :class:`~hexbatch.engine.hexapi.HexService` fails the test unless the
fake answers it, so a fake states exactly what a test expects the engine to ask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hexbatch.api.client import HexClient, Reservation, Timeouts
from hexbatch.api.limits import WindowLimiter
from hexbatch.api.models import RunCreated, RunInfo, RunsPage
from hexbatch.engine.hexapi import HexService


class Unexpected(AssertionError):
    """The engine sent a request the test's fake does not answer."""


class UnusedHex:
    """A Hex API with no budgets whose every request is unexpected (fakes override some)."""

    timeouts = Timeouts()
    request_budget: WindowLimiter | None = None

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
        raise Unexpected("run_project")

    async def get_run_status(self, project_id: str, run_id: str) -> RunInfo:
        raise Unexpected("get_run_status")

    async def list_runs_page(
        self, project_id: str, *, limit: int = 25, reservation: Reservation | None = None
    ) -> RunsPage:
        raise Unexpected("list_runs_page")

    async def list_runs(self, project_id: str, *, max_runs: int | None = None) -> list[RunInfo]:
        raise Unexpected("list_runs")

    async def cancel_run(self, project_id: str, run_id: str) -> bool:
        raise Unexpected("cancel_run")

    async def reserve_trigger(self, *, reads: int = 0) -> Reservation:
        return Reservation(reads=reads)

    def read_wait(self) -> float:
        return 0.0

    def advised_trigger_wait(self) -> tuple[float, str]:
        return 0.0, ""

    def trigger_wait(self) -> tuple[float, str]:
        return 0.0, ""


def _conforming(fake: UnusedHex, client: HexClient) -> tuple[HexService, HexService]:
    """mypy --strict checks that both the fakes and the HTTP client implement the protocol."""
    return fake, client
