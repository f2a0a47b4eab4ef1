"""Notifications of whole batches: `hexbatch run` and `run_batch` send one per batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result

from hexbatch import status as st
from hexbatch.batch import BatchOptions, BatchRun, PreflightError, run_batch
from hexbatch.cli.main import cli
from hexbatch.manifest.yamlpos import load_yaml
from hexbatch.notify import notify_json_schema
from hexbatch.resume import StoreJournal
from hexbatch.simulator import Scenario, run_simulator
from tests.crash.conftest import wait_for_event
from tests.engine.conftest import P1, TOKEN, fast_settings, manifest, project, scenario
from tests.notify.receiver import Receiver
from tests.plan.test_configs import CONFIGS

SLACK_PATH = "/services/T0001/B0002/s3cr3tS1ackP4th"
EXAMPLE = CONFIGS / "notify.yaml"
FAILING = {"rules": [{"when": {"n": 2}, "status": "ERRORED"}]}


def _example_notify() -> list[dict[str, Any]]:
    """The notify: section of configs/notify.yaml, as written (with its ${VAR}s); read as
    hexbatch reads YAML, where ``on`` is a key, not YAML 1.1's boolean."""
    notify: list[dict[str, Any]] = load_yaml(EXAMPLE.read_text(encoding="utf-8"), "").data["notify"]
    return notify


def _with_notify(path: Path, notify: list[dict[str, Any]]) -> Path:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["notify"] = notify
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _batch(tmp_path: Path, notify: list[dict[str, Any]], outcome: dict[str, Any] | None) -> Path:
    """Two runs of one simulated project; the second ERRORED when ``outcome`` says so."""
    sim = scenario([project(outcome=outcome)] if outcome else [project()])
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}], sim=sim)
    return _with_notify(path, notify)


def _receiver_env(receiver: Receiver) -> dict[str, str]:
    return {
        "SLACK_WEBHOOK_URL": receiver.url(SLACK_PATH),
        "ALERTS_WEBHOOK_URL": receiver.url("/alerts"),
    }


def _run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["run", *args, "--no-progress"], env={"GITHUB_STEP_SUMMARY": "", **(env or {})}
    )


def test_a_failing_batch_sends_one_message_to_each_target(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The example's notify: section (Slack and a webhook, on failure): a batch with an
    ERRORED run delivers exactly one message to each; the exit code stays 1; neither
    message holds the token."""
    path = _batch(tmp_path, _example_notify(), FAILING)

    result = _run(str(path), "--simulate", env=_receiver_env(receiver))

    assert result.exit_code == 1, result.output
    assert len(receiver.on(SLACK_PATH)) == 1
    assert len(receiver.on("/alerts")) == 1
    assert len(receiver.received) == 2
    document = receiver.on("/alerts")[0].json()
    jsonschema.Draft202012Validator(notify_json_schema()).validate(document)
    assert document["ok"] is False
    assert [(f["params"], f["status"]) for f in document["failures"]] == [({"n": 2}, st.ERRORED)]
    slack = receiver.on(SLACK_PATH)[0].json()
    assert "1 of 2 runs did not complete" in slack["text"]
    assert all(TOKEN not in request.body.decode() for request in receiver.received)
    assert SLACK_PATH not in result.output


def test_a_succeeding_batch_sends_nothing_on_failure_only(
    tmp_path: Path, receiver: Receiver
) -> None:
    """With every run COMPLETED, on: [failure] targets hear nothing; exit 0."""
    path = _batch(tmp_path, _example_notify(), None)

    result = _run(str(path), "--simulate", env=_receiver_env(receiver))

    assert result.exit_code == 0, result.output
    assert receiver.received == []


def test_a_failed_notification_never_changes_the_exit_code(
    tmp_path: Path, receiver: Receiver
) -> None:
    """A webhook that refuses the message is logged; the batch still exits 0."""
    receiver.default = 404
    path = _batch(tmp_path, [{"webhook": receiver.url("/hook")}], None)

    result = _run(str(path), "--simulate", "--log-format", "json")

    assert result.exit_code == 0, result.output
    failed = [
        json.loads(line)
        for line in result.stderr.splitlines()
        if line.startswith("{") and '"notify_failed"' in line
    ]
    assert [(e["attempts"], e["error"]) for e in failed] == [(1, "HTTP 404: no")]


def test_a_batch_refused_by_the_preflight_check_notifies_failure(
    tmp_path: Path, receiver: Receiver
) -> None:
    """An unpublished project stops the batch before any trigger (exit 2): the failure
    is still told, every planned run SKIPPED with the reason."""
    sim = scenario([project(published=False)])
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}], sim=sim)
    _with_notify(path, [{"webhook": receiver.url("/hook"), "on": ["failure"]}])

    result = _run(str(path), "--simulate")

    assert result.exit_code == 2
    assert "nothing was triggered" in result.output
    (request,) = receiver.received
    document = request.json()
    assert document["counts"] == {st.SKIPPED: 2}
    assert "is not published" in document["failures"][0]["error"]


def test_a_dry_run_notifies_no_one(tmp_path: Path, receiver: Receiver) -> None:
    """Nothing ran, so nothing is told."""
    path = _batch(tmp_path, [{"webhook": receiver.url("/hook")}], None)

    result = _run(str(path), "--simulate", "--dry-run")

    assert result.exit_code == 0, result.output
    assert receiver.received == []


def test_plain_http_to_another_host_stops_the_batch_before_anything_runs(
    tmp_path: Path,
) -> None:
    """Exit 2 with the manifest's file and line; the URL's path is not shown."""
    path = _batch(tmp_path, [{"slack": "http://hooks.internal/services/s3cr3t"}], None)

    result = _run(str(path), "--simulate", "--log-format", "json")

    assert result.exit_code == 2
    assert f"{path}:" in result.output
    assert "refusing plain http to hooks.internal" in result.output
    assert "s3cr3t" not in result.output
    assert '"run_triggered"' not in result.output


def test_a_stored_batch_tells_its_id(tmp_path: Path, receiver: Receiver) -> None:
    """With a state store, the document carries the batch's id there."""
    path = _batch(tmp_path, [{"webhook": receiver.url("/hook")}], None)

    result = _run(str(path), "--simulate", "--state", str(tmp_path / "state.db"))

    assert result.exit_code == 0, result.output
    (request,) = receiver.received
    assert request.json()["batch_id"] == 1


async def test_run_batch_notifies_once_and_execute_alone_does_not(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Library users get the manifest's notifications from run_batch; BatchRun.execute
    leaves them to its caller."""
    path = _batch(tmp_path, [{"webhook": receiver.url("/hook"), "on": ["finish"]}], FAILING)
    sim = Scenario.from_mapping(yaml.safe_load(path.read_text())["simulate"])

    async with run_simulator(sim) as simulator:
        options = BatchOptions(base_url=simulator.base_url, env={"HEX_API_TOKEN": simulator.token})
        report = await run_batch(path, options, settings=fast_settings())
        assert len(receiver.received) == 1
        assert receiver.received[0].json()["ok"] is report.ok is False

        await BatchRun(path, options, fast_settings()).execute()
        assert len(receiver.received) == 1


async def test_run_batch_notifies_a_refused_batch_and_raises(
    tmp_path: Path, receiver: Receiver
) -> None:
    """A preflight refusal is told, then raised as before."""
    path = manifest(tmp_path, [{"id": P1}])
    _with_notify(path, [{"webhook": receiver.url("/hook")}])
    sim = Scenario.from_mapping(scenario([project(published=False)]))

    async with run_simulator(sim) as simulator:
        options = BatchOptions(base_url=simulator.base_url, env={"HEX_API_TOKEN": simulator.token})
        with pytest.raises(PreflightError):
            await run_batch(path, options, settings=fast_settings())

    assert len(receiver.received) == 1


def test_an_interrupted_batch_notifies_once_after_the_live_runs_end(
    tmp_path: Path, receiver: Receiver
) -> None:
    """First Ctrl-C: the live run finishes, the rest are SKIPPED, exit 130, and the
    failure is told exactly once."""
    slow = scenario([project(duration={"min": 100, "max": 150})])
    path = manifest(
        tmp_path,
        [{"id": P1, "runs": [{"n": n} for n in range(4)]}],
        sim=slow,
        defaults={"max_in_flight": 1},
    )
    _with_notify(path, [{"webhook": receiver.url("/hook"), "on": ["failure"]}])
    env = dict(os.environ)
    env.pop("GITHUB_STEP_SUMMARY", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hexbatch",
            "run",
            str(path),
            "--simulate",
            "--no-progress",
            "--log-format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for_event(process, "run_triggered")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 130, stderr[-2000:]
    (request,) = receiver.received
    counts = request.json()["counts"]
    assert counts[st.SKIPPED] == 3
    assert counts[st.COMPLETED] == 1
    assert '"notify_sent"' in stderr


def test_ctrl_c_while_notifying_abandons_the_notifications(
    tmp_path: Path, receiver: Receiver
) -> None:
    """A receiver that never answers cannot hold the command: Ctrl-C abandons the
    notifications, and the exit code is still the batch's own."""
    receiver.hang = True
    path = _batch(tmp_path, [{"webhook": receiver.url("/hook"), "timeout": "10m"}], None)
    env = dict(os.environ)
    env.pop("GITHUB_STEP_SUMMARY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "hexbatch", "run", str(path), "--simulate", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.received, "the notification was never sent"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, stderr[-2000:]
    assert "SIGINT: the notifications still being sent are abandoned" in stderr


async def test_a_driver_that_lost_its_batch_leaves_the_notifying_to_the_new_one(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taken over mid-batch, a driver stops with runs SKIPPED; the batch has not failed, it
    goes on elsewhere, so this driver tells no one."""
    path = _batch(tmp_path, [{"webhook": receiver.url("/hook")}], None)
    triggered = StoreJournal.record_triggered

    def then_taken_over(journal: StoreJournal, *args: Any, **kwargs: Any) -> None:
        triggered(journal, *args, **kwargs)
        journal.store.database.execute(
            "UPDATE leases SET holder = 'new', host = 'ci-9', pid = 5", (), durable=True, doing=""
        )

    monkeypatch.setattr(StoreJournal, "record_triggered", then_taken_over)
    sim = Scenario.from_mapping(yaml.safe_load(path.read_text())["simulate"])
    async with run_simulator(sim) as simulator:
        options = BatchOptions(
            base_url=simulator.base_url,
            env={"HEX_API_TOKEN": simulator.token},
            state=str(tmp_path / "state.db"),
            max_in_flight=1,
        )
        report = await run_batch(path, options, settings=fast_settings())

    assert st.SKIPPED in report.counts()
    assert receiver.received == []
