"""Cancel in Hex the runs a stored batch shows in flight, and record what became of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from hexbatch.client import HexClient
from hexbatch.errors import HexAPIError
from hexbatch.models import RunInfo
from hexbatch.state.records import StoredRun, same_url
from hexbatch.state.store import StateStore
from hexbatch.status import CANCELLED, KILLED

CANCEL_REASON: Final = "cancelled with hexbatch cancel"


@dataclass(frozen=True, slots=True)
class CancelResult:
    """What happened to one in-flight run.

    ``action`` is ``cancelled`` (Hex accepted the cancel), ``finished`` (it had
    already ended, with ``status``), or ``failed`` (with ``error``).
    """

    key: str
    project: str
    run_id: str
    action: str
    status: str | None = None
    error: str | None = None


@dataclass(slots=True)
class CancelSummary:
    """Every in-flight run's result, plus the runs whose trigger outcome is unknown."""

    results: list[CancelResult] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        """How many runs ended with ``action``."""
        return sum(1 for result in self.results if result.action == action)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def recorded_url(run: StoredRun, batch_url: str) -> str:
    """Where the run's last attempt was triggered (the batch's URL for an older record)."""
    return run.last_base_url or batch_url


def urls_to_cancel_at(store: StateStore, batch_id: int) -> list[str]:
    """Every Hex URL where the batch has a run in flight, in the order first met."""
    batch_url = store.batch(batch_id).base_url
    urls = (recorded_url(run, batch_url) for run in store.runs(batch_id) if run.in_flight)
    return list(dict.fromkeys(urls))


async def cancel_in_flight(
    store: StateStore,
    batch_id: int,
    client: HexClient,
    *,
    now: Callable[[], datetime] = _utc_now,
) -> CancelSummary:
    """Cancel, one at a time, each run of the batch in flight at the client's Hex URL.

    Only runs whose attempt was triggered at ``client.base_url`` are sent to it: a
    run id means nothing elsewhere, and the token goes nowhere a run was not
    recorded. A cancelled run gets the CANCELLED final status; one that had already
    ended on its own gets the status Hex reports; one whose cancel failed keeps its
    record, so a later ``hexbatch run`` or ``hexbatch cancel`` can deal with it. Runs
    whose trigger outcome was never recorded are listed, not touched: they have no
    run id to cancel.
    """
    summary = CancelSummary()
    batch_url = store.batch(batch_id).base_url
    for run in store.runs(batch_id):
        if not same_url(recorded_url(run, batch_url), client.base_url):
            continue
        if run.unresolved:
            summary.unresolved.append(run.key)
        attempt = run.in_flight
        if attempt is None or attempt.run_id is None:
            continue
        number = len(run.attempts)
        try:
            accepted = await client.cancel_run(run.project_id, attempt.run_id)
        except HexAPIError as error:
            result = CancelResult(
                run.key, run.project, attempt.run_id, "failed", attempt.status, str(error)
            )
        else:
            result = await _settle(store, batch_id, client, run, number, accepted, now())
        summary.results.append(result)
    store.record_requests(batch_id, client.stats.as_dict())
    store.record_rate_limits(batch_id, client.stats.limits)
    return summary


async def _settle(
    store: StateStore,
    batch_id: int,
    client: HexClient,
    run: StoredRun,
    number: int,
    accepted: bool,
    at: datetime,
) -> CancelResult:
    """Record the run's end after a cancel request.

    Hex may accept a cancel of a run that had already ended, so its status is read
    back: a run that ended on its own keeps the status it ended with.
    """
    run_id = run.attempts[-1].run_id or ""
    try:
        info: RunInfo | None = await client.get_run_status(run.project_id, run_id)
    except HexAPIError:
        info = None
    if info is not None and info.terminal and info.status != KILLED:
        store.record_status(
            batch_id,
            run.key,
            number,
            info.status,
            finished_at=info.end_time,
            elapsed_ms=info.elapsed_ms,
        )
        store.record_final(batch_id, run.key, info.status)
        return CancelResult(run.key, run.project, run_id, "finished", info.status)
    if not accepted:
        return CancelResult(
            run.key, run.project, run_id, "failed", error="Hex refused to cancel the run"
        )
    store.record_status(batch_id, run.key, number, CANCELLED, finished_at=at, error=CANCEL_REASON)
    store.record_final(batch_id, run.key, CANCELLED, CANCEL_REASON)
    return CancelResult(run.key, run.project, run_id, "cancelled", CANCELLED)
