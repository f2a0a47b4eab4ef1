"""The validated manifest: effective settings per project, with defaults merged in."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hexbatch.api.filters import ProjectFilter
from hexbatch.api.limits import Window
from hexbatch.manifest.durations import DateStep
from hexbatch.manifest.relative import DateExpr

VersionChange = Literal["continue", "warn", "stop"]
"""``on_version_change``: what a project re-published during a batch does to it."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Client-side budgets for all API requests and for run triggers, each with several windows."""

    requests: tuple[Window, ...]
    triggers: tuple[Window, ...]


DEFAULT_LIMITS = Limits(
    requests=(Window(30, 60.0), Window(1800, 3600.0)),
    triggers=(Window(20, 60.0), Window(60, 3600.0)),
)


@dataclass(frozen=True, slots=True)
class PollSettings:
    """Status polling backoff in seconds: ``initial``, growing by ``multiplier`` up to ``max``."""

    initial: float
    max: float
    multiplier: float


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """``attempts`` re-triggers after the first run, when it ends in one of the ``on`` statuses."""

    attempts: int
    on: frozenset[str]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Options sent with each RunProject call (Hex's camelCase names are the engine's concern)."""

    update_published_results: bool
    use_cached_sql_results: bool
    view_id: str | None
    notifications: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where something was written: file and 1-based line and column."""

    file: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class RelativeDates:
    """A ``dates:`` range with a bound written relative to today (``end: yesterday``).

    Its dates are only known once there is a today: the plan resolves it into a
    :class:`DateRange` (:func:`hexbatch.manifest.resolve.resolve_dates`). ``at`` holds
    where each of its keys was written, for the errors found then.
    """

    param: str
    start: DateExpr
    end: DateExpr
    step: DateStep
    format: str
    at: Mapping[str, SourceLocation] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class DateRange:
    """One run per date from ``start`` to ``end`` inclusive, rendered with ``format``.

    ``written`` is the range as the manifest wrote it when a bound is relative to
    today; None for a range of fixed dates.
    """

    param: str
    start: dt.date
    end: dt.date
    step: DateStep
    format: str
    written: RelativeDates | None = None


@dataclass(frozen=True, slots=True)
class ProjectSpec:
    """One project entry of a manifest: effective settings and the inputs of its expansion.

    ``index`` is the entry's position under ``projects`` (for error paths);
    ``location`` is where it starts in the file. The hash uses the id and the
    index only, so specs can key dictionaries although they hold mappings.
    """

    id: str
    name: str
    max_in_flight: int | None
    timeout: float
    poll: PollSettings
    retries: RetrySettings
    run: RunOptions
    on_version_change: VersionChange = "warn"
    """What a re-publish of the project during the batch does: nothing, a warning, or
    no further triggers of the project (``stop``)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    runs: tuple[Mapping[str, Any], ...] | None = None
    matrix: Mapping[str, tuple[Any, ...]] | None = None
    include: tuple[Mapping[str, Any], ...] = ()
    exclude: tuple[Mapping[str, Any], ...] = ()
    dates: DateRange | RelativeDates | None = None
    """The date range; :class:`RelativeDates` until a plan resolves it against a today."""
    index: int = 0
    location: SourceLocation = field(default=SourceLocation("", 1, 1), compare=False)
    select: ProjectFilter | None = None
    """The projects Hex's filters choose, for an entry that names none by id (its ``id`` is
    empty; a plan runs the entry once per project its selection holds)."""
    skip_if_fresh: float | None = None
    """Seconds: a selected project whose published results are younger is left out."""

    def __hash__(self) -> int:
        return hash((self.id, self.index))

    @property
    def has_inputs(self) -> bool:
        """Tell whether any run of this project sends input parameters."""
        return bool(
            self.params
            or (self.runs and any(self.runs))
            or self.matrix
            or self.include
            or self.dates
        )


NotifyKind = Literal["webhook", "slack", "command"]
NotifyWhen = Literal["failure", "success", "finish"]
"""``on:`` of a notification: a batch where some run did not complete, one where every run
completed, or either."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One ``notify:`` entry: a message sent once, when the batch ends.

    ``url`` (webhook and slack) and ``command`` may hold secrets taken from
    ``${VAR}``: neither is part of ``repr``, and output shows them masked
    (:func:`hexbatch.notify.shown`).
    """

    kind: NotifyKind
    url: str = field(default="", repr=False)
    command: tuple[str, ...] = field(default=(), repr=False)
    on: frozenset[NotifyWhen] = frozenset({"finish"})
    timeout: float = 10.0
    """Seconds one attempt may take (an HTTP answer, or the command's exit)."""
    index: int = 0
    """The entry's position under ``notify`` (for messages)."""
    location: SourceLocation = field(default=SourceLocation("", 1, 1), compare=False)

    def wanted(self, ok: bool) -> bool:
        """Tell whether a batch that ended ``ok`` (every run completed) or not is told here."""
        return "finish" in self.on or ("success" if ok else "failure") in self.on


@dataclass(frozen=True, slots=True)
class Manifest:
    """A loaded, validated manifest (version 1).

    ``base_url`` is already the effective one for the manifest and the
    environment (``HEX_API_BASE_URL`` overrides the file); a command-line
    ``--base-url`` is applied with :meth:`with_base_url`.
    """

    source: Path
    sha256: str
    base_url: str
    token_env: str
    max_in_flight: int
    limits: Limits
    projects: tuple[ProjectSpec, ...]
    simulate: Mapping[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    """Things that load but probably do not mean what was written (the plan shows them)."""
    name: str = ""
    """Finds the manifest's batches in a state store, wherever the file is read: the
    top-level ``name:``, else the file name without its extension."""
    state: str | None = None
    """The manifest's ``state:``: its state store, a path relative to the manifest or a URL."""
    lease_ttl: float | None = None
    """Seconds a driver may go without renewing its batch's lease (None: the default)."""
    priority: str = "normal"
    """Who goes first when the token's quota is scarce: ``high``, ``normal`` or ``low``."""
    timezone: str | None = None
    """The IANA zone whose date is "today" for dates relative to today (``dates.timezone``;
    None: this machine's)."""
    notify: tuple[Notification, ...] = ()
    """Where the batch's end is told (webhooks, Slack, commands), in the manifest's order."""

    @property
    def relative_dates(self) -> bool:
        """True when some ``dates:`` range depends on which day is today."""
        return any(isinstance(spec.dates, RelativeDates) for spec in self.projects)

    @property
    def selectors(self) -> tuple[ProjectSpec, ...]:
        """The entries that choose their projects with ``select:``."""
        return tuple(spec for spec in self.projects if spec.select is not None)

    def with_base_url(self, base_url: str) -> Manifest:
        """Return a copy pointed at another API base URL (the ``--base-url`` override)."""
        return dataclasses.replace(self, base_url=base_url.rstrip("/"))
