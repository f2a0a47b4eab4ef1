"""The Dagster asset of configs/dagster/definitions.py, materialized by real Dagster against
the simulator: partition keys anchor the manifest's relative dates, each run's link and
status reach the materialization, a failed run fails the step, and a retry triggers only
what never completed."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.integrations.extras import require

dg = require("dagster")

from tests.crash.conftest import Simulator  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "configs" / "dagster"
TOKEN = "hxtp_dagster_tests"
REVENUE = "5a8591dd-4039-49df-9202-96385ba3eff8"
SCENARIO = f"""
seed: 3
time_scale: 0.01
tokens: [{{value: {TOKEN}, name: dagster}}]
limits: {{requests: [{{count: 100000, per: 60}}]}}
projects:
  - id: {REVENUE}
    title: Daily revenue
    pending: 1
    duration: {{min: 10, max: 30}}
    outcome:
      default: COMPLETED
      rules:
        - when: {{run_date: "2025-02-10"}}
          status: ERRORED
        - when: {{run_date: "2025-02-27"}}
          status: ERRORED
          first_attempts: 1
"""


@pytest.fixture(scope="module")
def hex_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    scenario = tmp_path_factory.mktemp("scenario") / "scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    simulator = Simulator(scenario)
    yield simulator
    simulator.stop()


@pytest.fixture
def definitions(tmp_path: Path, hex_sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example definitions, loaded from a copy whose manifest polls at the simulator's
    pace (its runs last a fraction of a second), with the token, the simulator and a state
    store in the environment, as a deployment gives them."""
    folder = tmp_path / "dagster"
    shutil.copytree(EXAMPLE, folder)
    manifest = folder / "daily-revenue.yaml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace("defaults:\n", "defaults:\n  poll: {initial: 20ms, max: 100ms}\n")
    manifest.write_text(text + "limits: {requests: [{count: 6000, per: 1m}]}\n", encoding="utf-8")
    monkeypatch.setenv("HEX_API_TOKEN", TOKEN)
    monkeypatch.setenv("HEX_API_BASE_URL", hex_sim.base_url)
    monkeypatch.setenv("HEXBATCH_STATE", str(tmp_path / "state.db"))
    spec = importlib.util.spec_from_file_location(
        f"definitions_{tmp_path.name}", folder / "definitions.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _materialize(definitions: ModuleType, partition: str) -> Any:
    return dg.materialize(
        [definitions.daily_revenue],
        resources=definitions.defs.resources,
        partition_key=partition,
        raise_on_error=False,
    )


def _triggered(sim: Simulator, *dates: str) -> Counter[str]:
    """How many runs Hex holds for each of ``dates``."""
    runs = sim.ledger()["runs"]
    return Counter(r["params"]["run_date"] for r in runs if r["params"]["run_date"] in dates)


def _metadata(result: Any) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node("daily_revenue")
    return {key: value.value for key, value in materialization.metadata.items()}


def test_a_partition_runs_the_days_before_its_key_and_reports_each_run(
    definitions: ModuleType, hex_sim: Simulator
) -> None:
    result = _materialize(definitions, "2025-03-05")

    assert result.success
    assert _triggered(hex_sim, "2025-03-03", "2025-03-04") == {"2025-03-03": 1, "2025-03-04": 1}
    metadata = _metadata(result)
    assert metadata["statuses"] == {"COMPLETED": 2}
    assert metadata["ok"] is True
    urls = metadata["run_urls"]
    assert len(urls) == 2
    for url in urls.values():
        assert url in metadata["runs"]
    assert metadata["runs"].count("| COMPLETED |") == 2
    assert "run_date=2025-03-03" in metadata["runs"]

    again = _materialize(definitions, "2025-03-05")

    assert again.success
    assert _metadata(again)["statuses"] == {"ALREADY_COMPLETED": 2}
    assert _triggered(hex_sim, "2025-03-03", "2025-03-04") == {"2025-03-03": 1, "2025-03-04": 1}


def test_the_retry_triggers_only_the_run_that_failed(
    definitions: ModuleType, hex_sim: Simulator
) -> None:
    """Partition 2025-03-01 runs Feb 27 (fails the first time) and Feb 28: the step fails,
    Dagster retries it, and the retry triggers Feb 27 alone."""
    result = _materialize(definitions, "2025-03-01")

    assert result.success
    assert _triggered(hex_sim, "2025-02-27", "2025-02-28") == {"2025-02-27": 2, "2025-02-28": 1}
    assert _metadata(result)["statuses"] == {"COMPLETED": 1, "ALREADY_COMPLETED": 1}
    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retried) == 1


def test_a_run_that_keeps_failing_fails_the_step_with_a_summary(
    definitions: ModuleType, hex_sim: Simulator
) -> None:
    result = _materialize(definitions, "2025-02-11")

    assert not result.success
    failure = result.failure_data_for_node("daily_revenue")
    description = failure.user_failure_data.description
    assert description.startswith("1 of 2 runs did not complete:")
    assert "- daily-revenue [run_date=2025-02-10]: ERRORED" in description
    assert "http" in description  # the failed run's link
    # One trigger per attempt for the failing day; the day that completed ran once.
    assert _triggered(hex_sim, "2025-02-09", "2025-02-10") == {"2025-02-09": 1, "2025-02-10": 2}

    later = _materialize(definitions, "2025-02-11")

    assert not later.success
    assert _triggered(hex_sim, "2025-02-09", "2025-02-10") == {"2025-02-09": 1, "2025-02-10": 4}


_STEP = """
import importlib.util, sys
import dagster as dg
spec = importlib.util.spec_from_file_location("definitions", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
dg.materialize([module.daily_revenue], resources=module.defs.resources, partition_key=sys.argv[2])
"""


@pytest.mark.timeout(120)
def test_a_step_killed_mid_batch_is_resumed_without_a_second_trigger(
    tmp_path: Path, definitions: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step's process dies while Hex runs the partition's two days (a lost worker); the
    next materialization follows those same runs to their end instead of triggering anew."""
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(
        SCENARIO.replace("duration: {min: 10, max: 30}", "duration: {min: 300, max: 300}"),
        encoding="utf-8",
    )
    slow = Simulator(scenario)
    assert definitions.__file__ is not None
    try:
        monkeypatch.setenv("HEX_API_BASE_URL", slow.base_url)
        step = subprocess.Popen(
            [sys.executable, "-c", _STEP, definitions.__file__, "2025-04-03"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while len(slow.ledger()["runs"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        step.kill()
        step.wait()
        assert {r["status"] for r in slow.ledger()["runs"]} <= {"PENDING", "RUNNING"}

        result = _materialize(definitions, "2025-04-03")

        assert result.success
        assert _metadata(result)["statuses"] == {"COMPLETED": 2}
        assert _triggered(slow, "2025-04-01", "2025-04-02") == {"2025-04-01": 1, "2025-04-02": 1}
    finally:
        slow.stop()


def test_the_core_import_leaves_dagster_out() -> None:
    """``import hexbatch`` stays as light as the core install: Dagster loads only with the
    integration's module."""
    code = "import sys, hexbatch; print('dagster' in sys.modules)"
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert shown.stdout.strip() == "False"


def _failure(tmp_path: Path, manifest: Path, partitions: Any, key: str) -> str:
    """The failure description of materializing ``manifest`` as a partitioned asset, whose
    retry policy is not used: a retry would be refused the same way."""
    from hexbatch.integrations.dagster import HexBatchResource, hexbatch_asset

    asset = hexbatch_asset(
        manifest=manifest,
        name="refused",
        partitions_def=partitions,
        retry_policy=dg.RetryPolicy(max_retries=2),
    )
    resource = HexBatchResource(token=TOKEN, state=str(tmp_path / "state.db"))
    result = dg.materialize(
        [asset], resources={"hexbatch": resource}, partition_key=key, raise_on_error=False
    )
    assert not result.success
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    failure = result.failure_data_for_node("refused")
    return str(failure.user_failure_data.description if failure.user_failure_data else failure)


def test_a_partition_key_that_is_no_date_fails_the_step_before_anything_runs(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text((EXAMPLE / "daily-revenue.yaml").read_text(encoding="utf-8"))
    regions = dg.StaticPartitionsDefinition(["eu", "us"])

    description = _failure(tmp_path, manifest, regions, "eu")

    assert "partition key 'eu' is not a date (YYYY-MM-DD)" in description
    assert not (tmp_path / "state.db").exists()


def test_a_bad_manifest_fails_the_step_naming_file_line_and_key(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    text = (EXAMPLE / "daily-revenue.yaml").read_text(encoding="utf-8")
    manifest.write_text(text.replace("max_in_flight: 4", "max_in_fligth: 4"), encoding="utf-8")
    daily = dg.DailyPartitionsDefinition(start_date="2025-01-01")

    description = _failure(tmp_path, manifest, daily, "2025-03-01")

    assert f"{manifest}:11:3: defaults.max_in_fligth: unknown key" in description
    assert not (tmp_path / "state.db").exists()


def test_the_op_of_a_partitioned_job_runs_the_batch_and_reports_each_run(
    definitions: ModuleType, hex_sim: Simulator
) -> None:
    from hexbatch.integrations.dagster import hexbatch_op

    assert definitions.__file__ is not None
    manifest = Path(definitions.__file__).with_name("daily-revenue.yaml")
    revenue = hexbatch_op(manifest=manifest, name="revenue_batch")

    # Dagster types the job decorator's overloads loosely: the job is checked by running it.
    @dg.job(partitions_def=dg.DailyPartitionsDefinition(start_date="2025-01-01"))  # type: ignore[untyped-decorator]
    def nightly() -> None:
        revenue()

    result = nightly.execute_in_process(
        resources=definitions.defs.resources, partition_key="2025-05-03"
    )

    assert result.success
    assert _triggered(hex_sim, "2025-05-01", "2025-05-02") == {"2025-05-01": 1, "2025-05-02": 1}
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.step_output_data.metadata
    assert metadata["statuses"].value == {"COMPLETED": 2}
    assert metadata["runs"].value.count("| COMPLETED |") == 2
