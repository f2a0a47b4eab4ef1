"""`--rerun` that chooses no run does nothing: no trigger, no new batch, exit 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hexbatch.cli.main import cli
from hexbatch.state import StateStore
from tests.engine.conftest import P1, manifest, project, scenario


def _run(path: Path, state: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        cli,
        [
            "run",
            str(path),
            "--simulate",
            "--state",
            str(state),
            "--no-progress",
            "--log-format",
            "json",
            *extra,
        ],
        env={"GITHUB_STEP_SUMMARY": ""},
    )


def _batch_count(state: Path) -> int:
    with StateStore(state) as store:
        return len(store.batches())


@pytest.mark.parametrize("choice", ["failed", "unknown"])
def test_rerun_of_a_clean_batch_does_nothing(tmp_path: Path, choice: str) -> None:
    """After a batch where every run completed, --rerun failed|unknown triggers nothing."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}], sim=scenario([project()]))
    state = tmp_path / "rr.db"
    assert _run(path, state).exit_code == 0

    result = _run(path, state, "--rerun", choice)

    assert result.exit_code == 0, result.output
    assert "nothing to rerun" in result.stderr
    assert "batch 1" in result.stderr
    assert f"--rerun {choice}" in result.stderr
    assert '"run_triggered"' not in result.stderr
    assert _batch_count(state) == 1


def test_rerun_without_any_batch_does_nothing(tmp_path: Path) -> None:
    """--rerun on a store that holds no batch of the manifest starts none."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}], sim=scenario([project()]))
    state = tmp_path / "empty.db"

    result = _run(path, state, "--rerun", "all")

    assert result.exit_code == 0, result.output
    assert "nothing to rerun" in result.stderr
    assert '"run_triggered"' not in result.stderr
    assert _batch_count(state) == 0


def test_a_plain_run_after_a_clean_batch_still_starts_a_new_one(tmp_path: Path) -> None:
    """Only --rerun does nothing; without it a finished batch is followed by a new one."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}], sim=scenario([project()]))
    state = tmp_path / "rr.db"
    assert _run(path, state).exit_code == 0

    result = _run(path, state)

    assert result.exit_code == 0, result.output
    assert '"run_triggered"' in result.stderr
    assert _batch_count(state) == 2
