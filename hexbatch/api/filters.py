"""Which projects to list: Hex's ListProjects filters, plus a title glob.

A :class:`ProjectFilter` turns into ListProjects' query parameters (arrays as
repeated parameters: Hex does not document their encoding, and repetition is
what OpenAPI's default ``form`` style means). Hex applies them; :meth:`matches`
checks a listed project again on this side, because a host that ignored a
filter would otherwise select, and a bulk refresh would trigger, far more
projects than asked for. That check is lenient wherever Hex's own rule is not
documented (names and emails compare without case; a project matches
``categories`` with any one of its categories), so it never drops a project Hex
chose. The collection cannot be checked again: projects do not list theirs.
The title glob (``fnmatch``: ``*``, ``?``, ``[abc]``; without case) is applied
here only: Hex has no such filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from hexbatch.api.models import Project

_ARRAYS = (("statuses", "statuses"), ("categories", "categories"))
_SINGLES = (("collection", "collectionId"), ("owner", "ownerEmail"), ("creator", "creatorEmail"))


def _fold(values: tuple[str, ...]) -> set[str]:
    return {value.casefold() for value in values}


@dataclass(frozen=True, slots=True)
class ProjectFilter:
    """ListProjects' filters (``statuses``, ``categories``, ``collection``, ``owner``,
    ``creator``) and a ``title`` glob; empty fields do not filter."""

    statuses: tuple[str, ...] = ()
    """Workspace status names; a project with any one of them matches."""
    categories: tuple[str, ...] = ()
    """Category names; a project with any one of them matches."""
    collection: str | None = None
    """A collection id."""
    owner: str | None = None
    """The owner's email."""
    creator: str | None = None
    """The creator's email."""
    title: str | None = None
    """A glob the title must match (without case); applied by hexbatch, not Hex."""

    @property
    def empty(self) -> bool:
        """True when nothing is filtered: every project matches."""
        return not (
            self.statuses
            or self.categories
            or self.collection
            or self.owner
            or self.creator
            or self.title
        )

    def api(self) -> ProjectFilter:
        """The part Hex applies (everything but the title)."""
        return ProjectFilter(
            self.statuses, self.categories, self.collection, self.owner, self.creator
        )

    def query_params(self) -> list[tuple[str, str]]:
        """ListProjects' query parameters, an array's values each in a parameter of its own."""
        params: list[tuple[str, str]] = []
        for field, name in _ARRAYS:
            params.extend((name, value) for value in getattr(self, field))
        for field, name in _SINGLES:
            value = getattr(self, field)
            if value is not None:
                params.append((name, value))
        return params

    def title_matches(self, title: str) -> bool:
        """Whether ``title`` matches the glob (always, without one)."""
        return self.title is None or fnmatchcase(title.casefold(), self.title.casefold())

    def matches(self, project: Project) -> bool:
        """Whether a listed project meets every filter that can be checked here."""
        if self.statuses and (project.status or "").casefold() not in _fold(self.statuses):
            return False
        if self.categories and _fold(self.categories).isdisjoint(_fold(project.categories)):
            return False
        for wanted, actual in ((self.owner, project.owner), (self.creator, project.creator)):
            if wanted is not None and wanted.casefold() != (actual or "").casefold():
                return False
        return self.title_matches(project.title)

    def describe(self) -> str:
        """The filters as a manifest would write them: ``statuses: [Production], title: 'Ex*'``."""
        parts = [
            f"{field}: [{', '.join(getattr(self, field))}]"
            for field, _ in _ARRAYS
            if getattr(self, field)
        ]
        parts += [
            f"{field}: {getattr(self, field)}"
            for field in ("collection", "owner", "creator")
            if getattr(self, field) is not None
        ]
        if self.title is not None:
            parts.append(f"title: {self.title!r}")
        return ", ".join(parts) or "(every project)"

    def as_json(self) -> dict[str, Any]:
        """The filters that are set, as JSON data (the keys a manifest's ``select:`` takes)."""
        data: dict[str, Any] = {}
        for field in ("statuses", "categories"):
            if getattr(self, field):
                data[field] = list(getattr(self, field))
        for field in ("collection", "owner", "creator", "title"):
            if getattr(self, field) is not None:
                data[field] = getattr(self, field)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProjectFilter:
        """The reverse of :meth:`as_json`."""
        return cls(
            statuses=tuple(data.get("statuses", ())),
            categories=tuple(data.get("categories", ())),
            collection=data.get("collection"),
            owner=data.get("owner"),
            creator=data.get("creator"),
            title=data.get("title"),
        )
