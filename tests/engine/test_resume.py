"""Batches in a state store: new batch after a finished one, --new, and --rerun.

Each run here talks to a fresh in-process simulator, so the simulator's ledger
shows exactly what that invocation triggered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hexbatch import status
from hexbatch.resume import NothingToRerun
from hexbatch.state import StateStore
from tests.engine.conftest import (
    P1,
    Harness,
    HarnessFactory,
    fast_settings,
    manifest,
    project,
    scenario,
)

UNKNOWN_FAULTS = [
    {"operation": "RunProject", "kind": "error", "status": 502, "every_nth": 1},
    {"operation": "GetProjectRuns", "kind": "error", "status": 500, "every_nth": 1},
]


def _errors_on(n: int) -> dict[str, Any]:
    return scenario([project(outcome={"rules": [{"when": {"n": n}, "status": "ERRORED"}]})])


@pytest.fixture(name="harness_factory")
def _harness_on_each_backend(tmp_path: Path, state_location: str) -> HarnessFactory:
    """Every batch of these tests keeps its state in ``state_location`` (each backend)."""

    def build(sim: dict[str, Any]) -> Harness:
        harness = Harness(tmp_path, sim)
        harness.options["state"] = state_location
        return harness

    return build


def _batches(state: str) -> list[Any]:
    with StateStore(state) as store:
        return store.batches()


async def test_a_finished_batch_is_followed_by_a_new_one(
    tmp_path: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """Once every run has its final status, the next run starts a new batch."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}])

    await harness_factory(scenario([project()])).run(path)
    second: Harness = harness_factory(scenario([project()]))
    report = await second.run(path)

    assert report.counts() == {"COMPLETED": 2}
    assert second.ledger is not None
    assert len(second.ledger.runs) == 2
    batches = _batches(state_location)
    assert [b.total for b in batches] == [2, 2]
    assert all(b.finished_at is not None for b in batches)


async def test_rerun_failed_retriggers_only_the_failures(
    tmp_path: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """--rerun failed gives the failed run a new attempt and leaves the completed one alone."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}])
    first = await harness_factory(_errors_on(2)).run(path)
    second: Harness = harness_factory(scenario([project()]))

    report = await second.run(path, rerun="failed")

    assert first.counts() == {"COMPLETED": 1, "ERRORED": 1}
    assert report.counts() == {"COMPLETED": 2}
    rerun = report.runs[1]
    assert [a.status for a in rerun.attempts] == [status.ERRORED, status.COMPLETED]
    assert second.ledger is not None
    assert [r.params for r in second.ledger.runs] == [{"n": 2}]
    assert len(_batches(state_location)) == 1


async def test_rerun_all_gives_every_run_a_new_attempt(
    tmp_path: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """--rerun all triggers every run again and keeps the earlier attempts."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}])
    await harness_factory(scenario([project()])).run(path)
    second: Harness = harness_factory(scenario([project()]))

    report = await second.run(path, rerun="all")

    assert [len(run.attempts) for run in report.runs] == [2, 2]
    assert second.ledger is not None
    assert len(second.ledger.runs) == 2


async def test_unknown_triggers_rerun_only_when_asked(
    tmp_path: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """A trigger whose outcome cannot be established ends UNKNOWN; --rerun unknown retries it."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])
    broken: Harness = harness_factory(scenario([project()], faults=UNKNOWN_FAULTS))

    first = await broken.run(path)
    fixed: Harness = harness_factory(scenario([project()]))
    report = await fixed.run(path, rerun="unknown")

    (run,) = first.runs
    assert run.status == status.UNKNOWN
    assert "not retriggering" in (run.error or "")
    assert report.runs[0].status == status.COMPLETED
    assert [a.status for a in report.runs[0].attempts] == [status.UNKNOWN, status.COMPLETED]
    assert fixed.ledger is not None
    assert len(fixed.ledger.runs) == 1


async def test_new_starts_a_fresh_batch_even_when_one_is_unfinished(
    tmp_path: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """--new leaves an unfinished batch behind and starts over."""
    path = manifest(
        tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(4)]}], defaults={"max_in_flight": 1}
    )
    stopped: Harness = harness_factory(_errors_on(0))
    first = await stopped.run(path, fail_fast=True)
    again: Harness = harness_factory(scenario([project()]))

    report = await again.run(path, new=True)

    assert status.SKIPPED in first.counts()
    assert report.counts() == {"COMPLETED": 4}
    batches = _batches(state_location)
    assert len(batches) == 2
    assert batches[0].finished_at is None


async def test_a_rerun_gets_its_retries_again(
    tmp_path: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """Retries spent by the first batch do not starve a --rerun of its own retries."""
    no_kernel = {"when": {"n": 1}, "status": "UNABLE_TO_ALLOCATE_KERNEL"}
    path = manifest(
        tmp_path, [{"id": P1, "runs": [{"n": 1}]}], defaults={"retries": {"attempts": 1}}
    )
    await harness_factory(scenario([project(outcome={"rules": [no_kernel]})])).run(path)
    once = {**no_kernel, "first_attempts": 1}

    report = await harness_factory(scenario([project(outcome={"rules": [once]})])).run(
        path, rerun="failed"
    )

    (run,) = report.runs
    assert run.status == status.COMPLETED
    assert [a.status for a in run.attempts] == [
        status.UNABLE_TO_ALLOCATE_KERNEL,
        status.UNABLE_TO_ALLOCATE_KERNEL,
        status.UNABLE_TO_ALLOCATE_KERNEL,
        status.COMPLETED,
    ]


async def test_runs_in_flight_elsewhere_are_not_followed_at_a_new_url(
    tmp_path: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """A batch with a run in flight at one Hex URL refuses to resume against another."""
    from datetime import UTC, datetime

    import pytest

    from hexbatch.state import StateError

    path = manifest(
        tmp_path, [{"id": P1, "runs": [{"n": 0}, {"n": 1}]}], defaults={"max_in_flight": 1}
    )
    first = await harness_factory(_errors_on(0)).run(path, fail_fast=True)
    skipped = next(run for run in first.runs if run.status == status.SKIPPED)
    with StateStore(state_location) as store:
        (batch,) = store.batches()
        now = datetime.now(UTC)
        store.record_intent(batch.id, skipped.key, 1, now)
        store.record_triggered(batch.id, skipped.key, 1, "run-elsewhere", None, now)

    with pytest.raises(StateError, match="in flight or not yet settled at another Hex"):
        await harness_factory(scenario([project()])).run(path)


async def test_rerun_with_nothing_to_rerun_does_nothing(
    tmp_path: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """After a clean batch, `--rerun failed` triggers nothing and starts no batch."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])
    await harness_factory(scenario([project()])).run(path)
    again: Harness = harness_factory(scenario([project()]))

    with pytest.raises(NothingToRerun, match="batch 1") as refused:
        await again.run(path, rerun="failed")

    assert (refused.value.batch_id, refused.value.rerun) == (1, "failed")
    assert again.ledger is not None
    assert again.ledger.runs == []
    batches = _batches(state_location)
    assert len(batches) == 1


async def test_an_interrupted_trigger_that_cannot_be_settled_ends_unknown(
    tmp_path: Path, state_location: str
) -> None:
    """An intent with no run id, and a run list that cannot be read: UNKNOWN, not retriggered."""
    from datetime import UTC, datetime

    from hexbatch.batch import BatchOptions, BatchRun
    from hexbatch.simulator import Scenario, run_simulator

    broken_list = [{"operation": "GetProjectRuns", "kind": "error", "status": 500, "every_nth": 1}]
    sim = scenario(
        [project(outcome={"rules": [{"when": {"n": 0}, "status": "ERRORED"}]})],
        faults=broken_list,
    )
    path = manifest(
        tmp_path, [{"id": P1, "runs": [{"n": 0}, {"n": 1}]}], defaults={"max_in_flight": 1}
    )
    state = state_location
    async with run_simulator(Scenario.from_mapping(sim)) as served:

        def batch(**options: Any) -> BatchRun:
            return BatchRun(
                path,
                BatchOptions(
                    base_url=served.base_url,
                    env={"HEX_API_TOKEN": served.token},
                    state=state,
                    **options,
                ),
                fast_settings(),
            )

        first = await batch(fail_fast=True).execute()
        skipped = first.runs[1]
        with StateStore(state) as store:
            (info,) = store.batches()
            store.record_intent(info.id, skipped.key, 1, datetime.now(UTC))
        second = await batch().execute()
        created = len(served.ledger.runs)

    assert skipped.status == status.SKIPPED
    assert second.runs[1].status == status.UNKNOWN
    assert "could not be listed" in (second.runs[1].error or "")
    assert created == 1
    with StateStore(state) as store:
        (stored,) = [run for run in store.runs(info.id) if run.key == skipped.key]
    assert stored.final_status == status.UNKNOWN
    assert stored.attempts[-1].status == status.UNKNOWN


async def test_a_run_an_old_batch_claimed_is_never_adopted(
    tmp_path: Path, state_location: str
) -> None:
    """A lost trigger is reconciled against the project's runs: a run an old batch of
    another manifest recorded, and one this batch finished before the interruption, are
    both looked up in the store and neither is adopted; the trigger is sent again."""
    from datetime import UTC, datetime

    from hexbatch.api.client import HexClient
    from hexbatch.batch import BatchOptions, BatchRun
    from hexbatch.simulator import Scenario, run_simulator
    from hexbatch.state import PlannedRun

    sim = scenario(
        [project(outcome={"rules": [{"when": {"n": 0}, "status": "ERRORED"}]})],
        preexisting_runs=[{"project": P1, "status": "PENDING", "params": {"old": 1}}],
    )
    path = manifest(
        tmp_path, [{"id": P1, "runs": [{"n": 0}, {"n": 1}]}], defaults={"max_in_flight": 1}
    )
    async with run_simulator(Scenario.from_mapping(sim)) as served:
        async with HexClient(served.base_url, served.token) as client:
            (old_run,) = [run.run_id for run in await client.list_runs(P1)]
        with StateStore(state_location) as store:
            old = store.create_batch(
                manifest="/years/ago/old-sweep.yaml",
                manifest_hash="m",
                plan_hash="p",
                base_url=served.base_url,
                token_env="HEX_API_TOKEN",
                hexbatch_version="0.1.0",
                runs=[PlannedRun("old-key", P1, "p", {"old": 1}, 0)],
                started_at=datetime(2023, 1, 1, tzinfo=UTC),
            )
            store.record_triggered(old.id, "old-key", 1, old_run, None, old.started_at)
            store.record_final(old.id, "old-key", status.COMPLETED)
            store.finish_batch(old.id, old.started_at)

        def batch(**options: Any) -> BatchRun:
            return BatchRun(
                path,
                BatchOptions(
                    base_url=served.base_url,
                    env={"HEX_API_TOKEN": served.token},
                    state=state_location,
                    **options,
                ),
                fast_settings(),
            )

        first = await batch(fail_fast=True).execute()
        skipped = first.runs[1]
        with StateStore(state_location) as store:
            info = store.latest_batch(path.stem)
            assert info is not None
            # The process died mid-trigger, after a snapshot that listed no run.
            store.record_intent(info.id, skipped.key, 1, datetime.now(UTC), seen_before=set())
        second = await batch().execute()
        ledger = served.ledger.snapshot()["runs"]

    assert (first.runs[0].status, skipped.status) == (status.ERRORED, status.SKIPPED)
    resumed = second.runs[1]
    assert resumed.status == status.COMPLETED
    assert resumed.run_id not in {old_run, first.runs[0].run_id}
    assert [entry["params"] for entry in ledger] == [{"old": 1}, {"n": 0}, {"n": 1}]
