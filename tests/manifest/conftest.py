"""Helpers to write a manifest into a temporary file and load it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from hexbatch.manifest import Manifest, load_manifest

WriteManifest = Callable[[str], Path]
LoadText = Callable[..., Manifest]


@pytest.fixture
def write_manifest(tmp_path: Path) -> WriteManifest:
    """Return a function that writes dedented YAML to ``manifest.yaml`` and returns its path."""

    def write(text: str) -> Path:
        path = tmp_path / "manifest.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_text(write_manifest: WriteManifest) -> LoadText:
    """Return a function that loads a manifest from YAML text (with an empty environment)."""

    def load(text: str, env: Mapping[str, str] | None = None) -> Manifest:
        return load_manifest(write_manifest(text), env=env or {})

    return load
