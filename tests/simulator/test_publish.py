"""Re-publishing: runs created after a re-publication use the new project version."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hexbatch.simulator import ledger_of
from tests.simulator.conftest import (
    AUTH,
    BASE,
    DRAFT,
    MISSING,
    OPEN,
    FakeClock,
    MakeClient,
    scenario_with,
)
from tests.simulator.schema import TIMESTAMP, check

Client = TestClient[Any, Any]
RUNS = f"/api/v1/projects/{OPEN}/runs"
PUBLISH = f"/_sim/projects/{OPEN}/publish"


def _open(**changes: Any) -> list[dict[str, Any]]:
    """The test scenario's projects, OPEN (version 3) changed by ``changes``."""
    projects = [*BASE["projects"]]
    projects[1] = {**projects[1], "version": 3, **changes}
    return projects


async def _version_of_new_run(client: Client) -> Any:
    response = await client.post(RUNS, json={}, headers=AUTH)
    assert response.status == 201
    created = await response.json()
    status = await (await client.get(f"{RUNS}/{created['runId']}", headers=AUTH)).json()
    assert status["projectVersion"] == created["projectVersion"]
    return created["projectVersion"]


async def test_runs_after_a_republication_use_the_new_version(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """Runs created at or after each re-publication's time use its version."""
    republish = [{"at": 20, "version": 12}, {"at": "10s"}]  # any order in the file
    client = await make_client(scenario_with(projects=_open(republish=republish)), clock)
    versions = []
    for step in (0, 9.99, 0.01, 5, 5, 100):
        clock.advance(step)
        versions.append(await _version_of_new_run(client))
    dry = await (await client.post(RUNS, json={"dryRun": True}, headers=AUTH)).json()
    listed = await (await client.get(RUNS, headers=AUTH)).json()

    assert versions == ["3", "3", "4", "4", "12", "12"]
    assert dry["projectVersion"] == "12"
    assert [run["projectVersion"] for run in listed["runs"]] == list(reversed(versions))


async def test_a_late_listed_scheduled_run_keeps_its_version(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """A scheduled run due before a re-publication uses the old version even when
    nobody looked until after it."""
    projects = _open(
        schedules=[{"trigger": "SCHEDULED", "every": 10, "start": 5}], republish=[{"at": 10}]
    )
    client = await make_client(scenario_with(projects=projects), clock)
    clock.advance(30)
    listed = await (await client.get(RUNS, headers=AUTH)).json()

    assert [run["projectVersion"] for run in listed["runs"]] == ["4", "4", "3"]


async def test_publishing_while_serving(make_client: MakeClient, clock: FakeClock) -> None:
    """POST /_sim/projects/{id}/publish needs no token, moves the version on and the
    project's lastPublishedAt to now."""
    client = await make_client(clock=clock)
    before = await _version_of_new_run(client)
    clock.advance(30)
    response = await client.post(PUBLISH)
    body = await response.json()
    after = await _version_of_new_run(client)
    project = await (await client.get(f"/api/v1/projects/{OPEN}", headers=AUTH)).json()
    listed = await (await client.get("/api/v1/projects", headers=AUTH)).json()
    [in_list] = [item for item in listed["values"] if item["id"] == OPEN]

    assert response.status == 200
    assert body == {"projectId": OPEN, "projectVersion": "2"}
    assert (before, after) == ("1", "2")
    check("ProjectApiResource", project)
    assert TIMESTAMP.match(project["lastPublishedAt"])
    assert project["lastPublishedAt"] == ledger_of(client.app).snapshot()["runs"][1]["created_at"]
    assert in_list["lastPublishedAt"] == project["lastPublishedAt"]
    assert ledger_of(client.app).snapshot()["project_versions"][OPEN] == 2


async def test_published_version_can_be_given(make_client: MakeClient, clock: FakeClock) -> None:
    """A given version is used as is; one that does not move forward is refused with 400
    and changes nothing."""
    client = await make_client(clock=clock)
    jumped = await client.post(PUBLISH, json={"version": 20})
    back = await client.post(PUBLISH, json={"version": 15})
    same = await client.post(PUBLISH, json={"version": 20})

    assert (jumped.status, back.status, same.status) == (200, 400, 400)
    assert "versions only move forward" in (await back.json())["reason"]
    assert await _version_of_new_run(client) == "20"


async def test_publishing_cannot_overtake_the_scenario(
    make_client: MakeClient, clock: FakeClock
) -> None:
    """A version that a later scripted re-publication would undercut is refused; a plain
    re-publish is fine and the script still moves forward from it."""
    projects = _open(republish=[{"at": 100, "version": 9}])
    client = await make_client(scenario_with(projects=projects), clock)
    clock.advance(10)
    refused = await client.post(PUBLISH, json={"version": 9})
    plain = await client.post(PUBLISH)
    clock.advance(90)

    assert refused.status == 400
    assert (await plain.json())["projectVersion"] == "4"
    assert await _version_of_new_run(client) == "9"


async def test_publish_answer_follows_the_version_type(make_client: MakeClient) -> None:
    """With project_version_type: int the answer's projectVersion is an integer."""
    client = await make_client(scenario_with(behaviour={"project_version_type": "int"}))

    assert (await (await client.post(PUBLISH)).json())["projectVersion"] == 2


@pytest.mark.parametrize(
    ("path", "payload", "status"),
    [
        (PUBLISH, {"version": "8"}, 400),
        (PUBLISH, {"version": 0}, 400),
        (PUBLISH, {"version": True}, 400),
        (PUBLISH, {"colour": "red"}, 400),
        (PUBLISH, [1], 400),
        (f"/_sim/projects/{DRAFT}/publish", None, 400),
        (f"/_sim/projects/{MISSING}/publish", None, 404),
    ],
)
async def test_bad_publish_requests_change_nothing(
    make_client: MakeClient, path: str, payload: Any, status: int
) -> None:
    """A malformed body, a draft or an unknown project is refused; no version moves."""
    client = await make_client()
    response = await client.post(path, json=payload)

    assert response.status == status
    assert (await response.json())["reason"]
    assert ledger_of(client.app).snapshot()["project_versions"][OPEN] == 1


async def test_a_non_json_body_is_refused(make_client: MakeClient) -> None:
    """A body that is not JSON is a 400."""
    client = await make_client()
    response = await client.post(PUBLISH, data=b"{oops", headers={"Content-Type": "text/plain"})

    assert response.status == 400


@pytest.mark.parametrize(
    ("project", "match"),
    [
        (
            {"version": 5, "republish": [{"at": 10, "version": 7}, {"at": 20, "version": 6}]},
            r"projects\.1: .*from version 7 to 6",
        ),
        ({"version": 5, "republish": [{"at": 10, "version": 5}]}, "from version 5 to 5"),
        ({"published": False, "republish": [{"at": 10}]}, r"republish need a published"),
        ({"republish": [{"at": -1}]}, r"projects\.1\.republish\.0\.at"),
    ],
)
def test_bad_republications_are_refused(project: dict[str, Any], match: str) -> None:
    """Scripted versions must move forward, on a published project, at a time >= 0."""
    with pytest.raises(ValueError, match=match):
        scenario_with(projects=_open(**project))
