"""The live report and the stored one agree; a store that stops accepting writes loses nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from hexbatch.cli.main import cli
from hexbatch.cli.state import report
from hexbatch.state import StateError, StateStore
from tests.engine.conftest import P1, P2, manifest, project, scenario
from tests.state.simulated import QUICK, TOKEN, serve


def _invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"GITHUB_STEP_SUMMARY": "", **(env or {})})


def test_run_json_and_the_stored_report_are_the_same_document(tmp_path: Path) -> None:
    """A batch with a timeout, a failure and a retry: `run --json` equals `hexbatch report`
    field for field, attempt errors and the (absolute) manifest path included."""
    flaky = {"when": {"n": 2}, "status": "UNABLE_TO_ALLOCATE_KERNEL", "first_attempts": 1}
    failing = {"when": {"n": 3}, "status": "ERRORED"}
    sim = scenario([project(outcome={"rules": [flaky, failing]}), project(P2, duration=100000)])
    path = manifest(
        tmp_path,
        [
            {"id": P1, "name": "main", "runs": [{"n": 1}, {"n": 2}, {"n": 3}]},
            {"id": P2, "name": "slow", "timeout": "300ms", "runs": [{"m": 1}]},
        ],
        sim=sim,
        defaults={"retries": {"attempts": 1, "on": ["UNABLE_TO_ALLOCATE_KERNEL"]}},
    )
    state = tmp_path / "st.db"
    live_path = tmp_path / "live.json"

    ran = _invoke(
        "run",
        str(path),
        "--simulate",
        "--state",
        str(state),
        "--no-progress",
        "--json",
        str(live_path),
    )
    stored = CliRunner().invoke(report, [str(state)])

    assert ran.exit_code == 1, ran.output
    live = json.loads(live_path.read_text())
    assert live == json.loads(stored.stdout)
    statuses = {run["status"] for run in live["runs"]}
    assert statuses == {"COMPLETED", "ERRORED", "TIMED_OUT"}
    timed_out = next(run for run in live["runs"] if run["status"] == "TIMED_OUT")
    assert "timeout" in timed_out["attempts"][-1]["error"]
    assert max(len(run["attempts"]) for run in live["runs"]) == 2
    assert live["manifest"] == str(path.resolve())


def _quick_manifest(tmp_path: Path, runs: int = 3) -> Path:
    path = tmp_path / "m.yaml"
    document = {
        "version": 1,
        "defaults": {"timeout": "30s", "poll": {"initial": "10ms", "max": "50ms"}},
        "projects": [{"id": QUICK, "name": "quick", "runs": [{"n": n} for n in range(runs)]}],
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _run_args(path: Path, base_url: str, state: Path) -> list[str]:
    """``hexbatch run`` of ``path`` against ``base_url`` with ``state``, logging JSON."""
    return [
        "run",
        str(path),
        "--base-url",
        base_url,
        "--state",
        str(state),
        "--no-progress",
        "--log-format",
        "json",
    ]


def _fail_after_triggers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write but the two a trigger needs fails as a full disk does."""

    def full(*args: object, **kwargs: object) -> None:
        raise StateError("state.db failed: database or disk is full")

    for name in ("record_status", "record_final", "record_requests", "finish_batch"):
        monkeypatch.setattr(StateStore, name, full)


def test_a_store_that_stops_accepting_writes_keeps_the_batch_going(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes failing mid-batch: the runs are followed to their end, the report is written from
    memory, one warning, exit 1 (never 2), no traceback; the rerun resumes and triggers nothing."""
    path = _quick_manifest(tmp_path)
    state = tmp_path / "st.db"
    with serve(tmp_path) as sim:
        args = _run_args(path, sim.base_url, state)
        with monkeypatch.context() as patched:
            _fail_after_triggers(patched)
            first = _invoke(
                *args, "--json", str(tmp_path / "first.json"), env={"HEX_API_TOKEN": TOKEN}
            )
        second = _invoke(
            *args, "--json", str(tmp_path / "second.json"), env={"HEX_API_TOKEN": TOKEN}
        )
        created = len(sim.ledger.runs)

    assert first.exit_code == 1, first.output
    assert "Traceback" not in first.output
    assert first.stderr.count('"state_write_failed"') == 1
    assert "run the same command again" in first.stderr
    assert json.loads((tmp_path / "first.json").read_text())["counts"] == {"COMPLETED": 3}
    assert second.exit_code == 0, second.output
    assert '"run_triggered"' not in second.stderr
    assert created == 3
    with StateStore(state) as store:
        (batch,) = store.batches()
    assert batch.finished_at is not None
    assert batch.counts == {"COMPLETED": 3}


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")


def _fill(folder: Path) -> Path:
    filler = folder / "fill"
    # Unbuffered, so closing the file cannot fail on data still waiting in a buffer.
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_a_really_full_disk_mid_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tmpfs filled once every run id is recorded (statuses, finals and counts then fail):
    exit 1, no traceback, the report is written elsewhere; once space is back the rerun
    finishes without triggering anything again."""
    disk = tmp_path / "small"
    _mount_tmpfs(disk, "2m")
    try:
        path = _quick_manifest(tmp_path)
        state = disk / "s.db"
        original = StateStore.record_triggered
        filled: list[Path] = []
        recorded: list[object] = []

        def then_fill(self: StateStore, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            recorded.append(args)
            if len(recorded) == 3:
                filled.append(_fill(disk))

        with serve(tmp_path) as sim:
            args = _run_args(path, sim.base_url, state)
            with monkeypatch.context() as patched:
                patched.setattr(StateStore, "record_triggered", then_fill)
                first = _invoke(
                    *args, "--json", str(tmp_path / "full.json"), env={"HEX_API_TOKEN": TOKEN}
                )
            assert filled, first.output + first.stderr[-3000:]
            filled[0].unlink()
            second = _invoke(*args, env={"HEX_API_TOKEN": TOKEN})
            created = len(sim.ledger.runs)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)
    assert first.exit_code == 1, first.output
    assert "Traceback" not in first.output
    assert (tmp_path / "full.json").exists()
    assert '"state_write_failed"' in first.stderr
    assert second.exit_code == 0, second.output
    assert '"run_triggered"' not in second.stderr
    assert created == 3
