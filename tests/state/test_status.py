"""hexbatch status: a batch's progress, read from its state store alone."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from hexbatch.batch_status import batch_status
from hexbatch.cli.main import cli
from hexbatch.outcome import iso
from hexbatch.state import StateStore
from hexbatch.state.leases import Claimant
from tests.state.conftest import T0, at, new_batch, planned


def _half_done(path: str) -> tuple[int, datetime]:
    """An earlier batch took 60 s per run; this one has k0 done, k1 running, k2 waiting."""
    with StateStore(path) as store:
        earlier = new_batch(store, started_at=T0 - timedelta(days=1))
        for n in range(3):
            store.record_triggered(earlier.id, f"k{n}", 1, f"old{n}", None, T0)
            store.record_status(earlier.id, f"k{n}", 1, "COMPLETED", elapsed_ms=60_000.0)
        store.finish_batch(earlier.id, T0)
        batch = new_batch(store, planned(3))
        store.record_triggered(batch.id, "k0", 1, "r0", None, at(0))
        store.record_status(batch.id, "k0", 1, "COMPLETED", elapsed_ms=60_000.0)
        store.record_final(batch.id, "k0", "COMPLETED")
        store.record_triggered(batch.id, "k1", 1, "r1", None, at(60))
        store.record_status(batch.id, "k1", 1, "RUNNING")
    return batch.id, at(80)


def test_progress_live_runs_and_the_estimate(state: str) -> None:
    """Counts per status, the live run with its age, and an end: k1 needs 40 s more,
    then k2 its 60 s with one run at a time."""
    path = state
    batch_id, now = _half_done(path)

    with StateStore(path) as store:
        found = batch_status(store, batch_id, now)

    assert found.counts == {"COMPLETED": 1, "RUNNING": 1, "PLANNED": 1}
    (live,) = found.live
    assert (live.key, live.run_id, live.status, live.age_s(now)) == ("k1", "r1", "RUNNING", 20.0)
    assert found.estimated_end == now + timedelta(seconds=100)
    document = found.to_json(now)
    assert document["schema"] == "hexbatch.status/1"
    assert document["live"][0]["age_s"] == 20.0


def test_the_command_prints_text_or_json_from_the_environments_store(state: str) -> None:
    """STATE defaults to HEXBATCH_STATE; --json prints the document; without either, exit 2."""
    path = state
    batch_id, _ = _half_done(path)
    runner = CliRunner()

    text = runner.invoke(cli, ["status"], env={"HEXBATCH_STATE": path})
    as_json = runner.invoke(cli, ["status", path, "--json"])
    missing = runner.invoke(cli, ["status"], env={"HEXBATCH_STATE": ""})

    assert text.exit_code == 0, text.output
    assert f"batch {batch_id} (sweep): 3 runs" in text.output
    assert "COMPLETED 1, RUNNING 1, PLANNED 1" in text.output
    assert "live revenue[run_date=2025-01-02,n=1] RUNNING r1" in text.output
    assert json.loads(as_json.output)["counts"]["RUNNING"] == 1
    assert missing.exit_code == 2
    assert "HEXBATCH_STATE" in missing.output


def test_watch_refreshes_until_the_batch_finishes(
    state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--watch reads the store again after each interval and stops once it is finished."""
    path = state
    batch_id, _ = _half_done(path)
    waits: list[float] = []

    def the_batch_moves_on(seconds: float) -> None:
        waits.append(seconds)
        with StateStore(path) as store:
            store.finish_batch(batch_id, at(200))

    monkeypatch.setattr("hexbatch.cli.state.time.sleep", the_batch_moves_on)
    result = CliRunner().invoke(cli, ["status", path, "--watch", "--interval", "1"])

    assert result.exit_code == 0, result.output
    assert waits == [1.0]
    assert "running for" in result.output
    assert result.output.rstrip().count("batch ") == 2
    assert "finished" in result.output


def test_the_time_triggers_waited_for_quota_is_shown(state: str) -> None:
    """The store keeps each trigger's quota wait; status adds them up."""
    batch_id, now = _half_done(state)
    with StateStore(state) as store:
        store.record_intent(batch_id, "k2", 1, at(70), quota_wait_ms=95_000.0)
        store.record_intent(batch_id, "k1", 1, at(60), quota_wait_ms=30_500.0)
        found = batch_status(store, batch_id, now)
        stored = {run.key: run for run in store.runs(batch_id)}
    text = CliRunner().invoke(cli, ["status", state])

    assert stored["k2"].attempts[0].quota_wait_ms == 95_000.0
    assert found.quota_wait_s == 125.5
    assert found.to_json(now)["quota_wait_s"] == 125.5
    assert "triggers waited 2m06s for quota" in text.output


def test_the_lease_holder_and_its_heartbeat_are_shown(state: str) -> None:
    """Who drives the batch, on which host, since when, and how long ago it was last heard."""
    batch_id, _ = _half_done(state)
    with StateStore(state) as store:
        lease, _ = store.take_lease("sweep", Claimant("ci-7", 311, timedelta(seconds=30)))
        now = lease.heartbeat_at + timedelta(seconds=12)
        found = batch_status(store, batch_id, now)
    text = CliRunner().invoke(cli, ["status", state])

    assert found.lease == lease
    assert found.to_json(now)["lease"] == {
        "host": "ci-7",
        "pid": 311,
        "started_at": iso(lease.started_at),
        "heartbeat_at": iso(lease.heartbeat_at),
        "heartbeat_age_s": 12.0,
    }
    assert text.exit_code == 0, text.output
    assert f"driven by process 311 on ci-7 since {iso(lease.started_at)}" in text.output
    assert "last heartbeat" in text.output


def test_the_live_view_model_comes_from_the_store(state: str) -> None:
    """Per-project rows and failures, as the store shows them, for ``status --watch``."""
    batch_id, now = _half_done(state)
    with StateStore(state) as store:
        store.record_triggered(batch_id, "k2", 1, "r2", None, at(70))
        store.record_status(batch_id, "k2", 1, "ERRORED")
        store.record_final(batch_id, "k2", "ERRORED", "cell 3 raised\nTraceback ...")
        view = batch_status(store, batch_id, now).view(now)

    assert view.total == 3
    assert view.finished == {"COMPLETED": 1, "ERRORED": 1}
    assert view.elapsed == (now - T0).total_seconds()
    (row,) = view.projects
    assert (row.total, row.completed, row.failed, row.live, row.waiting) == (3, 1, 1, 1, 0)
    (failure,) = view.failures
    assert (failure.status, failure.error) == ("ERRORED", "cell 3 raised")
    assert view.failed_count == 1
    assert not view.done


def test_watch_on_a_terminal_draws_the_live_view(
    state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal --watch redraws the run view until the batch finishes, and keeps it."""
    batch_id, _ = _half_done(state)

    def the_batch_moves_on(_seconds: float) -> None:
        with StateStore(state) as store:
            store.finish_batch(batch_id, at(200))

    monkeypatch.setattr("hexbatch.cli.state.time.sleep", the_batch_moves_on)
    result = CliRunner().invoke(
        cli,
        ["status", state, "--watch", "--interval", "1"],
        env={"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "80", "LINES": "24"},
    )

    assert result.exit_code == 0, result.output
    assert "batch running  1/3 finished" in result.output
    assert "batch finished  1/3 finished" in result.output
    assert "project               done  fail  live  wait" in result.output
    assert "running for" not in result.output  # the text report is for non-terminals
