"""Batches of dates relative to today: which day is today, the anchor a batch records, and a
batch resumed after midnight planning the same runs.

The wall clock is injected (``EngineSettings.now``) so "today" is a chosen day; it still
moves with real time, as the engine's timestamps expect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hexbatch import status
from hexbatch.batch import BatchOptions, run_batch
from hexbatch.clock import TimeSource
from hexbatch.state import StateError, StateStore
from tests.engine.conftest import (
    P1,
    Harness,
    HarnessFactory,
    fast_settings,
    manifest,
    project,
    scenario,
)

MARCH_1_LATE = dt.datetime(2025, 3, 1, 23, 59, tzinfo=dt.UTC)
MARCH_2_EARLY = dt.datetime(2025, 3, 2, 0, 30, tzinfo=dt.UTC)
LAST_THREE_DAYS = {"param": "run_date", "start": "today-3d", "end": "yesterday"}


def _clock_from(moment: dt.datetime) -> Callable[[], dt.datetime]:
    """A wall clock that reads ``moment`` now and runs on from there in real time."""
    origin = dt.datetime.now(dt.UTC)
    return lambda: moment + (dt.datetime.now(dt.UTC) - origin)


def _on(moment: dt.datetime) -> Any:
    return fast_settings(time=TimeSource(now=_clock_from(moment)))


def _run_dates(report: Any) -> list[str]:
    return [run.params["run_date"] for run in report.runs]


@pytest.fixture
def nightly(tmp_path: Path) -> Path:
    """The last three days before today in UTC, one run at a time."""
    dates = {**LAST_THREE_DAYS, "timezone": "UTC"}
    return manifest(tmp_path, [{"id": P1, "dates": dates}], defaults={"max_in_flight": 1})


@pytest.fixture(name="harness_factory")
def _harness_on_each_backend(tmp_path: Path, state_location: str) -> HarnessFactory:
    def build(sim: dict[str, Any]) -> Harness:
        harness = Harness(tmp_path, sim)
        harness.options["state"] = state_location
        return harness

    return build


def _first_fails() -> dict[str, Any]:
    rule = {"when": {"run_date": "2025-02-26"}, "status": "ERRORED"}
    return scenario([project(outcome={"rules": [rule]})])


async def _unfinished_batch_of_march_1(nightly: Path, harness_factory: HarnessFactory) -> Any:
    """A batch started late on March 1st that stopped after its first run failed."""
    report = await harness_factory(_first_fails()).run(
        nightly, settings=_on(MARCH_1_LATE), fail_fast=True
    )
    assert report.counts() == {status.ERRORED: 1, status.SKIPPED: 2}
    return report


async def test_a_batch_records_the_day_it_planned_from(
    nightly: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """The batch's as-of date is the date its dates were resolved against."""
    report = await _unfinished_batch_of_march_1(nightly, harness_factory)

    assert _run_dates(report) == ["2025-02-26", "2025-02-27", "2025-02-28"]
    with StateStore(state_location) as store:
        latest = store.latest_batch("batch")
    assert latest is not None
    assert (latest.as_of, latest.finished) == (dt.date(2025, 3, 1), False)


async def test_a_batch_resumed_after_midnight_plans_the_same_runs(
    nightly: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """Resumed on March 2nd, the batch of March 1st runs what it skipped, Feb 27 and 28,
    instead of being refused as a different plan."""
    await _unfinished_batch_of_march_1(nightly, harness_factory)
    resumed: Harness = harness_factory(scenario([project()]))

    report = await resumed.run(nightly, settings=_on(MARCH_2_EARLY))

    assert _run_dates(report) == ["2025-02-26", "2025-02-27", "2025-02-28"]
    assert report.counts() == {status.ERRORED: 1, status.COMPLETED: 2}
    assert resumed.ledger is not None
    assert [run.params for run in resumed.ledger.runs] == [
        {"run_date": "2025-02-27"},
        {"run_date": "2025-02-28"},
    ]
    with StateStore(state_location) as store:
        (batch,) = store.batches()
        assert store.batch(batch.id).as_of == dt.date(2025, 3, 1)


async def test_an_as_of_other_than_the_batchs_is_a_different_plan(
    nightly: Path, harness_factory: HarnessFactory
) -> None:
    """--as-of naming another day than the unfinished batch's is refused, nothing sent;
    naming the batch's own day resumes it."""
    await _unfinished_batch_of_march_1(nightly, harness_factory)
    refused: Harness = harness_factory(scenario([project()]))
    same: Harness = harness_factory(scenario([project()]))

    with pytest.raises(StateError, match=r"different plan.*--new"):
        await refused.run(nightly, settings=_on(MARCH_2_EARLY), as_of=dt.date(2025, 3, 2))
    report = await same.run(nightly, settings=_on(MARCH_2_EARLY), as_of=dt.date(2025, 3, 1))

    assert refused.ledger is not None
    assert refused.ledger.runs == []
    assert report.counts() == {status.ERRORED: 1, status.COMPLETED: 2}


async def test_a_new_batch_after_midnight_plans_from_the_new_day(
    nightly: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """--new leaves the old batch and its day behind: the new one runs Feb 27 to Mar 1."""
    await _unfinished_batch_of_march_1(nightly, harness_factory)

    report = await harness_factory(scenario([project()])).run(
        nightly, settings=_on(MARCH_2_EARLY), new=True
    )

    assert _run_dates(report) == ["2025-02-27", "2025-02-28", "2025-03-01"]
    with StateStore(state_location) as store:
        assert [store.batch(b.id).as_of for b in store.batches()] == [
            dt.date(2025, 3, 1),
            dt.date(2025, 3, 2),
        ]


async def test_a_finished_batch_is_followed_by_one_of_the_new_day(
    nightly: Path, harness_factory: HarnessFactory
) -> None:
    """Once the night's batch finished, the next night plans from its own today."""
    await harness_factory(scenario([project()])).run(nightly, settings=_on(MARCH_1_LATE))

    report = await harness_factory(scenario([project()])).run(
        nightly, settings=_on(dt.datetime(2025, 3, 2, 23, 0, tzinfo=dt.UTC))
    )

    assert _run_dates(report) == ["2025-02-27", "2025-02-28", "2025-03-01"]


async def test_fixed_dates_record_no_as_of(
    tmp_path: Path, harness_factory: HarnessFactory, state_location: str
) -> None:
    """A batch whose dates never depend on today keeps no as-of date."""
    dates = {"param": "run_date", "start": "2025-02-26", "end": "2025-02-27"}
    path = manifest(tmp_path, [{"id": P1, "dates": dates}])

    await harness_factory(scenario([project()])).run(path, as_of=dt.date(2025, 3, 1))

    with StateStore(state_location) as store:
        (batch,) = store.batches()
        assert store.batch(batch.id).as_of is None


async def test_today_is_the_date_in_the_manifests_zone_when_the_batch_starts(
    tmp_path: Path,
) -> None:
    """At 23:59 UTC on March 1st it is already March 2nd in Paris: run_batch plans Feb 27
    to Mar 1 for a manifest in Europe/Paris; as_of= names the day instead."""
    dates = {**LAST_THREE_DAYS, "timezone": "Europe/Paris"}
    path = manifest(tmp_path, [{"id": P1, "dates": dates}], sim=scenario([project()]))
    options = BatchOptions(simulate=True)

    in_paris = await run_batch(path, options, settings=_on(MARCH_1_LATE))
    named = await run_batch(path, options, settings=_on(MARCH_1_LATE), as_of=dt.date(2025, 1, 1))

    assert _run_dates(in_paris) == ["2025-02-27", "2025-02-28", "2025-03-01"]
    assert _run_dates(named) == ["2024-12-29", "2024-12-30", "2024-12-31"]
