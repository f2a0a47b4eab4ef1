"""Batches of select: entries: exactly the matching projects run, and a resume never
chooses again (each state backend)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from structlog.testing import capture_logs

from hexbatch import status
from hexbatch.batch import PreflightError
from hexbatch.cli.main import cli
from hexbatch.selection import Selection
from hexbatch.state import StateError, StateStore
from tests.engine.conftest import Harness, HarnessFactory, manifest, project, scenario


def pid(n: int) -> str:
    """A project id."""
    return f"{n:08d}-0000-4000-8000-000000000000"


def workspace(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    """Six projects: two Production nightly ones, and one miss of each filter.

    ``changes`` (by title) alter a project, e.g. between two nights.
    """
    projects = [
        project(pid(1), title="Costs", status="Production", categories=["nightly", "finance"]),
        project(pid(2), title="Revenue", status="Production", categories=["nightly"]),
        project(pid(3), title="Churn", status="Draft", categories=["nightly"]),
        project(pid(4), title="Ops", status="Production", categories=["weekly"]),
        project(
            pid(5), title="Draft", status="Production", categories=["nightly"], published=False
        ),
        project(
            pid(6), title="Retired", status="Production", categories=["nightly"], archived=True
        ),
    ]
    return [{**p, **changes.get(p["title"], {})} for p in projects]


NIGHTLY = {"select": {"categories": ["nightly"], "statuses": ["Production"]}}


async def test_exactly_the_matching_projects_are_triggered(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """categories [nightly] and statuses [Production] trigger Costs and Revenue, once per
    parameter set each, labelled by their titles; nothing else is triggered."""
    path = manifest(tmp_path, [{**NIGHTLY, "runs": [{"n": 1}, {"n": 2}]}])
    harness: Harness = harness_factory(scenario(workspace()))

    report = await harness.run(path)

    assert harness.ledger is not None
    triggered = sorted((run.project_id, run.params["n"]) for run in harness.ledger.runs)
    assert triggered == [(pid(1), 1), (pid(1), 2), (pid(2), 1), (pid(2), 2)]
    assert [(run.project, run.status) for run in report.runs] == [
        ("Costs", status.COMPLETED),
        ("Costs", status.COMPLETED),
        ("Revenue", status.COMPLETED),
        ("Revenue", status.COMPLETED),
    ]
    assert harness.ledger.requests["ListProjects"] == 1
    # Listed just now as published: the preflight asks nothing more about them.
    assert harness.ledger.requests["GetProject"] == 0


def test_run_simulate_triggers_exactly_the_matching_projects(tmp_path: Path) -> None:
    """The same through `hexbatch run --simulate`, with the scenario in the manifest."""
    path = manifest(tmp_path, [NIGHTLY], sim=scenario(workspace()))

    result = CliRunner().invoke(
        cli,
        ["run", str(path), "--simulate", "--no-progress", "--json", "-"],
        env={"GITHUB_STEP_SUMMARY": ""},
    )

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert sorted((run["project_id"], run["project"]) for run in body["runs"]) == [
        (pid(1), "Costs"),
        (pid(2), "Revenue"),
    ]


@pytest.fixture(name="stored")
def _stored(tmp_path: Path, state_location: str) -> HarnessFactory:
    def build(sim: dict[str, Any]) -> Harness:
        harness = Harness(tmp_path, sim)
        harness.options["state"] = state_location
        return harness

    return build


async def test_a_resumed_batch_runs_the_projects_it_chose_without_asking_again(
    tmp_path: Path, stored: Any, state_location: str
) -> None:
    """Night one chooses Costs and Revenue, Costs fails and --fail-fast leaves Revenue
    unstarted. By the resume the workspace changed (Revenue left nightly, Ops joined): the
    resume still runs Revenue, not Ops, and lists no project."""
    path = manifest(tmp_path, [NIGHTLY], defaults={"max_in_flight": 1})
    failing = {"Costs": {"outcome": {"default": "ERRORED"}}}
    first: Harness = stored(scenario(workspace(**failing)))
    night = await first.run(path, fail_fast=True)
    changed = {"Revenue": {"categories": ["weekly"]}, "Ops": {"categories": ["nightly"]}}
    resumed: Harness = stored(scenario(workspace(**changed)))

    report = await resumed.run(path)

    assert [(run.project, run.status) for run in night.runs] == [
        ("Costs", status.ERRORED),
        ("Revenue", status.SKIPPED),
    ]
    assert resumed.ledger is not None
    assert [run.project_id for run in resumed.ledger.runs] == [pid(2)]
    assert resumed.ledger.requests["ListProjects"] == 0
    assert [(run.project, run.status) for run in report.runs] == [
        ("Costs", status.ERRORED),
        ("Revenue", status.COMPLETED),
    ]
    with StateStore(state_location) as store:
        (batch,) = store.batches()
        kept = Selection.loads(store.selection(batch.id) or "")
    assert [p.title for p in kept.entries[0].projects] == ["Costs", "Revenue"]
    assert [p.kind for p in kept.entries[0].left_out] == ["unpublished"]


async def test_changed_filters_do_not_resume_the_batch(
    tmp_path: Path, stored: Any, state_location: str
) -> None:
    """A resume with other filters is refused before anything is sent; --new starts over
    and chooses again."""
    path = manifest(tmp_path, [NIGHTLY], defaults={"max_in_flight": 1})
    failing = {"Costs": {"outcome": {"default": "ERRORED"}}}
    await stored(scenario(workspace(**failing))).run(path, fail_fast=True)
    widened = manifest(tmp_path, [{"select": {"categories": ["nightly"]}}])
    refused: Harness = stored(scenario(workspace()))

    with pytest.raises(StateError, match=r"other filters than projects\[0\]"):
        await refused.run(widened)
    again: Harness = stored(scenario(workspace()))
    report = await again.run(widened, new=True)

    assert refused.ledger is not None
    assert sum(refused.ledger.requests.values()) == 0
    assert sorted(run.project for run in report.runs) == ["Churn", "Costs", "Revenue"]


async def test_skip_if_fresh_and_schedules(tmp_path: Path, harness_factory: HarnessFactory) -> None:
    """A project refreshed 1h ago is skipped under skip_if_fresh: 6h; one refreshed 2 days
    ago runs, with a warning that Hex also runs it on its own schedule."""
    daily = [{"trigger": "SCHEDULED", "every": "24h", "start": "1h"}]
    changes: dict[str, dict[str, Any]] = {
        "Costs": {"published_results_updated_at": "1h"},
        # Real time passes at time_scale 1 (freshness is judged by the wall clock): short runs.
        "Revenue": {
            "published_results_updated_at": "48h",
            "schedules": daily,
            "pending": 0.05,
            "duration": 0.1,
        },
    }
    path = manifest(tmp_path, [{**NIGHTLY, "skip_if_fresh": "6h"}])
    harness: Harness = harness_factory(scenario(workspace(**changes), time_scale=1.0))

    with capture_logs() as logs:
        report = await harness.run(path)

    assert [run.project for run in report.runs] == ["Revenue"]
    warnings = [e["message"] for e in logs if e["event"] == "plan_warning"]
    assert warnings == [
        f"projects[0]: 'Revenue' ({pid(2)}) has an enabled Hex schedule: it will also run on"
        " its own schedule"
    ]
    left = [e for e in logs if e["event"] == "project_left_out"]
    assert [(e["project"], e["reason"][:30]) for e in left] == [
        ("Costs", "published results updated 1h a"),
        ("Draft", "never published (only a publis"),
    ]


async def test_an_empty_selection_runs_nothing_and_says_so(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """A bulk refresh of a category nobody uses is not an error: nothing runs."""
    path = manifest(tmp_path, [{"select": {"categories": ["nobody"]}}])
    harness: Harness = harness_factory(scenario(workspace()))

    with capture_logs() as logs:
        report = await harness.run(path)

    assert report.runs == []
    assert report.ok
    assert [e["message"] for e in logs if e["event"] == "plan_warning"] == [
        "projects[0]: select {categories: [nobody]} chose no project",
        "the selection is empty: no select: entry chose a project, so they run nothing",
    ]


async def test_a_refused_listing_triggers_nothing(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """A token Hex refuses stops the batch at the selection, naming the cause."""
    path = manifest(tmp_path, [NIGHTLY])
    harness: Harness = harness_factory(scenario(workspace()))

    with pytest.raises(PreflightError, match="could not list the projects"):
        await harness.run(path, token="hxtp_not_this_one")
    assert harness.ledger is not None
    assert harness.ledger.runs == []
