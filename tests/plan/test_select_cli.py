"""`plan`, `validate` and `projects` with select: entries and filters, from the command line."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import yaml
from click.testing import CliRunner, Result

from hexbatch.cli.main import cli
from hexbatch.simulator import Scenario, SimulatorHandle, load_scenario, run_simulator
from tests.engine.conftest import Harness, fast_settings, manifest, project, scenario

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BULK = CONFIGS / "bulk-refresh.yaml"
EXEC, BOARD, KPI_TREE, VIEW = (
    "9e2d4a61-3f7b-4b0c-8d5e-7a1c6f2b3e84",
    "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b",
    "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c",
)


def _invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    environment = {"GITHUB_STEP_SUMMARY": "", "HEX_API_TOKEN": "", "HEXBATCH_STATE": ""}
    return CliRunner().invoke(cli, list(args), env={**environment, **(env or {})})


@contextmanager
def served(simulated: Scenario) -> Iterator[SimulatorHandle]:
    """The simulator on a loopback port, served from a thread of its own for the CLI."""
    ready, stop = threading.Event(), threading.Event()
    handles: list[SimulatorHandle] = []

    async def serve() -> None:
        async with run_simulator(simulated) as handle:
            handles.append(handle)
            ready.set()
            await anyio.to_thread.run_sync(stop.wait)

    thread = threading.Thread(target=anyio.run, args=(serve,), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield handles[0]
    finally:
        stop.set()
        thread.join(30)


def test_plan_without_the_token_exits_2_naming_the_variable() -> None:
    """Choosing the projects needs Hex: without the token, say which variable to set."""
    result = _invoke("plan", str(BULK))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "projects[0], projects[1] of" in result.stderr
    assert "set the environment variable HEX_API_TOKEN to plan them (or pass" in result.stderr


def test_validate_never_needs_the_token() -> None:
    """validate checks the manifest and counts the select: entries apart."""
    result = _invoke("validate", str(BULK))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"{BULK}: valid, 1 project, 1 run and 2 select: entries (their projects are chosen"
        " when a batch starts)"
    )


def test_plan_simulate_shows_the_selection_and_its_runs() -> None:
    """The example against its scenario: the chosen, the left out and why, the schedule
    warning, then the runs of each chosen project."""
    result = _invoke("plan", str(BULK), "--simulate", env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0].startswith("selection: chosen now in the simulator, ")
    assert out[1:10] == [
        "projects[0]: 2 projects, select {statuses: [Production], categories: [nightly]}",
        f"  + Board KPIs  {BOARD}  (also on a Hex schedule)",
        f"  + Executive dashboard  {EXEC}",
        "  - Sales pipeline  6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e",
        "      left out: published results updated 2h ago, within skip_if_fresh 6h",
        "  - Support health  8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f",
        "      left out: never published (only a published version can be run)",
        "projects[1]: 1 project, select {collection: 0c2f6a1e-93d4-4b6e-8f2a-5d7c1b9e0a3…",
        f"  + KPI tree  {KPI_TREE}",
    ]
    assert "4 runs in 4 projects" in result.stdout
    assert max(len(line) for line in out) <= 80
    assert result.stderr.strip() == (
        f"warning: projects[0]: 'Board KPIs' ({BOARD}) has an enabled Hex schedule: it will"
        " also run on its own schedule"
    )


def test_plan_asks_hex_with_the_token_and_base_url() -> None:
    """With the manifest's token set, the selection comes from Hex at --base-url; --json
    carries it beside the runs."""
    simulated = load_scenario(CONFIGS / "bulk-refresh-scenario.yaml")
    with served(simulated) as hex_api:
        result = _invoke(
            "plan",
            str(BULK),
            "--json",
            "--base-url",
            hex_api.base_url,
            env={"HEX_API_TOKEN": hex_api.token},
        )
        queries = hex_api.ledger.project_queries

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert sorted(run["project_id"] for run in document["runs"]) == sorted(
        [EXEC, BOARD, KPI_TREE, VIEW]
    )
    chosen = [[p["title"] for p in e["projects"]] for e in document["selection"]["entries"]]
    assert chosen == [["Board KPIs", "Executive dashboard"], ["KPI tree"]]
    assert [sorted(query) for query in queries] == [
        ["categories", "limit", "statuses"],
        ["collectionId", "limit", "ownerEmail"],
    ]


def test_plan_shows_the_selection_an_unfinished_batch_keeps(tmp_path: Path) -> None:
    """What `run` would resume is what `plan` shows, from the state store, without a token."""
    selected = {"select": {"categories": ["nightly"]}}
    path = manifest(tmp_path, [selected], defaults={"max_in_flight": 1})
    state = str(tmp_path / "state.db")
    workspace = [
        project("11111111-1111-4111-8111-111111111111", title="A", categories=["nightly"]),
        project("22222222-2222-4222-8222-222222222222", title="B", categories=["nightly"]),
    ]
    failing = [{**workspace[0], "outcome": {"default": "ERRORED"}}, workspace[1]]
    harness = Harness(tmp_path, scenario(failing))
    anyio.run(functools.partial(harness.run, path, state=state, fail_fast=True))

    result = _invoke("plan", str(path), "--state", state)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("selection: kept by batch 1, chosen ")
    assert lines[1] == "  `run` resumes it with these projects (`run --new` would choose again)"
    assert "2 runs in 2 projects" in result.stdout


def test_projects_previews_a_selection_with_the_same_filters() -> None:
    """--status and --category (repeatable), --title: what Hex lists for them, table or JSON."""
    simulated = load_scenario(CONFIGS / "bulk-refresh-scenario.yaml")
    with served(simulated) as hex_api:
        env = {"HEX_API_TOKEN": hex_api.token, "HEX_API_BASE_URL": hex_api.base_url}
        table = _invoke("projects", "--status", "Production", "--category", "nightly", env=env)
        listed = _invoke(
            "projects", "--category", "weekly", "--category", "exec", "--json", env=env
        )
        titled = _invoke(
            "projects", "--owner", "finance-lead@example.com", "--title", "*kpi*", "--json", env=env
        )

    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].strip() == "4 projects (statuses: [Production], categories: [nightly])"
    for title in ("Executive dashboard", "Board KPIs", "Sales pipeline", "Support health"):
        assert title in table.stdout
    assert "Marketing funnel" not in table.stdout
    assert [(p["title"], p["categories"]) for p in json.loads(listed.stdout)] == [
        ("Executive dashboard", ["nightly", "exec"]),
        ("Regional operations", ["weekly"]),
    ]
    board = json.loads(titled.stdout)
    assert [(p["title"], p["owner"]) for p in board] == [
        ("Board KPIs", "finance-lead@example.com"),
        ("KPI tree", "finance-lead@example.com"),
    ]
    assert board[0]["schedules_enabled"] is True
    assert board[0]["status"] == "Production"


def test_the_example_refreshes_exactly_what_it_selects(tmp_path: Path) -> None:
    """configs/bulk-refresh.yaml against its scenario triggers Board KPIs, Executive
    dashboard, KPI tree and the saved view, and nothing else."""
    document = yaml.safe_load(BULK.read_text(encoding="utf-8"))
    # Poll on the scenario's scale (a Hex minute lasts 1.2 s here).
    document["defaults"]["poll"] = {"initial": "50ms", "max": "200ms"}
    document["simulate"]["scenario"] = str(CONFIGS / "bulk-refresh-scenario.yaml")
    path = tmp_path / "bulk-refresh.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    scenario_file = CONFIGS / "bulk-refresh-scenario.yaml"
    harness = Harness(tmp_path, yaml.safe_load(scenario_file.read_text(encoding="utf-8")))

    report = anyio.run(functools.partial(harness.run, path, settings=fast_settings()))

    assert harness.ledger is not None
    assert sorted(run.project_id for run in harness.ledger.runs) == sorted(
        [EXEC, BOARD, KPI_TREE, VIEW]
    )
    assert report.ok
