"""The store benchmark's generator and measurements still work at a tiny size.

They check what the generated store holds and that every step reads it correctly, never
timings (those belong to the benchmark).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench._history import fill_sqlite, write_manifest
from bench.bench_store import postgres_figures, sqlite_figures
from hexbatch.state import PLANNED, StateStore

# Ten runs a night (one per project); run 7 is retried every finished night, and the
# unfinished night stopped with five runs done, one running and one trigger unanswered.
ATTEMPTS_OF_THREE_NIGHTS = 2 * 11 + 7


def test_the_generated_history_reads_back_through_the_store(tmp_path: Path) -> None:
    """Finished nights hold every run settled, a retry and a failure; the latest stopped
    half-way: runs done, in flight and planned."""
    manifest, plan = write_manifest(tmp_path, 60)
    sweep = fill_sqlite(tmp_path / "state.db", manifest, plan, 3)

    with StateStore(tmp_path / "state.db") as store:
        first, _, latest = store.batches()
        runs = store.runs(latest.id)
        retried = store.runs(first.id)[7]

    assert (sweep.batches, len(plan.items)) == (3, 60)
    assert first.counts == {"ERRORED": 1, "COMPLETED": 59}
    assert first.finished_at is not None
    assert latest.finished_at is None
    assert latest.counts == {
        "ERRORED": 1,
        "UNKNOWN": 1,
        "COMPLETED": 29,
        "RUNNING": 3,
        PLANNED: 26,
    }
    assert [a.status for a in retried.attempts] == ["UNABLE_TO_ALLOCATE_KERNEL", "COMPLETED"]
    assert runs[0].attempts[0].state_events is not None
    run_ids = [a.run_id for run in runs for a in run.attempts]
    assert len(set(run_ids) - {None}) == 30 + 2 + 3  # done, a retried run's first try, running
    unsettled = runs[33].attempts[0]
    assert unsettled.run_id is None
    assert unsettled.seen_before is not None
    assert len(unsettled.seen_before) == 35


def test_every_step_runs_on_sqlite_without_scanning_attempts_or_runs(tmp_path: Path) -> None:
    """At three nights of ten runs, every step answers, and no read of the steps scans the
    attempts or runs tables (SQLite plans without statistics, so this holds at any size)."""
    figures = sqlite_figures(tmp_path, batches=3, runs=10, cli=False)

    assert (figures["batches"], figures["runs_per_batch"]) == (3, 10)
    assert figures["attempts"] == ATTEMPTS_OF_THREE_NIGHTS
    assert figures["full_scans"] == {}
    assert set(figures["resume_parts_s"]) == {"lease_s", "open_batch_s", "durations_s", "claimed_s"}
    assert set(figures["whole_store_s"]) == {
        "every_run_id",
        "every_duration",
        "every_batch_count",
    }


@pytest.mark.postgres
def test_every_step_runs_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """The same at three nights on PostgreSQL (whose plans for a few rows scan anyway)."""
    figures = postgres_figures(tmp_path, postgres_url, batches=3, runs=10)

    assert figures["attempts"] == ATTEMPTS_OF_THREE_NIGHTS
    assert figures["store_mib"] > 0
    assert set(figures["whole_store_s"]) == {
        "every_run_id",
        "every_duration",
        "every_batch_count",
    }
