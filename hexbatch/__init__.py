"""hexbatch: run Hex projects many times as one batch.

The public API is what this module exports; everything else is internal.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from hexbatch.outcome import Attempt, BatchReport, RunOutcome

try:
    __version__ = version("hexbatch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "Attempt",
    "BatchReport",
    "RunOutcome",
    "__version__",
]
