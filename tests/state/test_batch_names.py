"""Batches are found by the manifest's name, not by where its file sits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hexbatch.manifest import ManifestError, load_manifest
from hexbatch.plan import build_plan
from hexbatch.resume import open_batch
from hexbatch.state import StateStore

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
TEXT = """version: 1
{name}projects:
  - id: 5a8591dd-4039-49df-9202-96385ba3eff8
    dates: {{param: run_date, start: 2025-01-01, end: 2025-01-03}}
"""


def _write(folder: Path, file: str = "nightly.yaml", name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file
    path.write_text(TEXT.format(name=f"name: {name}\n" if name else ""), encoding="utf-8")
    return path


def _open(store: StateStore, path: Path) -> int:
    manifest = load_manifest(path, env={})
    opened = open_batch(
        store,
        manifest,
        build_plan(manifest),
        base_url="https://app.hex.tech/api/v1",
        version="test",
        now=NOW,
    )
    return opened.info.id


def test_the_same_manifest_elsewhere_resumes_its_batch(tmp_path: Path) -> None:
    """A checkout at another path (another runner) picks up the unfinished batch."""
    with StateStore(tmp_path / "state.db") as store:
        first = _open(store, _write(tmp_path / "runner-a" / "configs"))
        again = _open(store, _write(tmp_path / "runner-b" / "work" / "configs"))

        assert again == first
        info = store.batch(first)
        assert info.name == "nightly"


def test_name_beats_the_file_name_and_separates_manifests(tmp_path: Path) -> None:
    """name: finds batches whatever the file is called; two names are two batches."""
    with StateStore(tmp_path / "state.db") as store:
        named = _open(store, _write(tmp_path / "a", "one.yaml", name="revenue-nightly"))
        renamed = _open(store, _write(tmp_path / "b", "two.yaml", name="revenue-nightly"))
        other = _open(store, _write(tmp_path / "c", "one.yaml"))

        assert renamed == named
        assert other != named
        assert store.batch(other).name == "one"


def test_a_bad_name_names_file_line_and_key(tmp_path: Path) -> None:
    """A name must be a plain token (letters, digits, . _ -), else a manifest error."""
    path = _write(tmp_path, name="'night ly/../x'")

    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})

    assert f"{path}:2" in str(caught.value)
    assert "name" in str(caught.value)
