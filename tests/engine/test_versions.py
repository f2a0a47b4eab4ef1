"""VersionWatch: a project's version for the batch, and what a change does to it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hexbatch.engine.versions import VersionWatch
from hexbatch.manifest.loader import DEFAULT_POLL, DEFAULT_RETRIES, DEFAULT_RUN
from hexbatch.manifest.model import ProjectSpec, VersionChange


def _project(policy: VersionChange) -> ProjectSpec:
    spec = ProjectSpec(
        id="p",
        name="revenue",
        max_in_flight=None,
        timeout=60.0,
        poll=DEFAULT_POLL,
        retries=DEFAULT_RETRIES,
        run=DEFAULT_RUN,
    )
    return dataclasses.replace(spec, on_version_change=policy)


def test_only_stop_halts_and_only_on_a_new_version() -> None:
    """The first version is the batch's; seeing it again changes nothing; a new one halts
    a stop project and is merely recorded for the others."""
    cases: tuple[tuple[VersionChange, bool], ...] = (
        ("continue", False),
        ("warn", False),
        ("stop", True),
    )
    for policy, halted in cases:
        watch = VersionWatch()
        project = _project(policy)
        watch.observe(project, "7")
        watch.observe(project, "7")
        assert watch.halted == {}
        watch.observe(project, "8")
        assert watch.seen["p"] == ["7", "8"]
        assert ("p" in watch.halted) is halted


def test_a_resumed_batch_remembers_a_change_it_already_saw() -> None:
    """Seeded from stored attempts (oldest first), a change halts a stop project again,
    so resuming never triggers the rest on the new version."""
    watch = VersionWatch()
    project = _project("stop")
    watch.seed(project, "7")
    watch.seed(project, None)
    assert watch.halted == {}
    watch.seed(project, "8")
    assert "version 7 -> 8" in watch.halted["p"]
    assert watch.first["p"] == "7"


def test_the_engine_seeds_versions_from_resumed_attempts_oldest_first(tmp_path: Path) -> None:
    """A batch resumed after its project was re-published (stop) withholds the rest: the
    engine reads the versions its earlier attempts recorded, in trigger order."""
    from datetime import UTC, datetime, timedelta

    from hexbatch.engine import Engine, WorkItem
    from hexbatch.manifest import load_manifest
    from hexbatch.outcome import Attempt
    from hexbatch.plan import build_plan
    from tests.engine.fakes import UnusedHex

    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nprojects:\n  - id: 5a8591dd-4039-49df-9202-96385ba3eff8\n"
        "    on_version_change: stop\n    runs: [{n: 1}, {n: 2}, {n: 3}]\n",
        encoding="utf-8",
    )
    first, second, third = build_plan(load_manifest(path, env={})).items
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    later = Attempt(t0 + timedelta(minutes=5), run_id="b", status="COMPLETED", project_version="8")
    earlier = Attempt(t0, run_id="a", status="COMPLETED", project_version="7")
    engine = Engine(UnusedHex())

    engine._seed_versions([WorkItem(first, [later]), WorkItem(second, [earlier]), WorkItem(third)])

    watch = engine.ctx.versions
    assert watch.first[first.project_id] == "7"
    assert "version 7 -> 8" in watch.halted[first.project_id]
