"""Each HexClient endpoint sends the right request and reads Hex's answer."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from aioresponses import aioresponses
from yarl import URL

from hexbatch import status
from hexbatch.api.client import HexClient
from hexbatch.api.filters import ProjectFilter
from hexbatch.api.models import Project
from tests.client.conftest import BASE, PROJECT, RUN, TOKEN, created_payload, run_payload

RUNS_URL = f"{BASE}/projects/{PROJECT}/runs"
STATUS_URL = f"{RUNS_URL}/{RUN}"


def _project(n: int, published: bool = True) -> dict[str, object]:
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "title": f"Project {n}",
        "description": None,
        "type": "PROJECT",
        "lastPublishedAt": "2025-01-01T00:00:00.000Z" if published else None,
        "lastEditedAt": "2025-01-01T00:00:00.000Z",
        "createdAt": "2024-12-01T00:00:00.000Z",
        "archivedAt": None,
    }


async def test_run_project_sends_inputs_and_options(http: aioresponses, client: HexClient) -> None:
    """A trigger posts inputParams and the run options in Hex's field names."""
    http.post(RUNS_URL, status=201, payload=created_payload())

    created = await client.run_project(
        PROJECT,
        {"run_date": "2025-01-01"},
        update_published_results=False,
        use_cached_sql_results=True,
        notifications=[{"type": "FAILURE", "includeSuccessScreenshot": False}],
    )

    assert created.run_id == RUN
    assert created.project_version == "3"
    (request,) = http.requests[("POST", URL(RUNS_URL))]
    assert request.kwargs["json"] == {
        "inputParams": {"run_date": "2025-01-01"},
        "updatePublishedResults": False,
        "useCachedSqlResults": True,
        "notifications": [{"type": "FAILURE", "includeSuccessScreenshot": False}],
    }
    assert request.kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request.kwargs["headers"]["User-Agent"].startswith("hexbatch/")
    assert client.stats["trigger"] == 1


async def test_dry_run_and_view_id_are_sent(http: aioresponses, client: HexClient) -> None:
    """dryRun and viewId reach the body; an empty input set sends no inputParams."""
    http.post(RUNS_URL, status=201, payload=created_payload())

    await client.run_project(PROJECT, {}, dry_run=True, view_id="view-1")

    (request,) = http.requests[("POST", URL(RUNS_URL))]
    assert request.kwargs["json"] == {"dryRun": True, "viewId": "view-1"}


async def test_view_id_with_inputs_is_refused_before_sending(client: HexClient) -> None:
    """Hex forbids viewId together with inputParams, so nothing is sent."""
    from hexbatch.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="view_id or input_params"):
        await client.run_project(PROJECT, {"a": 1}, view_id="v")

    assert client.stats.as_dict() == {}


async def test_run_status_reads_both_version_types_and_null_elapsed(
    http: aioresponses, client: HexClient
) -> None:
    """projectVersion may be an int or a string; elapsedTime is null until the run ends."""
    http.get(STATUS_URL, payload=run_payload(projectVersion="draft"))
    http.get(
        STATUS_URL,
        payload=run_payload(
            status.COMPLETED, endTime="2025-01-01T10:00:05Z", elapsedTime=4877.0, projectVersion=4
        ),
    )

    running = await client.get_run_status(PROJECT, RUN)
    done = await client.get_run_status(PROJECT, RUN)

    assert (running.status, running.project_version, running.elapsed_ms) == (
        "RUNNING",
        "draft",
        None,
    )
    assert not running.terminal
    assert running.start_time is not None
    assert running.start_time.microsecond == 123000
    assert done.terminal
    assert done.elapsed_ms == 4877.0
    assert done.project_version == "4"
    assert done.end_time is not None
    assert done.end_time.utcoffset() is not None


async def test_unknown_status_is_kept_and_not_terminal(
    http: aioresponses, client: HexClient
) -> None:
    """A status value Hex adds later is kept verbatim and does not end polling."""
    http.get(STATUS_URL, payload=run_payload("QUEUED_FOR_GPU"))

    info = await client.get_run_status(PROJECT, RUN)

    assert info.status == "QUEUED_FOR_GPU"
    assert not info.terminal


async def test_list_projects_follows_cursors_to_the_end(
    http: aioresponses, client: HexClient
) -> None:
    """ListProjects is read page by page until pagination.after is null."""
    first = {"values": [_project(1), _project(2)], "pagination": {"after": "c1", "before": None}}
    second = {"values": [_project(3, published=False)], "pagination": {"after": None}}
    http.get(re.compile(rf"^{re.escape(BASE)}/projects\?limit=100$"), payload=first)
    http.get(re.compile(rf"^{re.escape(BASE)}/projects\?.*after=c1"), payload=second)

    projects = await client.list_projects()

    assert [p.title for p in projects] == ["Project 1", "Project 2", "Project 3"]
    assert [p.published for p in projects] == [True, True, False]
    assert client.stats["projects"] == 2


async def test_get_project(http: aioresponses, client: HexClient) -> None:
    """GetProject returns one project's metadata."""
    http.get(f"{BASE}/projects/{PROJECT}", payload=_project(9))

    project = await client.get_project(PROJECT)

    assert project.title == "Project 9"
    assert project.published


async def test_list_runs_follows_offset_pages(http: aioresponses, client: HexClient) -> None:
    """GetProjectRuns is paged by offset while nextPage is set, newest first; every page
    keeps both filters (API-triggered runs only, and the status)."""
    page1 = {
        "runs": [run_payload(runId=f"r{i}") for i in range(2)],
        "nextPage": f"{RUNS_URL}?limit=2&offset=2",
        "previousPage": None,
        "traceId": "t",
    }
    page2 = {
        "runs": [run_payload(runId="r2")],
        "nextPage": None,
        "previousPage": "x",
        "traceId": "t",
    }
    http.get(
        f"{RUNS_URL}?limit=2&offset=0&statusFilter=RUNNING&runTriggerFilter=API", payload=page1
    )
    http.get(
        f"{RUNS_URL}?limit=2&offset=2&statusFilter=RUNNING&runTriggerFilter=API", payload=page2
    )

    runs = await client.list_runs(PROJECT, limit=2, status_filter="RUNNING")

    assert [r.run_id for r in runs] == ["r0", "r1", "r2"]
    assert client.stats["list"] == 2


async def test_list_runs_stops_at_max_runs(http: aioresponses, client: HexClient) -> None:
    """max_runs bounds how many pages are read."""
    page = {
        "runs": [run_payload(runId=f"r{i}") for i in range(3)],
        "nextPage": "more",
        "previousPage": None,
        "traceId": "t",
    }
    http.get(f"{RUNS_URL}?limit=3&offset=0&runTriggerFilter=API", payload=page)

    runs = await client.list_runs(PROJECT, limit=3, max_runs=2)

    assert [r.run_id for r in runs] == ["r0", "r1"]
    assert client.stats["list"] == 1


async def test_run_lists_can_ask_for_other_triggers_or_none(
    http: aioresponses, client: HexClient
) -> None:
    """The trigger filter is a choice: ALL lists everything, None sends no filter."""
    page: dict[str, object] = {"runs": [], "nextPage": None, "previousPage": None, "traceId": "t"}
    http.get(f"{RUNS_URL}?limit=5&offset=0&runTriggerFilter=ALL", payload=page)
    http.get(f"{RUNS_URL}?limit=5&offset=0", payload=page)

    await client.list_runs_page(PROJECT, limit=5, trigger_filter="ALL")
    await client.list_runs_page(PROJECT, limit=5, trigger_filter=None)

    sent = [str(url) for method, url in http.requests if method == "GET"]
    assert sent == [
        f"{RUNS_URL}?limit=5&offset=0&runTriggerFilter=ALL",
        f"{RUNS_URL}?limit=5&offset=0",
    ]


async def test_reads_ask_for_expanded_stats_and_keep_state_events(
    http: aioresponses, client: HexClient
) -> None:
    """Status and list reads send enable-expanded-stats; a trigger does not. Events of
    unknown types, and extra keys, are kept as they came; non-mapping items are dropped."""
    events = [
        {"type": "STATUS", "value": "PENDING", "timestamp": "2026-03-01T02:00:00.310Z"},
        {"type": "KERNEL", "value": "ALLOCATED", "timestamp": "2026-03-01T02:00:03.000Z", "n": 1},
        "noise",
        {"type": "STATUS", "value": "RUNNING", "timestamp": "2026-03-01T02:00:04.120Z"},
    ]
    http.get(STATUS_URL, payload=run_payload(stateEvents=events, projectVersion="12"))
    http.get(
        f"{RUNS_URL}?limit=1&offset=0&runTriggerFilter=API",
        payload={"runs": [run_payload()], "nextPage": None, "previousPage": None},
    )
    http.post(RUNS_URL, status=201, payload=created_payload())

    info = await client.get_run_status(PROJECT, RUN)
    page = await client.list_runs_page(PROJECT, limit=1)
    await client.run_project(PROJECT)

    assert info.project_version == "12"
    assert info.state_events is not None
    assert [event["value"] for event in info.state_events] == ["PENDING", "ALLOCATED", "RUNNING"]
    assert info.state_events[1]["n"] == 1
    assert page.runs[0].state_events is None
    assert (page.runs[0].listed, info.listed) == (True, False)
    asked = {
        method: request.kwargs["headers"].get("enable-expanded-stats")
        for (method, _url), requests in http.requests.items()
        for request in requests
    }
    assert asked == {"GET": "true", "POST": None}


async def test_rate_limit_headers_are_kept_per_kind(http: aioresponses, client: HexClient) -> None:
    """The last X-RateLimit-* trio and the last Retry-After of each kind are kept, with
    the header names matched in any case; a later answer without them keeps them."""
    http.get(
        STATUS_URL,
        payload=run_payload(),
        headers={
            "x-ratelimit-limit": "30",
            "X-RateLimit-Remaining": "29",
            "X-RateLimit-Reset": "42",
        },
    )
    http.get(STATUS_URL, payload=run_payload())
    http.post(
        RUNS_URL,
        status=429,
        payload={"reason": "Too many requests"},
        headers={"Retry-After": "7", "X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0"},
    )
    http.post(RUNS_URL, status=201, payload=created_payload())

    await client.get_run_status(PROJECT, RUN)
    await client.get_run_status(PROJECT, RUN)
    await client.run_project(PROJECT)

    status_seen = client.stats.limits["status"]
    assert (status_seen.limit, status_seen.remaining, status_seen.reset_s) == (30, 29, 42.0)
    assert status_seen.retry_after_s is None
    trigger_seen = client.stats.limits["trigger"].to_json()
    assert trigger_seen["limit"] == 20
    assert trigger_seen["remaining"] == 0
    assert trigger_seen["retry_after_s"] == 7.0
    assert trigger_seen["retry_after_at"] is not None
    assert "list" not in client.stats.limits


async def test_cancel_returns_true_on_204(http: aioresponses, client: HexClient) -> None:
    """CancelRun's 204 (no body) means Hex accepted the cancel."""
    http.delete(STATUS_URL, status=204)

    assert await client.cancel_run(PROJECT, RUN) is True
    assert client.stats["cancel"] == 1


async def test_cancelling_a_finished_run_is_not_an_error(
    http: aioresponses, client: HexClient
) -> None:
    """A 422 to a cancel (the run already ended) returns False instead of raising."""
    http.delete(STATUS_URL, status=422, payload={"reason": "Run already finished", "traceId": "t"})

    assert await client.cancel_run(PROJECT, RUN) is False


def test_repr_hides_the_token() -> None:
    """The client's repr never shows the token."""
    client = HexClient(BASE, TOKEN)

    assert TOKEN not in repr(client)
    assert "***" in repr(client)


async def test_list_projects_sends_the_filters_arrays_repeated(
    http: aioresponses, client: HexClient
) -> None:
    """Each filter is a query parameter; an array's values repeat the parameter, on every
    page; the title glob stays on this side (Hex has no such filter)."""
    wanted = ProjectFilter(
        statuses=("Production", "Staging"),
        categories=("nightly",),
        collection="c-1",
        owner="ana@example.com",
        creator="bo@example.com",
        title="Rev*",
    )
    first = {"values": [_project(1)], "pagination": {"after": "c1", "before": None}}
    second = {"values": [_project(2)], "pagination": {"after": None}}
    http.get(re.compile(rf"^{re.escape(BASE)}/projects\?(?!.*after)"), payload=first)
    http.get(re.compile(rf"^{re.escape(BASE)}/projects\?.*after=c1"), payload=second)

    projects = await client.list_projects(filters=wanted)

    assert [p.title for p in projects] == ["Project 1", "Project 2"]
    sent = [call_url for (method, call_url) in http.requests if method == "GET"]
    expected = [
        ("limit", "100"),
        ("statuses", "Production"),
        ("statuses", "Staging"),
        ("categories", "nightly"),
        ("collectionId", "c-1"),
        ("ownerEmail", "ana@example.com"),
        ("creatorEmail", "bo@example.com"),
    ]
    # The recorded URLs have their parameters sorted: compare them as sorted lists.
    assert [sorted(url.query.items()) for url in sent] == [
        sorted(expected),
        sorted([*expected, ("after", "c1")]),
    ]


def test_a_project_carries_what_a_selection_needs() -> None:
    """status.name, categories[].name, any enabled schedule, the published results' time
    and the owner's and creator's emails; absent or odd shapes read as unknown."""
    body = {
        **_project(1),
        "status": {"name": "Production"},
        "categories": [{"name": "nightly", "description": None}, {"description": "x"}],
        "schedules": [{"cadence": "DAILY", "enabled": False}, {"enabled": True}],
        "analytics": {"publishedResultsUpdatedAt": "2026-03-01T02:00:00.000Z"},
        "owner": {"email": "ana@example.com"},
        "creator": {"email": "bo@example.com"},
    }

    project = Project.from_json(body)
    bare = Project.from_json({**_project(2), "status": None, "schedules": "?", "analytics": 3})

    assert project.status == "Production"
    assert project.categories == ("nightly",)
    assert project.schedules_enabled
    assert project.published_results_updated_at == datetime(2026, 3, 1, 2, tzinfo=UTC)
    assert (project.owner, project.creator) == ("ana@example.com", "bo@example.com")
    assert (bare.status, bare.categories, bare.schedules_enabled) == (None, (), False)
    assert bare.published_results_updated_at is None
