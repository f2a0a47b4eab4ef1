"""hexbatch plan says how long the trigger budget needs and, from history, the makespan."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from hexbatch.cli.plan import plan
from hexbatch.manifest import load_manifest
from hexbatch.plan import build_plan
from hexbatch.state import PlannedRun, StateStore
from tests.state.conftest import T0, new_batch

ID = "5a8591dd-4039-49df-9202-96385ba3eff8"
# Three runs, two at a time, one trigger every 10 s (stretched to 10.2 s).
MANIFEST = f"""\
version: 1
defaults: {{max_in_flight: 2}}
limits:
  triggers: [{{count: 1, per: 10s}}]
projects:
  - id: {ID}
    name: revenue
    matrix: {{region: [eu, us, apac]}}
"""
BOUND_LINE = "3 triggers need at least 20 s at 1 every 10s"


@pytest.fixture(autouse=True)
def _no_state_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEXBATCH_STATE", raising=False)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(click.Group(commands=[plan]), ["plan", *args])


def _record_history(location: Path | str, manifest: Path, seconds: Mapping[int, float]) -> None:
    """An earlier batch of the manifest's plan in which run ``n`` completed in ``seconds[n]``."""
    items = build_plan(load_manifest(manifest, env={})).items
    runs = [
        PlannedRun(item.key, item.project_id, item.project_name, dict(item.params), item.index)
        for item in items
    ]
    with StateStore(str(location)) as store:
        batch = new_batch(store, runs, manifest=str(manifest))
        for n, item in enumerate(items):
            store.record_triggered(batch.id, item.key, 1, f"run-{n}", None, T0)
            if n in seconds:
                store.record_status(
                    batch.id, item.key, 1, "COMPLETED", elapsed_ms=seconds[n] * 1000
                )
            else:
                store.record_status(batch.id, item.key, 1, "ERRORED", elapsed_ms=1.0)
        store.finish_batch(batch.id, T0)


def test_without_a_store_plan_prints_the_trigger_bound_only(manifest: Path) -> None:
    """No state store yet: the bound follows the table, no estimate, and no store is made."""
    result = _invoke(str(manifest))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-2].startswith("3 runs in 1 project, plan ")
    assert lines[-1] == BOUND_LINE
    assert "estimated makespan" not in result.output
    assert not (manifest.parent / ".hexbatch").exists()


def test_history_beside_the_manifest_gives_a_makespan(manifest: Path) -> None:
    """Two runs took 100 s before (the third counts their mean): they start at 0 and
    10.2 s, the third when a worker frees at 100 s, so the batch ends after 200 s."""
    _record_history(manifest.parent / ".hexbatch" / "state.db", manifest, {0: 100.0, 1: 100.0})
    result = _invoke(str(manifest))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        BOUND_LINE,
        "estimated makespan 3 m 20 s with 2 in flight (history for 2 of 3 runs)",
    ]
    assert result.stderr == ""


def test_plan_reads_the_store_named_by_state(manifest: Path, tmp_path: Path) -> None:
    """--state names the store as for run; the default store beside the manifest is not read."""
    elsewhere = tmp_path / "elsewhere" / "history.db"
    _record_history(elsewhere, manifest, {0: 30.0, 1: 30.0, 2: 30.0})
    result = _invoke(str(manifest), "--state", str(elsewhere))
    assert result.exit_code == 0, result.output
    assert "estimated makespan 1 m 00 s with 2 in flight (history for 3 of 3 runs)" in (
        result.stdout
    )
    assert "estimated makespan" not in _invoke(str(manifest)).stdout


def test_plan_reads_the_store_named_by_the_state_variable(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HEXBATCH_STATE names the store when --state is not given, as for run."""
    shared = tmp_path / "shared.db"
    _record_history(shared, manifest, {2: 45.0})
    monkeypatch.setenv("HEXBATCH_STATE", str(shared))
    result = _invoke(str(manifest))
    assert result.exit_code == 0, result.output
    assert "(history for 1 of 3 runs)" in result.stdout


def test_plan_json_has_an_estimate_object(manifest: Path) -> None:
    """--json adds the bound, its binding window, the makespan and the runs with history."""
    result = _invoke(str(manifest), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["estimate"] == {
        "trigger_bound_s": 20.4,
        "binding_window": {"count": 1, "per_s": 10.0},
        "makespan_s": None,
        "runs_with_history": 0,
    }
    _record_history(manifest.parent / ".hexbatch" / "state.db", manifest, {0: 100.0, 1: 100.0})
    estimate = json.loads(_invoke(str(manifest), "--json").stdout)["estimate"]
    assert estimate["makespan_s"] == pytest.approx(200.0)
    assert estimate["runs_with_history"] == 2


def test_an_unreadable_store_costs_the_estimate_not_the_plan(manifest: Path) -> None:
    """A file that is no hexbatch store: the plan and bound print, a note says why no estimate."""
    store = manifest.parent / ".hexbatch" / "state.db"
    store.parent.mkdir()
    store.write_bytes(b"this is not a database" * 100)
    result = _invoke(str(manifest))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == BOUND_LINE
    assert result.stderr.startswith("note: no makespan estimate, the state store is unreadable")
    assert store.read_bytes() == b"this is not a database" * 100


def test_an_unreachable_postgresql_store_costs_the_estimate_not_the_plan(
    manifest: Path,
) -> None:
    """A PostgreSQL server that cannot be reached: a note (password masked), then the plan."""
    url = "postgresql://hexbatch:s3cret-pw@127.0.0.1:1/hexbatch?connect_timeout=2"
    result = _invoke(str(manifest), "--json", "--state", url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["estimate"]["makespan_s"] is None
    assert result.stderr.startswith("note: no makespan estimate")
    assert "s3cret-pw" not in result.stderr
