"""The README's nightly job, two nights of it: relative dates, --skip-completed, select: and
notify: together, through the real CLI against the simulator and a local webhook receiver."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.crash.conftest import HEXBATCH, Simulator
from tests.notify.receiver import Receiver, running

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "configs" / "nightly-job.yaml"
SCENARIO = ROOT / "configs" / "nightly-job-scenario.yaml"
TOKEN = "hxtp_nightly_job_demo"
REVENUE = "5a8591dd-4039-49df-9202-96385ba3eff8"


@pytest.fixture
def hex_sim() -> Iterator[Simulator]:
    simulator = Simulator(SCENARIO)
    yield simulator
    simulator.stop()


@pytest.fixture
def alerts() -> Iterator[Receiver]:
    yield from running(Receiver())


def _hexbatch(*args: str, sim: Simulator, alerts: Receiver) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update({"HEX_API_TOKEN": TOKEN, "ALERTS_WEBHOOK_URL": alerts.url("/nightly")})
    env.pop("HEXBATCH_STATE", None)
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run(
        [*HEXBATCH, *args, "--base-url", sim.base_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def _on_the_simulators_clock(tmp_path: Path) -> Path:
    """The example, with read limits for a simulator running 100 times faster than Hex.

    At Hex's 30 reads a minute a night of minutes-long runs is paced well; runs of a
    fraction of a second would spend most of the test waiting for the read budget.
    """
    copy = tmp_path / "nightly-job.yaml"
    limits = "\nlimits: {requests: [{count: 6000, per: 1m}]}\n"
    copy.write_text(MANIFEST.read_text(encoding="utf-8") + limits, encoding="utf-8")
    return copy


def _triggered(sim: Simulator, before: int = 0) -> list[tuple[str, str]]:
    runs = sim.ledger()["runs"][before:]
    return sorted((run["project_id"], run["params"]["run_date"]) for run in runs)


@pytest.mark.timeout(240)
def test_two_nights_of_the_nightly_job(
    tmp_path: Path, hex_sim: Simulator, alerts: Receiver
) -> None:
    """Night one (Feb 23) runs Feb 20-22 and yesterday's apps, one date fails: exit 1 and one
    message. Night two (Feb 24) triggers only the failed date, the new one and the apps for
    Feb 23: exit 0 and no message."""
    manifest = str(_on_the_simulators_clock(tmp_path))
    state = str(tmp_path / "state.db")
    common = ["--state", state, "--no-progress", "--log-format", "json", "--skip-completed"]
    first = _hexbatch(
        "run", manifest, "--as-of", "2025-02-23", *common,
        "--json", str(tmp_path / "night1.json"), sim=hex_sim, alerts=alerts,
    )  # fmt: skip
    night_one = _triggered(hex_sim)
    plan = _hexbatch(
        "plan", manifest, "--as-of", "2025-02-24", "--state", state, "--skip-completed",
        sim=hex_sim, alerts=alerts,
    )  # fmt: skip
    second = _hexbatch(
        "run", manifest, "--as-of", "2025-02-24", *common,
        "--json", str(tmp_path / "night2.json"), sim=hex_sim, alerts=alerts,
    )  # fmt: skip
    night_two = _triggered(hex_sim, before=len(night_one))

    assert first.returncode == 1, first.stderr[-2000:]
    apps = sorted({project for project, _ in night_one} - {REVENUE})
    assert len(apps) == 2  # Production and nightly: the app "In review" is not chosen
    assert night_one == sorted(
        [(REVENUE, day) for day in ("2025-02-20", "2025-02-21", "2025-02-22")]
        + [(app, "2025-02-22") for app in apps]
    )
    (message,) = alerts.on("/nightly")
    body: dict[str, Any] = message.json()
    assert (body["schema"], body["manifest"], body["ok"]) == (
        "hexbatch.notify/1",
        "nightly-job",
        False,
    )
    assert [f["params"]["run_date"] for f in body["failures"]] == ["2025-02-21"]

    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "2 runs already completed in earlier batches, 4 runs to trigger" in plan.stdout

    assert second.returncode == 0, second.stderr[-2000:]
    assert night_two == sorted(
        [(REVENUE, "2025-02-21"), (REVENUE, "2025-02-23")] + [(app, "2025-02-23") for app in apps]
    )
    report = json.loads((tmp_path / "night2.json").read_text())
    skipped = {run["params"]["run_date"]: run for run in report["runs"] if not run["attempts"]}
    assert sorted(skipped) == ["2025-02-20", "2025-02-22"]
    assert {run["status"] for run in skipped.values()} == {"ALREADY_COMPLETED"}
    assert len(alerts.on("/nightly")) == 1  # a night that succeeds tells no one
