"""The preflight check refuses projects Hex reports archived or trashed, naming them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hexbatch.api.models import Project
from hexbatch.batch import PreflightError, preflight
from hexbatch.manifest import load_manifest
from hexbatch.plan import build_plan
from tests.engine.conftest import P1, P2, manifest


class _Projects:
    """Answers GetProject from Hex-shaped bodies."""

    def __init__(self, bodies: dict[str, dict[str, Any]]) -> None:
        self.bodies = bodies

    async def get_project(self, project_id: str) -> Project:
        return Project.from_json(self.bodies[project_id])

    async def list_projects(self) -> list[Project]:
        return [Project.from_json(body) for body in self.bodies.values()]


def _body(pid: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"id": pid, "title": title, "lastPublishedAt": "2025-01-01T00:00:00Z", **extra}


@pytest.mark.parametrize(
    ("field", "said"), [("archivedAt", "is archived"), ("trashedAt", "is in the trash")]
)
async def test_archived_or_trashed_projects_are_refused(
    tmp_path: Path, field: str, said: str
) -> None:
    """A published project Hex reports archived or trashed is refused with its name."""
    plan = build_plan(
        load_manifest(manifest(tmp_path, [{"id": P1, "name": "gone"}, {"id": P2, "name": "ok"}]))
    )
    client = _Projects(
        {
            P1: _body(P1, "Old revenue", **{field: "2025-02-01T00:00:00Z"}),
            P2: _body(P2, "Revenue"),
        }
    )

    with pytest.raises(PreflightError) as refused:
        # A fake answering GetProject: preflight takes the concrete HexClient, not a protocol.
        await preflight(client, plan)  # type: ignore[arg-type]

    message = str(refused.value)
    assert f"gone ({P1}): 'Old revenue' {said}" in message
    assert "nothing was triggered" in message
    assert P2 not in message
