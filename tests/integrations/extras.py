"""The orchestrators are optional extras: their tests skip without them, except where
``HEXBATCH_REQUIRE_EXTRAS`` is set (CI installs them), where a missing one fails."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def require(module: str) -> ModuleType:
    """The module, or a skip of the calling test module when it is not installed."""
    if os.environ.get("HEXBATCH_REQUIRE_EXTRAS"):
        return importlib.import_module(module)
    found: ModuleType = pytest.importorskip(module, reason=f"the {module} extra is not installed")
    return found
