"""Choosing the projects of select: entries through ListProjects (against the simulator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aioresponses import aioresponses

from hexbatch.api.client import HexClient
from hexbatch.manifest import Manifest, load_manifest
from hexbatch.select import resolve_selection
from hexbatch.simulator import Scenario, run_simulator

TOKEN = "hxtp_select_tests"


def pid(n: int) -> str:
    """A project id."""
    return f"00000000-0000-4000-8000-{n:012d}"


WORKSPACE: list[dict[str, Any]] = [
    {"id": pid(1), "title": "Revenue", "status": "Production", "categories": ["nightly"]},
    {"id": pid(2), "title": "Churn", "status": "Draft", "categories": ["nightly"]},
    {"id": pid(3), "title": "Ops", "status": "Production", "categories": ["weekly"]},
    {
        "id": pid(4),
        "title": "Costs",
        "status": "Production",
        "categories": ["nightly", "finance"],
        "schedules": [{"trigger": "SCHEDULED", "every": "24h"}],
    },
    {
        "id": pid(5),
        "title": "Draft model",
        "status": "Production",
        "categories": ["nightly"],
        "published": False,
    },
    {
        "id": pid(6),
        "title": "Retired",
        "status": "Production",
        "categories": ["nightly"],
        "archived": True,
    },
    {
        "id": pid(7),
        "title": "Refreshed",
        "status": "Production",
        "categories": ["nightly"],
        "published_results_updated_at": "2h",
    },
    {
        "id": pid(8),
        "title": "Stale",
        "status": "Production",
        "categories": ["nightly"],
        "published_results_updated_at": "30h",
    },
]


def scenario(projects: list[dict[str, Any]] = WORKSPACE) -> Scenario:
    """A workspace of these projects and one token."""
    return Scenario.from_mapping({"tokens": [{"value": TOKEN, "name": "t"}], "projects": projects})


def manifest(tmp_path: Path, *entries: dict[str, Any]) -> Manifest:
    """A manifest of these project entries."""
    path = tmp_path / "bulk.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "projects": list(entries)}), encoding="utf-8")
    return load_manifest(path, env={})


async def _resolve(tmp_path: Path, *entries: dict[str, Any], sim: Scenario | None = None) -> Any:
    async with run_simulator(sim or scenario()) as served:
        async with HexClient(served.base_url, served.token) as client:
            selection = await resolve_selection(
                client, manifest(tmp_path, *entries), now=datetime.now(UTC)
            )
        return selection, served.ledger


async def test_categories_and_statuses_choose_exactly_the_matching_runnable_projects(
    tmp_path: Path,
) -> None:
    """Production and nightly: archived ones are not even listed, an unpublished one is
    left out with the reason; the others are chosen, in title order, schedules marked."""
    selection, ledger = await _resolve(
        tmp_path, {"select": {"categories": ["nightly"], "statuses": ["Production"]}}
    )

    (entry,) = selection.entries
    assert [(p.title, p.scheduled) for p in entry.projects] == [
        ("Costs", True),
        ("Refreshed", False),
        ("Revenue", False),
        ("Stale", False),
    ]
    assert [(p.id, p.kind, p.reason) for p in entry.left_out] == [
        (pid(5), "unpublished", "never published (only a published version can be run)")
    ]
    assert ledger.project_queries == [
        {"limit": ["100"], "statuses": ["Production"], "categories": ["nightly"]}
    ]


async def test_skip_if_fresh_leaves_out_recently_refreshed_projects(tmp_path: Path) -> None:
    """Published results 2h old are fresh for 6h; 30h old are not."""
    selection, _ = await _resolve(
        tmp_path, {"select": {"categories": ["nightly"]}, "skip_if_fresh": "6h"}
    )

    (entry,) = selection.entries
    chosen = {p.title for p in entry.projects}
    fresh = [p for p in entry.left_out if p.kind == "fresh"]
    assert chosen == {"Revenue", "Churn", "Costs", "Stale"}
    assert [p.title for p in fresh] == ["Refreshed"]
    assert fresh[0].reason.startswith("published results updated 2h")
    assert fresh[0].reason.endswith("ago, within skip_if_fresh 6h")


async def test_entries_with_the_same_filters_share_one_listing(tmp_path: Path) -> None:
    """The title glob is applied here: both entries cost one ListProjects request."""
    selection, ledger = await _resolve(
        tmp_path,
        {"select": {"categories": ["nightly"]}},
        {"select": {"categories": ["nightly"], "title": "r*"}, "params": {"a": 1}},
    )

    every, titled = selection.entries
    assert len(every.projects) == 5
    assert [p.title for p in titled.projects] == ["Refreshed", "Revenue"]
    assert ledger.requests["ListProjects"] == 1


async def test_an_entry_choosing_nothing_is_not_an_error(tmp_path: Path) -> None:
    """A category nobody uses chooses nothing; the selection says so."""
    selection, _ = await _resolve(tmp_path, {"select": {"categories": ["nobody"]}})

    assert selection.entries[0].projects == ()
    assert selection.project_count == 0


async def test_what_a_host_that_ignores_the_filters_lists_is_never_chosen(
    tmp_path: Path,
) -> None:
    """Hex answering with the whole workspace must not turn a selection into everything."""
    base = "https://hex.example.com/api/v1"
    listed = {
        "values": [
            _resource(pid(1), "Revenue", "Production"),
            _resource(pid(3), "Ops", "Draft"),
            _resource(pid(9), "Archived", "Production", archivedAt="2026-01-01T00:00:00Z"),
        ],
        "pagination": {"after": None},
    }
    entries = manifest(tmp_path, {"select": {"statuses": ["Production"]}})
    with aioresponses() as http:
        http.get(f"{base}/projects?limit=100&statuses=Production", payload=listed)
        async with HexClient(base, TOKEN) as client:
            selection = await resolve_selection(client, entries, now=datetime.now(UTC))

    (entry,) = selection.entries
    assert [p.id for p in entry.projects] == [pid(1)]
    assert [(p.id, p.kind) for p in entry.left_out] == [(pid(9), "archived")]


def _resource(project_id: str, title: str, status: str, **extra: Any) -> dict[str, Any]:
    published = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    return {
        "id": project_id,
        "title": title,
        "type": "PROJECT",
        "status": {"name": status},
        "lastPublishedAt": published,
        "archivedAt": None,
        **extra,
    }


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        ({"trashedAt": "2026-01-01T00:00:00Z"}, "trashed"),
        ({"type": "COMPONENT"}, "component"),
        ({"lastPublishedAt": None}, "unpublished"),
    ],
)
async def test_projects_that_cannot_run_are_left_out(
    tmp_path: Path, extra: dict[str, Any], kind: str
) -> None:
    """Trashed, components and never published: each with its kind."""
    base = "https://hex.example.com/api/v1"
    listed = {"values": [_resource(pid(1), "X", "Production", **extra)], "pagination": {}}
    entries = manifest(tmp_path, {"select": {"statuses": ["Production"]}})
    with aioresponses() as http:
        http.get(f"{base}/projects?limit=100&statuses=Production", payload=listed)
        async with HexClient(base, TOKEN) as client:
            selection = await resolve_selection(client, entries, now=datetime.now(UTC))

    assert selection.entries[0].projects == ()
    assert [p.kind for p in selection.entries[0].left_out] == [kind]
