"""The example DAG run by Airflow's own ``dag.test()`` against the simulator: the operator
defers, the trigger drives the batch, and the task's state, tries and XCom are Airflow's.

Airflow runs in a child process (it reads its configuration at import, and its metadata
database lives in the test's folder); the simulator serves from this process, so its ledger
tells exactly what Hex was asked to trigger.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

from hexbatch import status
from hexbatch.simulator import Ledger, Scenario, run_simulator
from hexbatch.state import StateStore
from tests.engine.conftest import P1, manifest, project, scenario
from tests.integrations.extras import require

require("airflow")

# Each test starts Airflow in a child process (about 12 s, twice for a retry): more than the
# suite's 60 s per test when the machine is busy. The child's own timeout stays 120 s.
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DAG = ROOT / "configs" / "airflow" / "hexbatch_nightly.py"
RUNNER = Path(__file__).with_name("airflow_runner.py")
LAST_THREE_DAYS = {"param": "run_date", "start": "today-3d", "end": "yesterday", "timezone": "UTC"}
MARCH_2 = "2025-03-02T06:00:00+00:00"


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow metadata database migrated once; each test runs on a copy."""
    home = tmp_path_factory.mktemp("airflow-template")
    env = _airflow_env(home, home / "airflow.db")
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return home / "airflow.db"


def _airflow_env(home: Path, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAG.parent),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "PYTHONPATH": str(ROOT),
        # Airflow imports the example DAG: no bytecode left in configs/.
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return env


class Simulated:
    """The simulator serving from a thread of this process while Airflow runs."""

    def __init__(self, sim: dict[str, Any]) -> None:
        self.scenario = Scenario.from_mapping(sim)
        self.ledger: Ledger | None = None
        self.base_url = ""
        self.token = ""

    def triggers(self) -> Counter[str]:
        """How many times Hex was asked to run each run_date."""
        assert self.ledger is not None
        return Counter(str(run.params.get("run_date")) for run in self.ledger.runs)


@pytest.fixture
def simulator_for() -> Iterator[Any]:
    with start_blocking_portal() as portal, contextlib.ExitStack() as running:

        def start(sim: dict[str, Any]) -> Simulated:
            simulated = Simulated(sim)
            served = portal.wrap_async_context_manager(run_simulator(simulated.scenario))
            handle = running.enter_context(served)
            simulated.ledger = handle.ledger
            simulated.base_url, simulated.token = handle.base_url, handle.token
            return simulated

        yield start


class AirflowRun:
    """One ``dag.test()`` of the example DAG and what Airflow recorded of it."""

    def __init__(self, tmp_path: Path, migrated_db: Path, simulated: Simulated) -> None:
        self.home = tmp_path / "airflow"
        self.home.mkdir()
        self.db = self.home / "airflow.db"
        shutil.copy(migrated_db, self.db)
        self.state = tmp_path / "state.db"
        self.reports = tmp_path / "reports"
        self.env = _airflow_env(self.home, self.db) | {
            "AIRFLOW_CONN_HEX_DEFAULT": json.dumps(
                {"conn_type": "generic", "host": simulated.base_url, "password": simulated.token}
            ),
            "AIRFLOW_VAR_HEXBATCH_STATE": str(self.state),
            "AIRFLOW_VAR_HEXBATCH_REPORTS": str(self.reports),
        }
        self.output = ""

    def run(self, manifest_path: Path, **overrides: Any) -> None:
        """``dag.test()`` of the example DAG, its task's attributes overridden first."""
        self._run(
            manifest_path,
            [sys.executable, str(RUNNER), str(EXAMPLE_DAG), MARCH_2, json.dumps(overrides)],
        )

    def dags_test(self, manifest_path: Path) -> None:
        """``airflow dags test`` of the example DAG, as a user runs it."""
        command = [sys.executable, "-m", "airflow", "dags", "test", "hexbatch_nightly"]
        self._run(manifest_path, [*command, MARCH_2])

    def _run(self, manifest_path: Path, command: list[str]) -> None:
        env = self.env | {"AIRFLOW_VAR_HEXBATCH_MANIFEST": str(manifest_path)}
        done = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.output = done.stdout + done.stderr
        assert done.returncode == 0, self.output[-4000:]

    def task(self) -> tuple[str, int]:
        with sqlite3.connect(self.db) as db:
            row = db.execute("SELECT state, try_number FROM task_instance").fetchone()
        assert row is not None, self.output[-4000:]
        return row[0], row[1]

    def xcom(self, key: str) -> Any:
        with sqlite3.connect(self.db) as db:
            row = db.execute("SELECT value FROM xcom WHERE key = ?", (key,)).fetchone()
        assert row is not None, f"no XCom {key!r}"
        return json.loads(row[0])


def _nightly(tmp_path: Path) -> Path:
    return manifest(tmp_path, [{"id": P1, "dates": LAST_THREE_DAYS}], defaults={"max_in_flight": 1})


def _errored_on(run_date: str, **rule: Any) -> dict[str, Any]:
    when = {"when": {"run_date": run_date}, "status": "ERRORED", **rule}
    return scenario([project(outcome={"rules": [when]})])


def _stored_runs(state: Path) -> dict[str, str]:
    with StateStore(state) as store:
        (only,) = store.batches()
        return {run.key: run.status for run in store.report(only.id).runs}


def test_a_deferred_batch_completes_with_dates_of_the_logical_day(
    tmp_path: Path, migrated_db: Path, simulator_for: Any
) -> None:
    simulated = simulator_for(scenario([project()]))
    airflow = AirflowRun(tmp_path, migrated_db, simulated)

    airflow.dags_test(_nightly(tmp_path))

    assert airflow.task() == ("success", 1)
    assert "running trigger in line" in airflow.output  # the task deferred and resumed
    # today-3d..yesterday of the logical date 2025-03-02, not of the day the test runs.
    assert simulated.triggers() == {"2025-02-27": 1, "2025-02-28": 1, "2025-03-01": 1}
    assert len(airflow.xcom("run_urls")) == 3
    assert Path(airflow.xcom("report_dir")) == (airflow.reports / "2025-03-02").resolve()
    batch = airflow.xcom("batch")
    assert batch["id"] == 1
    assert batch["name"].startswith("batch@manual__")  # one batch per DAG run
    assert (airflow.reports / "2025-03-02").is_dir()


def test_a_run_that_does_not_complete_fails_the_task_with_a_summary(
    tmp_path: Path, migrated_db: Path, simulator_for: Any
) -> None:
    simulated = simulator_for(_errored_on("2025-02-28"))
    airflow = AirflowRun(tmp_path, migrated_db, simulated)

    airflow.run(_nightly(tmp_path), retries=0)

    assert airflow.task() == ("failed", 1)
    assert "batch did not complete: 2 COMPLETED, 1 ERRORED" in airflow.output
    assert simulated.triggers() == {"2025-02-27": 1, "2025-02-28": 1, "2025-03-01": 1}


def test_a_retry_resumes_the_batch_without_triggering_a_run_again(
    tmp_path: Path, migrated_db: Path, simulator_for: Any
) -> None:
    """The first try stops at the first failed run (fail_fast), leaving the batch unfinished;
    the retry resumes it: the failed run gets its new attempt, the rest run once each."""
    simulated = simulator_for(_errored_on("2025-02-27", first_attempts=1))
    airflow = AirflowRun(tmp_path, migrated_db, simulated)

    airflow.run(_nightly(tmp_path), retries=1, retry_delay=0, fail_fast=True)

    assert airflow.task() == ("success", 2)
    assert "batch did not complete: 2 SKIPPED, 1 ERRORED" in airflow.output  # the first try
    assert simulated.triggers() == {"2025-02-27": 2, "2025-02-28": 1, "2025-03-01": 1}
    assert set(_stored_runs(airflow.state).values()) == {status.COMPLETED}


def test_without_deferral_the_worker_drives_the_same_batch(
    tmp_path: Path, migrated_db: Path, simulator_for: Any
) -> None:
    simulated = simulator_for(scenario([project()]))
    airflow = AirflowRun(tmp_path, migrated_db, simulated)

    airflow.run(_nightly(tmp_path), deferrable=False)

    assert airflow.task() == ("success", 1)
    assert "running trigger in line" not in airflow.output
    assert simulated.triggers() == {"2025-02-27": 1, "2025-02-28": 1, "2025-03-01": 1}
    assert set(_stored_runs(airflow.state).values()) == {status.COMPLETED}
    assert len(airflow.xcom("run_urls")) == 3


def test_a_manifest_that_is_not_valid_fails_the_task_before_anything_runs(
    tmp_path: Path, migrated_db: Path, simulator_for: Any
) -> None:
    simulated = simulator_for(scenario([project()]))
    airflow = AirflowRun(tmp_path, migrated_db, simulated)
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nprojects:\n  - id: 42\n", encoding="utf-8")

    airflow.run(broken, retries=1, retry_delay=0)

    assert airflow.task() == ("failed", 1)  # not retried: it would be refused the same way
    assert "running trigger in line" not in airflow.output
    assert "broken.yaml" in airflow.output
    assert simulated.triggers() == {}


def test_the_trigger_serialises_to_plain_data_without_the_token() -> None:
    from hexbatch.integrations.airflow import HexBatchTrigger

    trigger = HexBatchTrigger(
        hex_conn_id="hex_nightly", manifest="m.yaml", state="s.db", as_of="2025-03-02"
    )
    classpath, kwargs = trigger.serialize()

    assert classpath == "hexbatch.integrations.airflow.HexBatchTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert HexBatchTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert set(kwargs) == {
        "hex_conn_id", "manifest", "state", "as_of", "skip_completed", "report_dir", "fail_fast",
        "batch_name", "batch_id",
    }  # fmt: skip


def test_a_retry_after_a_failed_batch_triggers_only_its_failed_run_again(
    tmp_path: Path, migrated_db: Path, simulator_for: Any
) -> None:
    """A batch that ended with a failed run: the retry reopens the same batch and gives
    that run, and only it, a new attempt."""
    simulated = simulator_for(_errored_on("2025-02-28"))
    airflow = AirflowRun(tmp_path, migrated_db, simulated)

    airflow.run(_nightly(tmp_path), retries=1, retry_delay=0)

    assert airflow.task() == ("failed", 2)
    assert simulated.triggers() == {"2025-02-27": 1, "2025-02-28": 2, "2025-03-01": 1}
    assert Counter(_stored_runs(airflow.state).values()) == {
        status.COMPLETED: 2,
        status.ERRORED: 1,
    }
