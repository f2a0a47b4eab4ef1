"""Batches under leases: two manifests share a store, one batch has one driver, and a
driver that loses its lease triggers nothing more (each state backend)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from hexbatch import status
from hexbatch.batch import BatchOptions, BatchRun
from hexbatch.manifest import ManifestError, load_manifest
from hexbatch.resume import StoreJournal
from hexbatch.simulator import Scenario, run_simulator
from hexbatch.state import LeaseHeldError, StateStore
from hexbatch.state.leases import Claimant
from tests.engine.conftest import P1, P2, fast_settings, manifest, project, scenario


def _manifest(folder: Path, name: str, pid: str, runs: int) -> Path:
    folder.mkdir()
    path = manifest(
        folder,
        [{"id": pid, "runs": [{"n": n} for n in range(runs)]}],
        defaults={"max_in_flight": 1},
    )
    return path.rename(folder / f"{name}.yaml")


def _batch(path: Path, served: Any, state: str, **options: Any) -> BatchRun:
    return BatchRun(
        path,
        BatchOptions(
            base_url=served.base_url, env={"HEX_API_TOKEN": served.token}, state=state, **options
        ),
        fast_settings(),
    )


async def test_two_manifests_run_side_by_side_on_one_store(
    tmp_path: Path, state_location: str
) -> None:
    """A nightly sweep and a backfill share a store and run at the same time to the end."""
    nightly = _manifest(tmp_path / "a", "nightly", P1, 3)
    backfill = _manifest(tmp_path / "b", "backfill", P2, 4)
    reports = {}
    async with run_simulator(Scenario.from_mapping(scenario([project(P1), project(P2)]))) as sim:

        async def drive(path: Path) -> None:
            reports[path.stem] = await _batch(path, sim, state_location).execute()

        async with anyio.create_task_group() as group:
            group.start_soon(drive, nightly)
            group.start_soon(drive, backfill)

    assert {name: report.ok for name, report in reports.items()} == {
        "nightly": True,
        "backfill": True,
    }
    with StateStore(state_location) as store:
        names = sorted(store.batch(b.id).name for b in store.batches())
        assert names == ["backfill", "nightly"]
        assert (store.lease("nightly"), store.lease("backfill")) == (None, None)


async def test_a_batch_driven_elsewhere_is_refused_before_anything_is_sent(
    tmp_path: Path, state_location: str
) -> None:
    """The lease is taken before the batch is opened: a live holder means exit 2, no request."""
    path = _manifest(tmp_path / "a", "nightly", P1, 2)
    with StateStore(state_location) as store:
        store.take_lease("nightly", Claimant("ci-3", 88, timedelta(seconds=30)))
    async with run_simulator(Scenario.from_mapping(scenario([project(P1)]))) as sim:
        with pytest.raises(LeaseHeldError, match="process 88 on host ci-3"):
            await _batch(path, sim, state_location).execute()
        assert sim.ledger.runs == []
    with StateStore(state_location) as store:
        assert store.batches() == []


async def test_a_driver_that_loses_its_lease_triggers_nothing_more(
    tmp_path: Path, state_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taken over after its first trigger (a partition outlived its TTL), the driver follows
    the run it started but sends no other trigger, and says why."""
    path = _manifest(tmp_path / "a", "nightly", P1, 3)
    triggered = StoreJournal.record_triggered

    def then_taken_over(journal: StoreJournal, *args: Any, **kwargs: Any) -> None:
        triggered(journal, *args, **kwargs)
        journal.store.database.execute(
            "UPDATE leases SET holder = 'new', host = 'ci-9', pid = 5 WHERE name = 'nightly'",
            (),
            durable=True,
            doing="",
        )

    monkeypatch.setattr(StoreJournal, "record_triggered", then_taken_over)
    async with run_simulator(Scenario.from_mapping(scenario([project(P1)]))) as sim:
        report = await _batch(path, sim, state_location).execute()
        created = len(sim.ledger.runs)

    assert created == 1
    assert [run.status for run in report.runs] == [
        status.COMPLETED,
        status.SKIPPED,
        status.SKIPPED,
    ]
    assert "process 5 on host ci-9 took it over" in (report.runs[1].error or "")


def test_the_lease_ttl_comes_from_the_options_the_manifest_or_the_default(tmp_path: Path) -> None:
    """--lease-ttl-like options win over the manifest's lease_ttl:, which wins over 30 s; a
    TTL too short to outlive a slow database is a manifest error with its line."""
    path = tmp_path / "nightly.yaml"
    path.write_text(f"version: 1\nlease_ttl: 2m\nprojects:\n  - id: {P1}\n", "utf-8")
    loaded = load_manifest(path, env={})
    plain = load_manifest(_manifest(tmp_path / "p", "plain", P1, 1), env={})

    assert BatchOptions().lease_ttl_s(loaded) == 120
    assert BatchOptions(lease_ttl=45).lease_ttl_s(loaded) == 45
    assert BatchOptions().lease_ttl_s(plain) == 30
    path.write_text(f"version: 1\nlease_ttl: 1s\nprojects:\n  - id: {P1}\n", "utf-8")
    with pytest.raises(ManifestError, match=r"nightly.yaml:2.*lease_ttl.*at least 5s"):
        load_manifest(path, env={})
