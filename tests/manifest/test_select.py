"""Project entries with ``select:``: what loads, and the errors naming file, line and key."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from hexbatch.api.filters import ProjectFilter
from hexbatch.manifest import ManifestError
from hexbatch.manifest.schema import manifest_json_schema
from tests.manifest.conftest import LoadText

PID = "5a8591dd-4039-49df-9202-96385ba3eff8"


def test_a_select_entry_loads_with_its_filters(load_text: LoadText) -> None:
    """The filters, skip_if_fresh in seconds, and the inputs every selected project gets."""
    manifest = load_text(
        """
        version: 1
        projects:
          - select:
              statuses: [Production]
              categories: [nightly, finance]
              collection: 0c2f6a1e-93d4-4b6e-8f2a-5d7c1b9e0a34
              owner: ana@example.com
              creator: bo@example.com
              title: "Exec *"
            skip_if_fresh: 6h
            max_in_flight: 2
            params: {region: us}
          - {id: 5a8591dd-4039-49df-9202-96385ba3eff8}
        """
    )

    selector, named = manifest.projects
    assert selector.select == ProjectFilter(
        statuses=("Production",),
        categories=("nightly", "finance"),
        collection="0c2f6a1e-93d4-4b6e-8f2a-5d7c1b9e0a34",
        owner="ana@example.com",
        creator="bo@example.com",
        title="Exec *",
    )
    assert (selector.id, selector.skip_if_fresh, selector.max_in_flight) == ("", 21600.0, 2)
    assert selector.params == {"region": "us"}
    assert selector.name.startswith("select statuses: [Production]")
    assert (named.id, named.select, named.skip_if_fresh) == (PID, None, None)
    assert manifest.selectors == (selector,)


def _issues(load_text: LoadText, entry: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_text("version: 1\nprojects:\n" + entry)
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            f"  - id: {PID}\n    select: {{statuses: [Production]}}\n",
            "manifest.yaml:4:13: projects[0].select: an entry names one project (id) or"
            " chooses projects (select), not both",
        ),
        (
            "  - params: {a: 1}\n",
            "manifest.yaml:3:5: projects[0]: 'id' is required (or 'select', to choose projects"
            " by Hex's filters)",
        ),
        (
            "  - select: {statuses: [Production], team: data}\n",
            "manifest.yaml:3:38: projects[0].select.team: unknown key 'team'; known keys:"
            " statuses, categories, collection, owner, creator, title",
        ),
        (
            "  - select: {categorys: [nightly]}\n",
            "manifest.yaml:3:14: projects[0].select.categorys: unknown key 'categorys'"
            " (did you mean 'categories'?)",
        ),
        (
            "  - select: {}\n",
            "manifest.yaml:3:13: projects[0].select: selects nothing in particular: give at"
            " least one of statuses, categories, collection, owner, creator, title",
        ),
        (
            "  - select: {statuses: []}\n",
            "manifest.yaml:3:24: projects[0].select.statuses: is empty (list at least one item",
        ),
        (
            "  - select: {statuses: Production}\n",
            "manifest.yaml:3:24: projects[0].select.statuses: expected a list, got 'Production'",
        ),
        (
            "  - select: {owner: ana}\n",
            "manifest.yaml:3:21: projects[0].select.owner: 'ana' is not an email address",
        ),
        (
            "  - select: {title: ''}\n",
            "manifest.yaml:3:21: projects[0].select.title: must not be empty",
        ),
        (
            f"  - id: {PID}\n    skip_if_fresh: 6h\n",
            "manifest.yaml:4:20: projects[0].skip_if_fresh: needs select: a project named by id"
            " always runs",
        ),
        (
            "  - select: {statuses: [Production]}\n    skip_if_fresh: soon\n",
            "manifest.yaml:4:20: projects[0].skip_if_fresh: 'soon' is not a duration",
        ),
        (
            "  - select: {statuses: [Production]}\n    name: exec\n",
            "manifest.yaml:4:11: projects[0].name: labels one project; each project a select"
            " chooses is labelled by its title in Hex",
        ),
        (
            "  - select: {statuses: [Production]}\n    run: {view_id: v1}\n",
            "manifest.yaml:4:20: projects[0].run.view_id: a saved view belongs to one project;"
            " a select chooses several",
        ),
    ],
    ids=[
        "both",
        "neither",
        "unknown select key",
        "misspelt select key",
        "empty select",
        "empty list",
        "not a list",
        "bad email",
        "empty glob",
        "skip_if_fresh on an id",
        "bad skip_if_fresh",
        "name on a select",
        "view on a select",
    ],
)
def test_select_errors_name_file_line_and_key(
    load_text: LoadText, entry: str, expected: str
) -> None:
    """Each mistake is one issue, at the key that is wrong."""
    issues = _issues(load_text, entry)

    assert len(issues) == 1, issues
    where = issues[0].index("manifest.yaml")
    assert issues[0][where:].startswith(expected), issues


def test_the_json_schema_wants_exactly_one_of_id_and_select() -> None:
    """Editors flag an entry with both keys, or neither, as the loader does."""
    validator = jsonschema.Draft202012Validator(manifest_json_schema())

    def valid(entry: str) -> bool:
        return validator.is_valid(yaml.safe_load(f"version: 1\nprojects: [{entry}]"))

    assert valid(f"{{id: {PID}}}")
    assert valid("{select: {statuses: [Production]}, skip_if_fresh: 6h}")
    assert not valid(f"{{id: {PID}, select: {{statuses: [Production]}}}}")
    assert not valid("{params: {a: 1}}")
    assert not valid("{select: {}}")
