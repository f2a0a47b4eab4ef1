"""Scheduled and app-refresh runs that Hex starts on its own while the simulator serves."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hexbatch.simulator import Scenario, ledger_of
from hexbatch.simulator.demo import DASHBOARD, REVENUE
from tests.simulator.conftest import AUTH, BASE, OPEN, FakeClock, MakeClient, scenario_with
from tests.simulator.schema import check

Client = TestClient[Any, Any]
RUNS = f"/api/v1/projects/{OPEN}/runs"
AUTH_DEMO = {"Authorization": f"Bearer {Scenario.default().run_token.value}"}


def _scheduled(*schedules: dict[str, Any], **changes: Any) -> Scenario:
    """The test scenario with OPEN given ``schedules``."""
    projects = [*BASE["projects"]]
    projects[1] = {**projects[1], "schedules": list(schedules)}
    return scenario_with(projects=projects, **changes)


async def _listed(client: Client, query: str = "") -> list[dict[str, Any]]:
    response = await client.get(RUNS + query, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    check("ProjectRunsResponsePayload", body)
    runs: list[dict[str, Any]] = body["runs"]
    return runs


async def test_scheduled_runs_arrive_at_start_then_every(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """A schedule starting at 5 s every 10 s has made runs at 5, 15 and 25 by 30 s."""
    client = await make_client(
        _scheduled({"trigger": "SCHEDULED", "every": "10s", "start": 5}), clock=clock
    )
    counts = []
    for step in (0, 4.9, 0.1, 24.9):
        clock.advance(step)
        counts.append(len(await _listed(client)))
    runs = await _listed(client)

    assert counts == [0, 0, 1, 3]
    assert [run["runTrigger"] for run in runs] == ["SCHEDULED"] * 3
    created = [run.created_at - 1000 for run in ledger_of(client.app).scheduled]
    assert created == [5, 15, 25]
    assert {run.user for run in ledger_of(client.app).scheduled} == {"scheduler"}


async def test_scheduled_runs_follow_their_own_lifecycle(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """An app-refresh run is PENDING, then RUNNING, then ends in the schedule's outcome,
    as GetRunStatus reports it."""
    client = await make_client(
        _scheduled(
            {
                "trigger": "APP_REFRESH",
                "every": "1h",
                "pending": 2,
                "duration": 20,
                "outcome": "ERRORED",
            }
        ),
        clock=clock,
    )
    [listed] = await _listed(client)
    seen = []
    for step in (0, 2, 20):
        clock.advance(step)
        response = await client.get(f"{RUNS}/{listed['runId']}", headers=AUTH)
        body = await response.json()
        check("ProjectStatusResponsePayload", body)
        seen.append((body["status"], body["runTrigger"]))

    assert seen == [
        ("PENDING", "APP_REFRESH"),
        ("RUNNING", "APP_REFRESH"),
        ("ERRORED", "APP_REFRESH"),
    ]
    assert body["elapsedTime"] == 20_000


async def _history(make_client: MakeClient, reads: list[float]) -> list[tuple[str, ...]]:
    """Run ids and triggers listed after 40 s, with list reads at ``reads`` before that,
    and an API run created at 20 s, the moment a schedule falls due."""
    clock = FakeClock()
    client = await make_client(
        _scheduled(
            {"trigger": "SCHEDULED", "every": 10, "duration": {"min": 1, "max": 9}},
            {"trigger": "APP_REFRESH", "every": 20, "start": 10},
        ),
        clock=clock,
    )
    moment = 0.0
    for at in [*reads, 20]:
        clock.advance(at - moment)
        moment = at
        if at == 20:
            await client.post(RUNS, json={}, headers=AUTH)
        else:
            await _listed(client)
    clock.advance(40 - moment)
    runs = await _listed(client)
    return [(run["runId"], run["runTrigger"], run["status"]) for run in runs]


async def test_scheduled_runs_do_not_depend_on_when_clients_look(make_client: MakeClient) -> None:
    """The same scenario gives the same runs, ids, order and statuses whether the list was
    read often or not at all before."""
    often = await _history(make_client, [0, 3, 9.99, 10, 15, 19.99])
    never = await _history(make_client, [])

    assert often == never
    # Newest first; runs due at the same moment are listed in reverse schedule order,
    # and an API run created as a schedule falls due is newer than the schedule's run.
    assert [trigger for _, trigger, _ in never] == [
        "SCHEDULED",  # 40
        "APP_REFRESH",  # 30
        "SCHEDULED",  # 30
        "API",  # 20
        "SCHEDULED",  # 20
        "APP_REFRESH",  # 10
        "SCHEDULED",  # 10
        "SCHEDULED",  # 0
    ]


async def test_scheduled_runs_hold_no_kernel_of_ours(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """Runs of the scheduler do not count against the token users' kernel limit or peaks."""
    client = await make_client(
        _scheduled(
            {"trigger": "SCHEDULED", "every": 1, "duration": "1h"},
            limits={"kernel_limit": 1},
        ),
        clock=clock,
    )
    clock.advance(10)
    assert len(await _listed(client, "?statusFilter=RUNNING")) == 10
    first = await client.post(RUNS, json={}, headers=AUTH)
    second = await client.post(RUNS, json={}, headers=AUTH)
    ledger = ledger_of(client.app)

    assert (first.status, second.status) == (201, 503)
    assert ledger.peak_live == 1
    assert len(ledger.runs) == 1
    assert ledger.snapshot()["scheduled"] == {"SCHEDULED": 11}


async def test_filters_and_hosts_treat_scheduled_runs_by_trigger(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """runTriggerFilter picks runs of each schedule; the 2025 host never lists them."""
    schedules = (
        {"trigger": "SCHEDULED", "every": 10},
        {"trigger": "APP_REFRESH", "every": 15},
    )
    client = await make_client(_scheduled(*schedules), clock=clock)
    old_host = await make_client(
        _scheduled(*schedules, behaviour={"list_runs": "api_only"}), clock=clock
    )
    await client.post(RUNS, json={}, headers=AUTH)
    await old_host.post(RUNS, json={}, headers=AUTH)
    clock.advance(30)

    def triggers(runs: list[dict[str, Any]]) -> list[str]:
        return [run["runTrigger"] for run in runs]

    assert triggers(await _listed(client, "?runTriggerFilter=API")) == ["API"]
    assert triggers(await _listed(client, "?runTriggerFilter=APP_REFRESH")) == ["APP_REFRESH"] * 3
    assert triggers(await _listed(client, "?runTriggerFilter=SCHEDULED")) == ["SCHEDULED"] * 4
    assert len(await _listed(client)) == 8
    assert len((await (await old_host.get(RUNS, headers=AUTH)).json())["runs"]) == 1


async def test_time_scale_applies_to_schedules(make_client: MakeClient, clock: FakeClock) -> None:
    """With time_scale 0.05 a schedule every 10 scenario seconds fires every 0.5 s."""
    client = await make_client(
        _scheduled({"trigger": "SCHEDULED", "every": "10s"}, time_scale=0.05), clock=clock
    )
    clock.advance(1.49)
    assert len(await _listed(client)) == 3
    clock.advance(0.02)
    assert len(await _listed(client)) == 4


async def test_history_and_schedules_list_together(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """scheduled_runs (past history) keeps working beside schedules arriving now."""
    projects = [*BASE["projects"]]
    projects[1] = {
        **projects[1],
        "scheduled_runs": 2,
        "schedules": [{"trigger": "APP_REFRESH", "every": 60}],
    }
    client = await make_client(scenario_with(projects=projects), clock=clock)
    clock.advance(60)
    runs = await _listed(client)

    assert [run["runTrigger"] for run in runs] == ["APP_REFRESH"] * 2 + ["SCHEDULED"] * 2
    assert [run["status"] for run in runs] == ["PENDING", "COMPLETED", "COMPLETED", "COMPLETED"]


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ({"trigger": "API", "every": 10}, "trigger"),
        ({"trigger": "SCHEDULED", "every": "0.5s"}, "every"),
        ({"trigger": "SCHEDULED"}, "every"),
        ({"trigger": "SCHEDULED", "every": 10, "outcome": "RUNNING"}, "outcome"),
        ({"trigger": "SCHEDULED", "every": 10, "pending": {"min": 3, "max": 1}}, "pending"),
    ],
)
def test_bad_schedules_are_refused(schedule: dict[str, Any], problem: str) -> None:
    """A schedule with a wrong trigger, no or too short a period, or a non-terminal outcome
    is a ScenarioError naming the key."""
    with pytest.raises(ValueError, match=rf"projects\.1\.schedules\.0\.{problem}"):
        _scheduled(schedule)


def test_a_draft_cannot_have_schedules() -> None:
    """Schedules run the published version: an unpublished project cannot have them."""
    projects = [*BASE["projects"]]
    projects[2] = {**projects[2], "schedules": [{"trigger": "SCHEDULED", "every": 10}]}
    with pytest.raises(ValueError, match=r"projects\.2.*published"):
        scenario_with(projects=projects)


async def test_demo_lists_foreign_runs_unless_filtered(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """The demo scenario's revenue project gets scheduled runs and its dashboard app
    refreshes, so a client that does not ask for API runs sees them."""
    client = await make_client(Scenario.default(), clock=clock)
    clock.advance(5)  # 100 scenario seconds at the demo's time scale
    seen = {}
    for project in (REVENUE, DASHBOARD):
        path = f"/api/v1/projects/{project}/runs"
        every = await (await client.get(path, headers=AUTH_DEMO)).json()
        ours = await (await client.get(path + "?runTriggerFilter=API", headers=AUTH_DEMO)).json()
        seen[project] = ({run["runTrigger"] for run in every["runs"]}, ours["runs"])

    assert seen[REVENUE] == ({"SCHEDULED"}, [])
    assert seen[DASHBOARD] == ({"APP_REFRESH"}, [])
