"""Fixtures for the state store tests: a fresh store, a small plan and a batch made from it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from hexbatch.state import BatchInfo, PlannedRun, StateStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MANIFEST = "/data/sweep.yaml"
PROJECT = "5a8591dd-4039-49df-9202-96385ba3eff8"


def at(seconds: float) -> datetime:
    """The moment ``seconds`` after the test epoch."""
    return T0 + timedelta(seconds=seconds)


def planned(count: int = 3, project_id: str = PROJECT) -> list[PlannedRun]:
    """``count`` planned runs of one project, keyed k0, k1, ..."""
    return [
        PlannedRun(
            key=f"k{index}",
            project_id=project_id,
            project="revenue",
            params={"run_date": f"2025-01-{index + 1:02d}", "n": index},
            index=index,
        )
        for index in range(count)
    ]


def new_batch(
    store: StateStore,
    runs: list[PlannedRun] | None = None,
    *,
    manifest: str = MANIFEST,
    started_at: datetime = T0,
    base_url: str = "https://app.hex.tech/api/v1",
    as_of: date | None = None,
    selection: str | None = None,
) -> BatchInfo:
    """Create a batch of ``runs`` (three by default) in ``store``."""
    return store.create_batch(
        manifest=manifest,
        manifest_hash="m-hash",
        plan_hash="p-hash",
        base_url=base_url,
        token_env="HEX_API_TOKEN",
        hexbatch_version="0.1.0",
        runs=planned() if runs is None else runs,
        started_at=started_at,
        as_of=as_of,
        selection=selection,
    )


def age_lease(store: StateStore, name: str, seconds: float) -> None:
    """Make a lease's last heartbeat ``seconds`` old, as if its holder had gone quiet then."""
    then = (store.database.now() - timedelta(seconds=seconds)).isoformat()
    store.database.execute(
        "UPDATE leases SET heartbeat_at = ? WHERE name = ?", (then, name), durable=True, doing=""
    )


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    """Where the test's store lives (its folder does not exist yet)."""
    return tmp_path / ".hexbatch" / "state.db"


@pytest.fixture
def state(state_location: str) -> str:
    """A fresh store's location, once per backend (see ``state_location``)."""
    return state_location


@pytest.fixture
def store(state: str) -> Iterator[StateStore]:
    """A fresh store (on each backend), closed after the test."""
    with StateStore(state) as opened:
        yield opened


@pytest.fixture
def batch(store: StateStore) -> BatchInfo:
    """A batch of three planned runs, nothing triggered yet."""
    return new_batch(store)
