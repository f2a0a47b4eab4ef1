"""The batch manifest: YAML in, a validated :class:`Manifest` out, with precise errors."""

from __future__ import annotations

from hexbatch.api.limits import Window
from hexbatch.manifest.durations import DateStep, parse_duration
from hexbatch.manifest.errors import ManifestError, ManifestIssue
from hexbatch.manifest.loader import load_manifest
from hexbatch.manifest.model import (
    DateRange,
    Limits,
    Manifest,
    Notification,
    PollSettings,
    ProjectSpec,
    RelativeDates,
    RetrySettings,
    RunOptions,
    SourceLocation,
    VersionChange,
)
from hexbatch.manifest.relative import DateExpr

__all__ = [
    "DateExpr",
    "DateRange",
    "DateStep",
    "Limits",
    "Manifest",
    "ManifestError",
    "ManifestIssue",
    "Notification",
    "PollSettings",
    "ProjectSpec",
    "RelativeDates",
    "RetrySettings",
    "RunOptions",
    "SourceLocation",
    "VersionChange",
    "Window",
    "load_manifest",
    "parse_duration",
]
