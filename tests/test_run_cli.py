"""`hexbatch run` and `hexbatch projects` from the command line: exit codes and outputs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from hexbatch.cli.main import cli
from tests.engine.conftest import P1, manifest, project, scenario

UNPUBLISHED = "44444444-4444-4444-8444-444444444444"


def _invoke(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"GITHUB_STEP_SUMMARY": "", **(env or {})})


def test_a_batch_where_every_run_completes_exits_0(tmp_path: Path) -> None:
    """All runs COMPLETED: exit 0, and --json - prints the hexbatch.report/1 document."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}], sim=scenario([project()]))

    result = _invoke("run", str(path), "--simulate", "--no-progress", "--json", "-")

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert body["schema"] == "hexbatch.report/1"
    assert body["counts"] == {"COMPLETED": 2}


def test_a_failed_run_exits_1_and_writes_every_report(tmp_path: Path) -> None:
    """One run ERRORED: exit 1; --report-dir gets JSON, Markdown, JUnit and HTML."""
    sim = scenario([project(outcome={"rules": [{"when": {"n": 2}, "status": "ERRORED"}]})])
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}], sim=sim)

    result = _invoke(
        "run", str(path), "--simulate", "--no-progress", "--report-dir", str(tmp_path / "r")
    )

    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "junit.xml",
        "report.html",
        "report.json",
        "report.md",
    ]
    assert "n=2" in result.output


def test_unpublished_project_exits_2_and_triggers_nothing(tmp_path: Path) -> None:
    """The preflight check refuses an unpublished project before any trigger."""
    sim = scenario([project(), project(UNPUBLISHED, published=False)])
    path = manifest(tmp_path, [{"id": P1}, {"id": UNPUBLISHED, "name": "draft"}], sim=sim)

    result = _invoke("run", str(path), "--simulate", "--no-progress", "--log-format", "json")

    assert result.exit_code == 2
    assert "nothing was triggered" in result.output
    assert "draft" in result.output
    assert "is not published" in result.output
    assert '"run_triggered"' not in result.output


def test_manifest_errors_exit_2_with_file_and_line(tmp_path: Path) -> None:
    """A bad manifest lists its problems with file and line, exit 2."""
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nprojects:\n  - id: not-a-uuid\n    runz: []\n", encoding="utf-8")

    result = _invoke("run", str(path), "--simulate")

    assert result.exit_code == 2
    assert f"{path}:3" in result.output
    assert "did you mean" in result.output.lower()


def test_missing_token_exits_2(tmp_path: Path) -> None:
    """Without --simulate, an unset token variable is a clear error, exit 2."""
    path = manifest(tmp_path, [{"id": P1}])

    result = _invoke("run", str(path), "--no-progress", env={"HEX_API_TOKEN": ""})

    assert result.exit_code == 2
    assert "HEX_API_TOKEN" in result.output


def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    """The token is not sent in clear to a non-loopback host unless the user insists."""
    path = manifest(tmp_path, [{"id": P1}])

    result = _invoke(
        "run",
        str(path),
        "--base-url",
        "http://hex.example.com/api/v1",
        env={"HEX_API_TOKEN": "hxtp_never_sent_anywhere"},
    )

    assert result.exit_code == 2
    assert "refusing plain http" in result.output
    assert "hxtp_never_sent_anywhere" not in result.output


def test_json_logs_name_events_and_hide_the_token(tmp_path: Path) -> None:
    """--log-format json writes one JSON event per line, with snake_case names."""
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}], sim=scenario([project()]))

    result = _invoke("run", str(path), "--simulate", "--no-progress", "--log-format", "json")

    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    names = {event["event"] for event in events}
    assert {"batch_started", "run_triggered", "run_finished"} <= names
    triggered = next(e for e in events if e["event"] == "run_triggered")
    assert {"project", "key", "run_id"} <= set(triggered)
    assert "hxtp_engine_tests_token" not in result.stderr


def test_projects_lists_the_simulated_workspace() -> None:
    """`hexbatch projects --json` lists ids, titles and whether each is published."""
    result = _invoke("projects", "--simulate", "--json")

    listed = json.loads(result.stdout)
    assert result.exit_code == 0
    assert {p["title"]: p["published"] for p in listed}["Draft analysis"] is False
    assert len(listed) == 4


def test_projects_table_fits_80_columns() -> None:
    """The projects table is readable in 80 columns."""
    result = _invoke("projects", "--simulate", env={"COLUMNS": "80"})

    assert result.exit_code == 0
    assert "Executive dashboard" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_projects_without_a_token_exits_2() -> None:
    """Listing a real workspace needs the token variable."""
    result = _invoke("projects", env={"HEX_API_TOKEN": ""})

    assert result.exit_code == 2
    assert "HEX_API_TOKEN" in result.output


def test_inline_simulate_scenario_is_validated(tmp_path: Path) -> None:
    """A broken inline simulate: section is a usage error naming the problem."""
    path = manifest(tmp_path, [{"id": P1}], sim={"tokens": []})

    result = _invoke("run", str(path), "--simulate")

    assert result.exit_code == 2
    assert "tokens" in result.output


def test_validate_checks_the_simulate_section(tmp_path: Path) -> None:
    """A simulate: section naming a missing scenario file fails validate, not just run."""
    path = manifest(tmp_path, [{"id": P1}], sim={"scenario": "missing-scenario.yaml"})

    result = _invoke("validate", str(path))

    assert result.exit_code == 2
    assert "missing-scenario.yaml" in result.output


def _served(tmp_path: Path, sim: dict[str, Any]) -> Any:
    """The simulator in its own process (so the CLI under test runs in this one)."""
    from tests.crash.conftest import Simulator

    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(sim), encoding="utf-8")
    return Simulator(path)


def test_a_token_without_run_scope_exits_2(tmp_path: Path) -> None:
    """A read-only token: the first trigger's 403 stops the batch, exit 2, with advice."""
    sim = scenario([project()])
    sim["tokens"].append({"value": "hxtp_reader_only", "name": "reader", "read_only": True})
    simulator = _served(tmp_path, sim)
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}])
    try:
        result = _invoke(
            "run",
            str(path),
            "--base-url",
            simulator.base_url,
            "--no-progress",
            env={"HEX_API_TOKEN": "hxtp_reader_only"},
        )
        runs = simulator.ledger()["runs"]
    finally:
        simulator.stop()

    assert result.exit_code == 2
    assert "Run projects" in result.output
    assert runs == []


def test_insecure_http_to_another_address_needs_the_flag(tmp_path: Path) -> None:
    """0.0.0.0 is not a loopback address: plain http to it runs only with the flag."""
    simulator = _served(tmp_path, scenario([project()]))
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])
    url = simulator.base_url.replace("127.0.0.1", "0.0.0.0")  # noqa: S104 - the local host
    env = {"HEX_API_TOKEN": "hxtp_engine_tests_token"}
    try:
        refused = _invoke("run", str(path), "--base-url", url, "--no-progress", env=env)
        allowed = _invoke(
            "run", str(path), "--base-url", url, "--no-progress", "--allow-insecure-http", env=env
        )
    finally:
        simulator.stop()

    assert refused.exit_code == 2
    assert "refusing plain http" in refused.output
    assert allowed.exit_code == 0, allowed.output


def test_verbose_json_logs_show_polls_and_throttling(tmp_path: Path) -> None:
    """-v adds run_polled events; a kernel limit shows as trigger_throttled."""
    sim = scenario([project()], limits={"kernel_limit": 1})
    path = manifest(
        tmp_path,
        [{"id": P1, "runs": [{"n": 1}, {"n": 2}, {"n": 3}]}],
        sim=sim,
        defaults={"max_in_flight": 3},
    )

    result = _invoke("run", str(path), "--simulate", "--no-progress", "--log-format", "json", "-v")

    names = {json.loads(line)["event"] for line in result.stderr.splitlines() if line[:1] == "{"}
    assert result.exit_code == 0, result.output
    assert {"run_polled", "trigger_throttled"} <= names


def test_validate_lists_an_unset_variable_together_with_other_errors(tmp_path: Path) -> None:
    """An unset ${VAR} does not hide the manifest's other problems."""
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\n"
        "projects:\n"
        f"  - id: {P1}\n"
        "    params: {x: '${HEXBATCH_TEST_UNSET_VARIABLE}'}\n"
        "    timeot: 5m\n"
        "    dates: {param: d, start: 2025-02-30, end: 2025-03-01}\n",
        encoding="utf-8",
    )

    result = _invoke("validate", str(path), env={"HEXBATCH_TEST_UNSET_VARIABLE": None})

    assert result.exit_code == 2
    assert "HEXBATCH_TEST_UNSET_VARIABLE is not set" in result.output
    assert "timeot" in result.output
    assert "2025-02-30" in result.output
    assert "3 problems found" in result.output


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rerun", "failed", "--new"], "cannot be combined with --new"),
        (["--rerun", "all", "--dry-run"], "nothing to --rerun"),
        (["--rerun", "unknown", "--simulate"], "keeps no state"),
    ],
)
def test_rerun_combinations_that_would_do_nothing_are_refused(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    """--rerun with a flag that makes it meaningless is a usage error, not silently ignored."""
    path = manifest(tmp_path, [{"id": P1}], sim=scenario([project()]))

    result = _invoke("run", str(path), *flags)

    assert result.exit_code == 2
    assert message in result.output


def _one_run(tmp_path: Path) -> Path:
    return manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}], sim=scenario([project()]))


def _run_one_simulated(tmp_path: Path, *extra: str) -> Result:
    """``hexbatch run`` of a one-run manifest against the simulator, logging JSON."""
    return _invoke(
        "run",
        str(_one_run(tmp_path)),
        "--simulate",
        "--no-progress",
        "--log-format",
        "json",
        *extra,
    )


@pytest.mark.parametrize(
    "where",
    ["/sys/kernel/hexbatch-report.json", "{tmp}/a-dir", "{tmp}/a-file/report.json"],
    ids=["sys", "existing-directory", "file-in-place-of-a-folder"],
)
def test_an_unwritable_json_path_is_refused_before_anything_runs(
    tmp_path: Path, where: str
) -> None:
    """--json where nothing can be written: exit 2, nothing triggered."""
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "a-file").write_text("x")
    target = where.format(tmp=tmp_path)

    result = _run_one_simulated(
        tmp_path,
        "--json",
        target,
    )

    assert result.exit_code == 2, result.output
    assert "--json" in result.stderr
    assert '"run_triggered"' not in result.output


def test_a_directory_in_the_way_of_a_report_file_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    """A directory named like a report inside --report-dir: exit 2, nothing triggered."""
    (tmp_path / "r" / "report.json").mkdir(parents=True)

    result = _run_one_simulated(
        tmp_path,
        "--report-dir",
        str(tmp_path / "r"),
    )

    assert result.exit_code == 2, result.output
    assert "report.json is a directory" in result.stderr
    assert '"run_triggered"' not in result.output
