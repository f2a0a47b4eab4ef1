"""ProjectFilter: ListProjects' query parameters, and the check of what Hex listed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hexbatch.api.filters import ProjectFilter
from hexbatch.api.models import Project

LISTED = Project(
    id="00000000-0000-4000-8000-000000000001",
    title="Revenue — Nightly",
    type="PROJECT",
    description=None,
    last_published_at=None,
    last_edited_at=None,
    created_at=None,
    archived=False,
    status="Production",
    categories=("Nightly", "finance"),
    owner="Ana@Example.com",
    creator="bo@example.com",
)


@pytest.mark.parametrize(
    "wanted",
    [
        ProjectFilter(),
        ProjectFilter(statuses=("production",)),
        ProjectFilter(statuses=("Draft", "Production")),
        ProjectFilter(categories=("nightly", "weekly")),
        ProjectFilter(owner="ana@example.com", creator="BO@example.com"),
        ProjectFilter(collection="anything: Hex checked it"),
        ProjectFilter(title="revenue*"),
        ProjectFilter(title="*[Nn]ightly"),
    ],
)
def test_a_project_hex_chose_is_kept(wanted: ProjectFilter) -> None:
    """Leniency: names and emails without case, any one category, the collection unchecked."""
    assert wanted.matches(LISTED)


@pytest.mark.parametrize(
    "wanted",
    [
        ProjectFilter(statuses=("Draft",)),
        ProjectFilter(categories=("weekly",)),
        ProjectFilter(owner="bo@example.com"),
        ProjectFilter(creator="ana@example.com"),
        ProjectFilter(title="Revenue"),
        ProjectFilter(statuses=("Production",), title="Churn*"),
    ],
)
def test_a_project_a_filter_excludes_is_dropped(wanted: ProjectFilter) -> None:
    """What a host that ignored a filter listed anyway does not pass."""
    assert not wanted.matches(LISTED)


def test_a_project_without_a_status_fails_a_status_filter() -> None:
    """No status is not any status."""
    assert not ProjectFilter(statuses=("Production",)).matches(replace(LISTED, status=None))


def test_query_params_leave_the_title_out() -> None:
    """Hex has no title filter; the arrays repeat."""
    wanted = ProjectFilter(statuses=("A", "B"), collection="c", title="x*")

    assert wanted.query_params() == [("statuses", "A"), ("statuses", "B"), ("collectionId", "c")]
    assert wanted.api() == ProjectFilter(statuses=("A", "B"), collection="c")
    assert ProjectFilter().query_params() == []


def test_json_round_trip_and_description() -> None:
    """Only the filters set are written, as a manifest's select: writes them."""
    wanted = ProjectFilter(categories=("nightly",), owner="ana@example.com", title="Ex*")

    assert wanted.as_json() == {
        "categories": ["nightly"],
        "owner": "ana@example.com",
        "title": "Ex*",
    }
    assert ProjectFilter.from_json(wanted.as_json()) == wanted
    assert wanted.describe() == "categories: [nightly], owner: ana@example.com, title: 'Ex*'"
    assert ProjectFilter().empty
    assert not wanted.empty
