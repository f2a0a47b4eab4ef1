"""The installed package's version, read once from its metadata."""

from __future__ import annotations

import importlib.metadata
from functools import cache


@cache
def package_version() -> str:
    """hexbatch's version (``0.0.0`` in a source tree that was never installed)."""
    try:
        return importlib.metadata.version("hexbatch")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"
