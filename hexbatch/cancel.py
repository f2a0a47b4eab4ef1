"""Cancel in Hex the runs a stored batch shows in flight, and record what became of them.

The use case under ``hexbatch cancel``: it sits above the state store and the Hex client,
and decides how each run ended by the rule the engine uses too
(:class:`~hexbatch.cancelling.CancelConfirmation`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from hexbatch.api.client import HexClient
from hexbatch.cancelling import CancelConfirmation
from hexbatch.outcome import Attempt
from hexbatch.state.records import StoredRun, same_url
from hexbatch.state.store import StateStore
from hexbatch.status import CANCELLED

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
        confirmation = CancelConfirmation()
        await confirmation.request(client, run.project_id, attempt.run_id)
        summary.results.append(_settle(store, batch_id, run, attempt, confirmation, now))
    store.record_requests(batch_id, client.stats.as_dict())
    store.record_rate_limits(batch_id, client.stats.limits)
    return summary


async def cancel_everywhere(store: StateStore, batch_id: int, token: str) -> CancelSummary:
    """Cancel the batch's runs at each Hex URL where it has some in flight, one URL at a
    time (see :func:`cancel_in_flight`).

    Raises:
        ConfigurationError: a recorded URL the client refuses (e.g. plain http elsewhere).
    """
    summary = CancelSummary()
    for url in urls_to_cancel_at(store, batch_id):
        async with HexClient(url, token) as client:
            summary.results.extend((await cancel_in_flight(store, batch_id, client)).results)
    return summary


def _settle(
    store: StateStore,
    batch_id: int,
    run: StoredRun,
    attempt: Attempt,
    confirmation: CancelConfirmation,
    now: Callable[[], datetime],
) -> CancelResult:
    """Record the run's end after a cancel request (a failed request records nothing).

    A run that ended on its own before the cancel landed keeps the status it ended with.
    """
    run_id = attempt.run_id or ""
    number = len(run.attempts)
    info = confirmation.seen
    if confirmation.accepted is None:  # the cancel request itself failed
        error = str(confirmation.error)
        return CancelResult(run.key, run.project, run_id, "failed", attempt.status, error)
    if info is not None and confirmation.ended_on_its_own:
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
    if not confirmation.accepted:
        return CancelResult(
            run.key, run.project, run_id, "failed", error="Hex refused to cancel the run"
        )
    store.record_status(
        batch_id, run.key, number, CANCELLED, finished_at=now(), error=CANCEL_REASON
    )
    store.record_final(batch_id, run.key, CANCELLED, CANCEL_REASON)
    return CancelResult(run.key, run.project, run_id, "cancelled", CANCELLED)
