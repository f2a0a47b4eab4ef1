"""The deployment examples under configs/deploy/ keep the promises docs/deploy.md makes.

Each example is read as its platform would read it (safe YAML), its hexbatch command is
parsed by hexbatch's own command-line parser (nothing is run), and the manifest it runs
is checked with `hexbatch validate` through the real command line.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from hexbatch.cli.main import cli
from hexbatch.manifest import load_manifest
from hexbatch.manifest.schema import manifest_json_schema
from hexbatch.manifest.yamlpos import load_yaml
from hexbatch.plan import build_plan
from tests.plan.test_configs import MANIFESTS as TOP_LEVEL_MANIFESTS

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
DEPLOY = CONFIGS / "deploy"
NIGHTLY = DEPLOY / "nightly.yaml"
WORKFLOW = DEPLOY / "github-nightly.yml"
CRONJOB = DEPLOY / "k8s-cronjob.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
GUIDE = ROOT / "docs" / "deploy.md"
DEPLOY_FILES = {NIGHTLY, WORKFLOW, CRONJOB, DOCKERFILE}
# Materialized by Dagster in tests/integrations/test_dagster.py.
AIRFLOW_EXAMPLE = {CONFIGS / "airflow" / "hexbatch_nightly.py"}
DAGSTER_EXAMPLE = {
    CONFIGS / "dagster" / "definitions.py",
    CONFIGS / "dagster" / "daily-revenue.yaml",
}
SECRET_REF = re.compile(r"^\$\{\{\s*secrets\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}$")
SETTING_REF = re.compile(r"^\$\{\{\s*(?:secrets|vars)\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}$")
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"`)>]+")


# --- helpers -----------------------------------------------------------------------------


def _parsed(words: list[str]) -> click.Context:
    """A hexbatch command line parsed (and its values converted) by the CLI, not run.

    Raises:
        click.UsageError: an unknown subcommand or option, a missing argument, a bad value.
    """
    assert words[0] == "hexbatch", words
    if len(words) < 2 or words[1] not in cli.commands:
        raise click.UsageError(f"no hexbatch command in {words}")
    command = cli.commands[words[1]]
    return command.make_context(f"hexbatch {words[1]}", list(words[2:]))


def _validate(path: Path) -> Any:
    """`hexbatch validate PATH` through the command line."""
    return CliRunner().invoke(cli, ["validate", str(path)], env={"HEXBATCH_STATE": None})


def _workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1, which PyYAML follows, reads the key `on` as True; GitHub reads it as "on".
    triggers = workflow.get("on", workflow.get(True))
    assert isinstance(triggers, dict), triggers
    return triggers


def _only_job(workflow: dict[Any, Any]) -> dict[str, Any]:
    jobs = workflow["jobs"]
    assert len(jobs) == 1, sorted(jobs)
    job: dict[str, Any] = next(iter(jobs.values()))
    return job


def _hexbatch_step(job: dict[str, Any]) -> dict[str, Any]:
    steps = [step for step in job["steps"] if str(step.get("run", "")).startswith("hexbatch ")]
    assert len(steps) == 1, job["steps"]
    step: dict[str, Any] = steps[0]
    return step


def _documents() -> dict[str, dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all(CRONJOB.read_text(encoding="utf-8")) if doc]
    by_kind = {doc["kind"]: doc for doc in docs}
    assert len(by_kind) == len(docs), "one document of each kind"
    return by_kind


def _pod(cronjob: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return pod


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod["containers"]
    assert isinstance(container, dict)
    return container


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container["env"]}


def _urls(text: str) -> Iterator[str]:
    yield from URL.findall(text)


# --- the manifest ------------------------------------------------------------------------


def test_the_nightly_manifest_validates_through_the_cli() -> None:
    """`hexbatch validate configs/deploy/nightly.yaml` exits 0."""
    result = _validate(NIGHTLY)

    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_the_nightly_manifest_plans_matches_the_schema_and_is_named() -> None:
    """It plans without warnings, passes the JSON Schema, and carries a `name:` (the
    batch must be found by name from any checkout path) but no store of its own."""
    manifest = load_manifest(NIGHTLY, env={})
    plan = build_plan(manifest)
    data = load_yaml(NIGHTLY.read_text(encoding="utf-8"), str(NIGHTLY)).data

    jsonschema.Draft202012Validator(manifest_json_schema()).validate(data)
    assert plan.warnings == ()
    assert len(plan.items) == 13
    assert data["name"] == manifest.name == "nightly-models"
    assert "state" not in data, "the schedulers name the store with HEXBATCH_STATE"


def test_the_nightly_runs_do_not_depend_on_the_environment() -> None:
    """A killed batch resumes only with the runs it started with: the manifest must plan
    the same runs whatever the environment holds."""
    bare = build_plan(load_manifest(NIGHTLY, env={}))
    busy = build_plan(load_manifest(NIGHTLY, env={"RUN_DATE": "2031-01-01", "REGION": "x"}))

    assert [item.key for item in bare.items] == [item.key for item in busy.items]
    assert "${" not in NIGHTLY.read_text(encoding="utf-8")


# --- the command checker can fail --------------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        ["hexbatch", "run", "m.yaml", "--no-such-flag"],
        ["hexbatch", "run", "m.yaml", "--log-format", "xml"],
        ["hexbatch", "run"],
        ["hexbatch", "launch", "m.yaml"],
    ],
    ids=["unknown option", "bad choice", "no manifest", "unknown command"],
)
def test_the_command_check_refuses_what_hexbatch_would_refuse(words: list[str]) -> None:
    """The parser used on the examples rejects a misspelt flag, value, argument or command."""
    with pytest.raises(click.UsageError):
        _parsed(words)


# --- GitHub Actions ----------------------------------------------------------------------


def test_the_workflow_runs_on_a_schedule_and_on_demand() -> None:
    """A cron schedule (five fields) and workflow_dispatch to resume a killed batch at once."""
    triggers = _triggers(_workflow())

    crons = [entry["cron"] for entry in triggers["schedule"]]
    assert crons
    assert all(len(cron.split()) == 5 for cron in crons)
    assert "workflow_dispatch" in triggers


def test_the_workflow_never_cancels_a_running_batch() -> None:
    """One concurrency group, and a new run waits instead of cancelling the running one."""
    concurrency = _workflow()["concurrency"]

    assert isinstance(concurrency["group"], str)
    assert concurrency["group"].strip()
    assert concurrency["cancel-in-progress"] is False


def test_the_workflow_stops_hexbatch_before_the_job_and_the_hosted_limit() -> None:
    """The step's limit is below the job's, which is within GitHub's 6 hours, so the
    upload step still runs after a killed batch."""
    job = _only_job(_workflow())
    step = _hexbatch_step(job)

    assert isinstance(job["timeout-minutes"], int)
    assert job["timeout-minutes"] <= 360
    assert isinstance(step["timeout-minutes"], int)
    assert step["timeout-minutes"] < job["timeout-minutes"]


def test_the_workflow_installs_hexbatch_with_its_postgres_driver() -> None:
    """checkout, setup-python, then `pip install 'hexbatch[postgres]'` before the run."""
    steps = _only_job(_workflow())["steps"]
    uses = [str(step.get("uses", "")).split("@")[0] for step in steps]
    installs = [
        index
        for index, step in enumerate(steps)
        if "hexbatch[postgres]" in shlex.split(str(step.get("run", "")))
        and shlex.split(str(step["run"]))[:2] == ["pip", "install"]
    ]
    run_index = steps.index(_hexbatch_step(_only_job(_workflow())))

    assert uses.index("actions/checkout") < uses.index("actions/setup-python") < run_index
    assert installs
    assert installs[0] < run_index


def test_the_workflow_takes_secrets_from_the_secret_store() -> None:
    """The token and the database password come from `secrets.`; the store's URL from a
    secret or a variable; the token variable is the one the manifest names."""
    env = _hexbatch_step(_only_job(_workflow()))["env"]
    token_env = load_manifest(NIGHTLY, env={}).token_env

    assert SECRET_REF.match(env[token_env]), env[token_env]
    assert SECRET_REF.match(env["PGPASSWORD"]), env["PGPASSWORD"]
    assert SETTING_REF.match(env["HEXBATCH_STATE"]), env["HEXBATCH_STATE"]


def test_the_workflow_command_is_accepted_and_its_manifest_validates() -> None:
    """The `run:` line parses as `hexbatch run` with the promised flags; its manifest
    exists in the repository and `hexbatch validate` passes it."""
    words = shlex.split(_hexbatch_step(_only_job(_workflow()))["run"])
    params = _parsed(words).params
    manifest = ROOT / params["manifest"]

    assert words[1] == "run"
    assert params["log_format"] == "json"
    assert params["no_progress"] is True
    assert params["report_dir"] is not None
    assert manifest == NIGHTLY
    assert _validate(manifest).exit_code == 0


def test_the_workflow_keeps_the_reports_even_when_the_batch_fails() -> None:
    """upload-artifact runs with `if: always()` and uploads the --report-dir folder."""
    job = _only_job(_workflow())
    report_dir = _parsed(shlex.split(_hexbatch_step(job)["run"])).params["report_dir"]
    (upload,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-")]

    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"] == "always()"
    assert Path(upload["with"]["path"]) == Path(report_dir)


# --- Kubernetes --------------------------------------------------------------------------


def test_the_cronjob_never_runs_two_jobs_at_once() -> None:
    """batch/v1 CronJob with concurrencyPolicy Forbid and a starting deadline."""
    cronjob = _documents()["CronJob"]

    assert cronjob["apiVersion"] == "batch/v1"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert isinstance(cronjob["spec"]["startingDeadlineSeconds"], int)
    assert len(cronjob["spec"]["schedule"].split()) == 5


def test_the_job_ends_before_the_next_night_and_retries_only_what_resumes() -> None:
    """A deadline under a day (a hung Job would make Forbid skip every later night), pods
    never restarted in place, exit 1 never retried (the batch is over: a retry would start
    a new one), exit 2 retried (a dead pod's lease expires), evictions not counted."""
    job = _documents()["CronJob"]["spec"]["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    name = _container(pod)["name"]
    rules = job["podFailurePolicy"]["rules"]
    never = {
        code
        for rule in rules
        if rule["action"] == "FailJob" and "onExitCodes" in rule
        for code in rule["onExitCodes"]["values"]
        if rule["onExitCodes"]["operator"] == "In"
        and rule["onExitCodes"].get("containerName", name) == name
    }
    ignored = {
        condition["type"]
        for rule in rules
        if rule["action"] == "Ignore"
        for condition in rule.get("onPodConditions", [])
    }

    assert 0 < job["activeDeadlineSeconds"] < 24 * 3600
    assert isinstance(job["backoffLimit"], int)
    assert job["backoffLimit"] >= 1
    assert pod["restartPolicy"] == "Never"
    assert never == {1}
    assert "DisruptionTarget" in ignored


def test_the_pod_gets_its_secrets_from_a_secret() -> None:
    """The token (the variable the manifest names) and PGPASSWORD come from secretKeyRef;
    HEXBATCH_STATE is a postgresql:// URL."""
    env = _env(_container(_pod(_documents()["CronJob"])))
    token_env = load_manifest(NIGHTLY, env={}).token_env

    for name in (token_env, "PGPASSWORD"):
        reference = env[name]["valueFrom"]["secretKeyRef"]
        assert reference["name"], name
        assert reference["key"], name
        assert "value" not in env[name]
    assert urlsplit(env["HEXBATCH_STATE"]["value"]).scheme == "postgresql"


def test_the_pod_runs_as_a_non_root_user_with_small_resources() -> None:
    """runAsNonRoot with a numeric user, no privilege escalation, requests and limits."""
    pod = _pod(_documents()["CronJob"])
    container = _container(pod)

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), kind


def test_the_pod_command_runs_the_mounted_manifest_which_validates(tmp_path: Path) -> None:
    """The command parses as `hexbatch run`; its manifest sits in the ConfigMap mount; the
    ConfigMap's manifest validates and is the same batch as configs/deploy/nightly.yaml."""
    documents = _documents()
    pod = _pod(documents["CronJob"])
    container = _container(pod)
    params = _parsed(list(container["command"])).params
    manifest = Path(params["manifest"])
    (mount,) = [m for m in container["volumeMounts"] if Path(m["mountPath"]) == manifest.parent]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    configmap = documents["ConfigMap"]
    text = configmap["data"][manifest.name]
    copy = tmp_path / manifest.name
    copy.write_text(text, encoding="utf-8")

    assert container["command"][1] == "run"
    assert params["log_format"] == "json"
    assert params["no_progress"] is True
    assert mount.get("readOnly") is True
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert "items" not in volume["configMap"], "every key is mounted under its own name"
    assert _validate(copy).exit_code == 0
    assert yaml.safe_load(text) == yaml.safe_load(NIGHTLY.read_text(encoding="utf-8"))


def test_the_image_is_built_with_the_postgres_driver_as_the_pod_user() -> None:
    """The Dockerfile installs hexbatch[postgres] and runs as the numeric user and group
    the pod asks for (runAsNonRoot can only check a numeric USER)."""
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    pod = _pod(_documents()["CronJob"])
    (user,) = re.findall(r"^USER\s+(\S+)\s*$", dockerfile, flags=re.MULTILINE)
    installs = re.findall(r"^(?:ARG|RUN)\s.*hexbatch\[postgres\]", dockerfile, flags=re.MULTILINE)

    assert installs
    assert user == f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    # The command is `hexbatch`, so the image must be one with hexbatch in it, not a stock one.
    assert not _container(pod)["image"].startswith(("python:", "docker.io/library/"))


# --- every example, and the guide --------------------------------------------------------


@pytest.mark.parametrize("path", [WORKFLOW, CRONJOB, NIGHTLY, GUIDE], ids=lambda p: p.name)
def test_no_url_carries_a_password(path: Path) -> None:
    """Passwords come from PGPASSWORD or .pgpass, never from a URL, comments included."""
    urls = list(_urls(path.read_text(encoding="utf-8")))

    assert all(urlsplit(url).password is None for url in urls), urls


def test_the_url_check_finds_a_password() -> None:
    """The check above sees a password where one is written."""
    (url,) = _urls("state: postgresql://hexbatch:s3cret@db:5432/hexbatch  # no")

    assert urlsplit(url).password == "s3cret"


def test_every_command_in_the_guide_is_accepted() -> None:
    """Each `hexbatch ...` command of the guide, in a code block or inline, parses with
    hexbatch's CLI; a bare `hexbatch SUBCOMMAND` names one that exists."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = [
        line.split("#")[0].strip() for line in text.splitlines() if line.startswith("    hexbatch ")
    ]
    inline = re.findall(r"`(hexbatch [^`]+)`", text)

    assert len(blocks) >= 4
    assert len(inline) >= 4
    for command in blocks + inline:
        words = shlex.split(command)
        if len(words) == 2:
            assert words[1] in cli.commands, command
        else:
            _parsed(words)


def test_the_guide_shows_the_workflow_command_as_it_is() -> None:
    """The command the guide quotes for the GitHub example is the workflow's own."""
    command = _hexbatch_step(_only_job(_workflow()))["run"]

    assert f"\n    {command}\n" in GUIDE.read_text(encoding="utf-8")


def test_the_guide_names_only_files_that_exist() -> None:
    """Every configs/… or docs/… path the guide mentions is in the repository."""
    named = set(re.findall(r"`((?:configs|docs)/[^`\s]+)`", GUIDE.read_text(encoding="utf-8")))

    assert {path.relative_to(ROOT).as_posix() for path in DEPLOY_FILES} <= named
    assert all((ROOT / path).exists() for path in named), sorted(named)


def test_every_file_under_configs_is_exercised() -> None:
    """Each file in configs/ is a manifest (tests/plan/test_configs.py), a simulator
    scenario (tests/simulator/test_scenario.py), a deployment example (here) or an
    orchestrator's example (tests/integrations/)."""
    files = {
        path
        for path in CONFIGS.rglob("*")
        if path.is_file()
        and not any(
            part.startswith(".") or part == "__pycache__"
            for part in path.relative_to(CONFIGS).parts
        )
    }
    scenarios = set(CONFIGS.glob("*-scenario.yaml"))

    exercised = (
        set(TOP_LEVEL_MANIFESTS) | scenarios | DEPLOY_FILES | DAGSTER_EXAMPLE | AIRFLOW_EXAMPLE
    )
    assert files - exercised == set()
