"""What a failed trigger does to its run, for each meaning the failure table gives it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hexbatch import errors, status
from hexbatch.api.client import Reservation, Timeouts
from hexbatch.api.models import RunCreated, RunInfo, RunsPage
from hexbatch.api.request_failures import Meaning, RequestKind, failure_of, meaning_of
from hexbatch.clock import VirtualClock
from hexbatch.engine import EngineSettings, WorkItem
from hexbatch.engine.context import BatchContext
from hexbatch.engine.lifecycle import RunLifecycle
from hexbatch.engine.run_state import AttemptEnd
from hexbatch.manifest import load_manifest
from hexbatch.outcome import Attempt
from hexbatch.plan import build_plan
from tests.engine.conftest import P1, manifest
from tests.engine.fakes import UnusedHex

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
ROUNDS = 3


class _FailingTriggers(UnusedHex):
    """A Hex whose every trigger fails with ``error``; later run lists show ``appears``."""

    timeouts = Timeouts(total=60.0)

    def __init__(self, error: errors.HexAPIError, appears: tuple[str, ...] = ()) -> None:
        self.error = error
        self.appears = appears
        self.sent = 0

    async def list_runs_page(
        self, project_id: str, *, limit: int = 25, reservation: Reservation | None = None
    ) -> RunsPage:
        return RunsPage(runs=(), next_page=None)  # the snapshot: nothing before the trigger

    async def run_project(self, project_id: str, *_: Any, **__: Any) -> RunCreated:
        self.sent += 1
        raise self.error

    async def list_runs(self, project_id: str, *, max_runs: int | None = None) -> list[RunInfo]:
        return [
            RunInfo(project_id, run_id, None, status.PENDING, None, None, None, None, "API", None)
            for run_id in self.appears
        ]


async def _trigger(
    tmp_path: Path, client: _FailingTriggers
) -> tuple[Attempt | AttemptEnd, BatchContext]:
    clock = VirtualClock()
    path = manifest(tmp_path, [{"id": P1, "poll": {"initial": "1s", "max": "10s"}}])
    (spec,) = build_plan(load_manifest(path)).items
    settings = EngineSettings(time=clock.source(NOW), trigger_rounds=ROUNDS)
    context = BatchContext(client=client, settings=settings)
    return await RunLifecycle(context, WorkItem(spec))._trigger(), context


def _meaning(error: errors.HexAPIError) -> Meaning:
    return meaning_of(RequestKind.TRIGGER, failure_of(error))


@pytest.mark.parametrize(
    "error",
    [
        errors.BadRequestError("bad", status=400),
        errors.NotFoundError("no such project", status=404),
        errors.UnprocessableError("not published", status=422),
        errors.HexHTTPError("teapot", status=418),
    ],
)
async def test_a_final_failure_fails_the_attempt_at_once(
    tmp_path: Path, error: errors.HexAPIError
) -> None:
    """FINAL: one send, TRIGGER_FAILED with Hex's reason; the batch goes on."""
    client = _FailingTriggers(error)

    ended, context = await _trigger(tmp_path, client)

    assert _meaning(error) is Meaning.FINAL
    assert ended == AttemptEnd(status.TRIGGER_FAILED, str(error))
    assert client.sent == 1
    assert not context.control.stopping


@pytest.mark.parametrize(
    "error",
    [
        errors.AuthenticationError("expired", status=401),
        errors.PermissionDeniedError("no scope", status=403),
    ],
)
async def test_a_refused_token_fails_the_attempt_and_stops_the_batch(
    tmp_path: Path, error: errors.HexAPIError
) -> None:
    """FINAL for the token itself: no other trigger could succeed, so the batch stops."""
    client = _FailingTriggers(error)

    ended, context = await _trigger(tmp_path, client)

    assert _meaning(error) is Meaning.FINAL
    assert isinstance(ended, AttemptEnd)
    assert ended.status == status.TRIGGER_FAILED
    assert client.sent == 1
    assert context.control.fatal is error


@pytest.mark.parametrize(
    "error",
    [
        errors.RateLimitedError("slow down", status=429),
        errors.RequestNotSentError("connection refused"),
    ],
)
async def test_a_trigger_never_sent_is_sent_again_a_bounded_number_of_times(
    tmp_path: Path, error: errors.HexAPIError
) -> None:
    """NOT_SENT: sent again after a backoff, until the batch's trigger rounds run out."""
    client = _FailingTriggers(error)

    ended, _ = await _trigger(tmp_path, client)

    assert _meaning(error) is Meaning.NOT_SENT
    assert isinstance(ended, AttemptEnd)
    assert ended.status == status.TRIGGER_FAILED
    assert ended.error is not None
    assert ended.error.startswith(f"gave up after {ROUNDS} tries")
    assert client.sent == ROUNDS


async def test_a_withdrawn_trigger_leaves_the_run_untriggered(tmp_path: Path) -> None:
    """NOT_SENT because the batch withdrew it: not a failure, the run is simply not triggered."""
    error = errors.SendCancelled("withdrawn before sending")
    client = _FailingTriggers(error)

    ended, _ = await _trigger(tmp_path, client)

    assert _meaning(error) is Meaning.NOT_SENT
    assert isinstance(ended, AttemptEnd)
    assert (ended.status, ended.settled) == (status.SKIPPED, False)
    assert client.sent == 1


async def test_a_trigger_maybe_processed_adopts_the_run_it_created(tmp_path: Path) -> None:
    """MAYBE_PROCESSED: never sent again blindly; the one new run in the list is its own."""
    error = errors.OutcomeUnknownError("timed out after sending")
    client = _FailingTriggers(error, appears=("created-anyway",))

    attempt, _ = await _trigger(tmp_path, client)

    assert _meaning(error) is Meaning.MAYBE_PROCESSED
    assert isinstance(attempt, Attempt)
    assert attempt.run_id == "created-anyway"
    assert client.sent == 1


async def test_a_trigger_maybe_processed_is_sent_again_once_none_was_created(
    tmp_path: Path,
) -> None:
    """MAYBE_PROCESSED and no run appeared within the reconcile window: sent again."""
    error = errors.OutcomeUnknownError("reset after sending")
    client = _FailingTriggers(error)

    ended, _ = await _trigger(tmp_path, client)

    assert isinstance(ended, AttemptEnd)
    assert ended.status == status.TRIGGER_FAILED
    assert ended.error is not None
    assert "no run was created" in ended.error
    assert client.sent == ROUNDS


async def test_busy_kernels_hold_the_trigger_until_the_run_s_timeout(tmp_path: Path) -> None:
    """A trigger's 503 (NOT_SENT: busy kernels) closes the gate and is not counted against
    the trigger rounds; only a 503 outlasting the run's timeout (30 s) fails it."""
    error = errors.KernelLimitError("kernels busy", status=503)
    client = _FailingTriggers(error)

    ended, context = await _trigger(tmp_path, client)

    assert _meaning(error) is Meaning.NOT_SENT
    assert isinstance(ended, AttemptEnd)
    assert ended.status == status.TRIGGER_FAILED
    assert ended.error is not None
    assert "503 for longer than the run's timeout" in ended.error
    assert client.sent > ROUNDS
    assert context.gate.closures >= 1
