"""Project entries that choose their projects with ``select:`` instead of naming an ``id``.

An entry has exactly one of the two. A ``select:`` holds Hex's ListProjects filters
(``statuses``, ``categories``, ``collection``, ``owner``, ``creator``) and a ``title``
glob; its ``params``, ``runs``, ``matrix`` and ``dates`` apply to every project it
chooses, and ``skip_if_fresh`` (a ``select:`` entry's only) leaves out the projects
whose published results are younger than that. Which projects are chosen is only
known through the API when a batch starts (:mod:`hexbatch.select`).
"""

from __future__ import annotations

from hexbatch.api.filters import ProjectFilter
from hexbatch.manifest.document import ProjectDoc, SelectDoc
from hexbatch.manifest.errors import KeyPath
from hexbatch.manifest.model import ProjectSpec


def project_filter(select: SelectDoc | None) -> ProjectFilter | None:
    """The filter a ``select:`` block writes (None without one)."""
    if select is None:
        return None
    return ProjectFilter(
        statuses=tuple(select.statuses or ()),
        categories=tuple(select.categories or ()),
        collection=select.collection,
        owner=select.owner,
        creator=select.creator,
        title=select.title,
    )


def entry_name(project: ProjectDoc, select: ProjectFilter | None) -> str:
    """The entry's label: its ``name``, else its id, else what it selects."""
    if project.name or project.id:
        return project.name or project.id or ""
    return f"select {select.describe()}" if select is not None else ""


def check_select(
    project: ProjectDoc, spec: ProjectSpec, path: KeyPath
) -> list[tuple[KeyPath, str]]:
    """The rules tying ``id``, ``select`` and the keys that only fit one of them."""
    if project.id is None and project.select is None:
        return [(path, "'id' is required (or 'select', to choose projects by Hex's filters)")]
    if project.id is not None and project.select is not None:
        return [
            (
                (*path, "select"),
                "an entry names one project (id) or chooses projects (select), not both",
            )
        ]
    problems: list[tuple[KeyPath, str]] = []
    if project.select is None and project.skip_if_fresh is not None:
        problems.append(
            (
                (*path, "skip_if_fresh"),
                "needs select: a project named by id always runs; skip_if_fresh leaves out"
                " the projects a select chooses whose published results are fresh",
            )
        )
    if project.select is not None and project.name is not None:
        problems.append(
            (
                (*path, "name"),
                "labels one project; each project a select chooses is labelled by its title in Hex",
            )
        )
    if project.select is not None and spec.run.view_id is not None:
        where: KeyPath = (*path, "run", "view_id") if project.run and project.run.view_id else path
        problems.append((where, "a saved view belongs to one project; a select chooses several"))
    return problems
