"""hexbatch: run Hex projects many times as one batch.

The public API is what this module exports; everything else is internal.
"""

from __future__ import annotations

from hexbatch.version import package_version as _package_version

__version__ = _package_version()

from hexbatch.api.client import HexClient, RequestStats, Timeouts
from hexbatch.api.filters import ProjectFilter
from hexbatch.api.limits import Window, WindowLimiter
from hexbatch.api.models import Project, RunCreated, RunInfo, RunsPage
from hexbatch.api.retry import Backoff, RetryPolicy
from hexbatch.batch import BatchOptions, BatchRun, PreflightError, run_batch
from hexbatch.clock import TimeSource
from hexbatch.engine import Control, Engine, EngineSettings
from hexbatch.engine.hexapi import HexService
from hexbatch.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    HexAPIError,
    HexbatchError,
    HexHTTPError,
    KernelLimitError,
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    RequestNotSentError,
    ServerError,
    ServiceUnavailableError,
    UnprocessableError,
)
from hexbatch.manifest import Manifest, ManifestError, Notification, load_manifest
from hexbatch.notify import Delivery
from hexbatch.outcome import Attempt, BatchReport, RunOutcome
from hexbatch.plan import Plan, RunSpec, build_plan
from hexbatch.select import resolve_selection
from hexbatch.selection import Selection

__all__ = [
    "Attempt",
    "AuthenticationError",
    "Backoff",
    "BadRequestError",
    "BatchOptions",
    "BatchReport",
    "BatchRun",
    "ConfigurationError",
    "Control",
    "Delivery",
    "Engine",
    "EngineSettings",
    "HexAPIError",
    "HexClient",
    "HexHTTPError",
    "HexService",
    "HexbatchError",
    "KernelLimitError",
    "MalformedResponseError",
    "Manifest",
    "ManifestError",
    "NotFoundError",
    "Notification",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "Plan",
    "PreflightError",
    "Project",
    "ProjectFilter",
    "RateLimitedError",
    "RequestNotSentError",
    "RequestStats",
    "RetryPolicy",
    "RunCreated",
    "RunInfo",
    "RunOutcome",
    "RunSpec",
    "RunsPage",
    "Selection",
    "ServerError",
    "ServiceUnavailableError",
    "TimeSource",
    "Timeouts",
    "UnprocessableError",
    "Window",
    "WindowLimiter",
    "__version__",
    "build_plan",
    "load_manifest",
    "resolve_selection",
    "run_batch",
]
