"""--skip-completed: a growing nightly backfill triggers only what never completed before
(each state backend)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from hexbatch import status
from hexbatch.batch import BatchOptions, BatchRun
from hexbatch.cli.main import cli
from hexbatch.outcome import BatchReport
from hexbatch.report.junit import junit_outcome
from hexbatch.simulator import Scenario, run_simulator
from hexbatch.state import StateStore
from tests.engine.conftest import P1, fast_settings, manifest, project, scenario
from tests.state.conftest import new_batch, planned

FAILS_N1 = scenario([project(outcome={"rules": [{"when": {"n": 1}, "status": "ERRORED"}]})])
ALL_PASS = scenario([project()])


async def _night(
    path: Path, sim: dict[str, Any], state: str, **options: Any
) -> tuple[BatchReport, list[dict[str, Any]]]:
    async with run_simulator(Scenario.from_mapping(sim)) as served:
        run = BatchRun(
            path,
            BatchOptions(
                base_url=served.base_url,
                env={"HEX_API_TOKEN": served.token},
                state=state,
                **options,
            ),
            fast_settings(),
        )
        report = await run.execute()
        return report, [dict(r.params) for r in served.ledger.runs]


async def test_a_second_night_triggers_exactly_the_never_completed_keys(
    tmp_path: Path, state_location: str
) -> None:
    """Night one: n=0..2, n=1 fails. Night two adds n=3: only n=1 and n=3 are triggered; the
    others are ALREADY_COMPLETED naming batch 1, and the night counts as a success."""
    first = manifest(tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(3)]}])
    night_one, _ = await _night(first, FAILS_N1, state_location)
    grown = manifest(tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(4)]}])

    night_two, triggered = await _night(grown, ALL_PASS, state_location, skip_completed=True)

    assert [run.status for run in night_one.runs] == ["COMPLETED", "ERRORED", "COMPLETED"]
    assert sorted(params["n"] for params in triggered) == [1, 3]
    by_n = {run.params["n"]: run for run in night_two.runs}
    assert {n: run.status for n, run in by_n.items()} == {
        0: status.ALREADY_COMPLETED,
        1: status.COMPLETED,
        2: status.ALREADY_COMPLETED,
        3: status.COMPLETED,
    }
    assert by_n[0].error == "completed in batch 1"
    assert by_n[0].attempts == []
    assert night_two.ok
    with StateStore(state_location) as store:
        stored = store.report(store.batches()[-1].id)
    assert [run.status for run in stored.runs] == [run.status for run in night_two.runs]
    assert junit_outcome(status.ALREADY_COMPLETED) == "skipped"


async def test_without_the_flag_every_run_is_triggered_again(
    tmp_path: Path, state_location: str
) -> None:
    """A finished batch is followed by a new one that runs everything, as before."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(2)]}])
    await _night(path, ALL_PASS, state_location)

    report, triggered = await _night(path, ALL_PASS, state_location)

    assert len(triggered) == 2
    assert report.counts() == {"COMPLETED": 2}


def test_completed_before_names_the_newest_earlier_batch(state_location: str) -> None:
    """Only COMPLETED attempts of batches older than the one asking count; the newest wins."""
    with StateStore(state_location) as store:
        one, two, three = (new_batch(store, planned(3)) for _ in range(3))
        for batch in (one, two):
            store.record_status(batch.id, "k0", 1, "COMPLETED")
        store.record_status(one.id, "k1", 1, "ERRORED")
        store.record_status(three.id, "k2", 1, "COMPLETED")

        assert store.completed_before(["k0", "k1", "k2", "nope"], three.id) == {"k0": two.id}
        assert store.completed_before(["k0"], two.id) == {"k0": one.id}


def test_plan_shows_what_run_would_skip(tmp_path: Path, state_location: str) -> None:
    """plan --skip-completed counts the runs already completed and lists them in JSON."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(3)]}])
    plan_json = json.loads(CliRunner().invoke(cli, ["plan", str(path), "--json"]).output)
    keys = [item["key"] for item in plan_json["runs"]]
    with StateStore(state_location) as store:
        info = new_batch(store, planned(0))
        store.database.execute(
            "INSERT INTO runs (batch_id, key, position, project_id, project, params)"
            " VALUES (?, ?, 0, ?, 'p', '{}')",
            (info.id, keys[2], P1),
            durable=True,
            doing="",
        )
        store.record_status(info.id, keys[2], 1, "COMPLETED", elapsed_ms=1000.0)

    text = CliRunner().invoke(
        cli, ["plan", str(path), "--state", state_location, "--skip-completed"]
    )
    as_json = CliRunner().invoke(
        cli, ["plan", str(path), "--state", state_location, "--skip-completed", "--json"]
    )

    assert text.exit_code == 0, text.output
    assert "--skip-completed: 1 run already completed in earlier batches, 2 runs to trigger" in (
        text.output
    )
    assert json.loads(as_json.output)["already_completed"] == {keys[2]: info.id}


def test_skip_completed_needs_a_state_store(tmp_path: Path) -> None:
    """Without state (a dry run, or a simulated batch without --state) the flag is refused."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 0}]}])

    dry = CliRunner().invoke(cli, ["run", str(path), "--dry-run", "--skip-completed"])
    simulated = CliRunner().invoke(cli, ["run", str(path), "--simulate", "--skip-completed"])

    assert (dry.exit_code, simulated.exit_code) == (2, 2)
    assert "--dry-run keeps no state" in dry.output
    assert "--skip-completed" in simulated.output


async def test_rerun_failed_never_triggers_a_run_already_completed(
    tmp_path: Path, state_location: str
) -> None:
    """A run settled ALREADY_COMPLETED succeeded (in an earlier batch): ``--rerun failed``
    gives a new attempt to the run that failed, and to it only."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(3)]}])
    await _night(path, ALL_PASS, state_location)
    grown = manifest(tmp_path, [{"id": P1, "runs": [{"n": n} for n in range(4)]}])
    await _night(
        grown,
        scenario([project(outcome={"rules": [{"when": {"n": 3}, "status": "ERRORED"}]})]),
        state_location,
        skip_completed=True,
    )

    report, triggered = await _night(grown, ALL_PASS, state_location, rerun="failed")

    assert [params["n"] for params in triggered] == [3]
    assert [run.status for run in report.runs] == [status.ALREADY_COMPLETED] * 3 + ["COMPLETED"]
