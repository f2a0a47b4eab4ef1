"""The scenario: what the simulated Hex workspace contains and how it behaves.

A scenario is YAML (or an equivalent mapping). Every duration is in *scenario
seconds*: a number, or a string such as ``250ms``, ``2s``, ``5m`` or ``1h``. The
simulator multiplies each one by ``time_scale`` to get real seconds, so a scenario
written in real minutes can run in seconds (``time_scale: 0.01`` makes a scenario
minute last 0.6 s). That applies to run durations, rate-limit windows and fault
delays alike, so one knob speeds everything up consistently.

Anchors and aliases are allowed, but a file whose aliases expand to more than
``MAX_EXPANDED_NODES`` values (an alias bomb) is refused before anything expands.

Example::

    seed: 7                      # makes durations, outcomes and ids repeatable
    time_scale: 0.05
    tokens:
      - {value: hxtp_demo_run, name: demo, user: demo@example.com}
      - {value: hxtp_demo_read, name: reader, read_only: true}   # 403 on RunProject
    projects:
      - id: 5a8591dd-4039-49df-9202-96385ba3eff8
        title: Daily revenue
        published: true          # false -> RunProject and GetProjectRuns answer 422
        version: 4               # projectVersion in payloads (until a re-publication)
        inputs:                  # omit to accept any inputParams unchecked
          run_date: {type: date} # string | number | integer | boolean | date | any
          region: {type: string, choices: [us, eu]}
        pending: 2s              # fixed, or {min: 1s, max: 5s}
        duration: {min: 20, max: 90}   # drawn from seed, params and attempt
        outcome:
          default: COMPLETED
          rules:                 # first matching rule wins
            - when: {run_date: "2025-01-09"}
              status: ERRORED
            - when: {region: eu}
              status: UNABLE_TO_ALLOCATE_KERNEL
              first_attempts: 1  # only the first attempt of these params
        status: Production       # the workspace status (status.name; default none)
        categories: [nightly, finance]   # category names (categories[].name)
        collection: 0c2f6a1e-93d4-4b6e-8f2a-5d7c1b9e0a34  # its collection (collectionId)
        creator: ana@example.com # creator.email (default: owner); owner: owner.email
        archived: false          # archived or trashed projects are left out of ListProjects
        trashed: false           # unless it asks for them (includeArchived, includeTrashed)
        published_results_updated_at: 3h   # analytics.publishedResultsUpdatedAt: an ISO time,
                                 # or how long before the simulator started (wall-clock time,
                                 # never scaled: like createdAt); default lastPublishedAt
        scheduled_runs: 0        # past SCHEDULED runs, one per scenario hour before start
        schedules:               # runs Hex starts itself while the simulator serves, as user
                                 # "scheduler" (outside the tokens' kernel and rate limits)
          - trigger: SCHEDULED   # SCHEDULED | APP_REFRESH (their runTrigger)
            every: 10m           # one at start, start + every, ... (at least 1s)
            start: 30s           # since the simulator started (default 0)
            duration: 45s        # like a project's (default 30s)
            pending: 1s          # like a project's (default 1s)
            outcome: COMPLETED   # their terminal status (default COMPLETED)
            enabled: true        # false: listed in the project's schedules[], runs nothing
            cadence: DAILY       # schedules[].cadence (HOURLY | DAILY | WEEKLY | MONTHLY |
                                 # CUSTOM; default from every: 1h, 1d, 7d, else CUSTOM)
        republish:               # runs created at or after `at` use the new version
          - {at: 5m}             # version: the previous one + 1 (here 5)
          - {at: 1h, version: 9} # or given; versions only move forward
        # POST /_sim/projects/{id}/publish (no token; optional body {"version": n})
        # re-publishes while serving and answers {"projectId", "projectVersion"}.
    limits:                      # fixed windows per token user; windows scale too
      # every request; the default is Hex's documented hex-api group (2026)
      requests: [{count: 30, per: 1m}, {count: 1800, per: 1h}]
      run_project: [{count: 20, per: 1m}, {count: 60, per: 1h}]
      kernel_limit: 25           # live runs per user before RunProject gets 503
    faults:                      # evaluated per request of the named operation
      - {operation: RunProject, kind: error, status: 502, every_nth: 5}
      - {operation: GetRunStatus, kind: latency, delay: 1s, probability: 0.1}
      - {operation: RunProject, kind: reset, every_nth: 7, max_times: 1}
      - {operation: GetRunStatus, kind: not_found, delay: 2s, every_nth: 1}
      - {operation: GetProjectRuns, kind: list_lag, delay: 5s, every_nth: 1}
      - {operation: RunProject, kind: late_create, delay: 35s, every_nth: 4, max_times: 1}
      # kinds: latency (delay, then serve), error (500/502/504 before anything),
      # reset (serve, then drop the connection: the run exists), slow (serve, then
      # wait `delay` before answering), malformed (truncated JSON body),
      # flap (a live run reports PENDING<->RUNNING swapped),
      # not_found (GetRunStatus only: 404 for a run younger than `delay`, or for every
      # selected read when `delay` is omitted: read-after-write lag, or a lost run),
      # list_lag (GetProjectRuns only: the list leaves out runs younger than `delay`),
      # late_create (RunProject only: held `delay`, then the run is created even if the
      # client gave up and disconnected meanwhile)
    behaviour:                   # where Hex's sources disagree; defaults: today's Hex
      project_version_type: string  # string (2026) | int (2025): status, lists, 201
      unknown_inputs: ignore     # ignore | reject (422 with notFound)
      cancel_finished: no_content  # no_content (204) | unprocessable (422)
      list_runs: filtered        # filtered: every trigger type, narrowed by runTriggerFilter
                                 # (API | SCHEDULED | APP_REFRESH | ALL; else 400), as in 2026;
                                 # api_only: API runs only, the parameter ignored and no
                                 # runTrigger field (the 2025 host); all: a host that ignores
                                 # the parameter and lists every type
      error_envelope: tsoa       # tsoa {reason, traceId} | new {message, code, issues}
      rate_limit_reset: seconds  # X-RateLimit-Reset as seconds to wait | epoch_seconds | epoch_ms
      retry_after: true          # false: a 429 carries no Retry-After header
      # GetRunStatus with the header enable-expanded-stats: true adds stateEvents
      # ([{type: STATUS, value: PENDING|RUNNING|<end>, timestamp}]) and flagConfigOverride
      list_state_events: false   # true: run list items carry them too, header or not
      extra_state_events: false  # true: a KERNEL/ALLOCATED event before RUNNING (lenience)
    preexisting_runs:            # runs another client created before the simulator starts
      - project: 5a8591dd-4039-49df-9202-96385ba3eff8
        status: PENDING          # PENDING (no startTime yet) | RUNNING (started mid-age)
        age: 10m                 # how long ago it was created (default 0)
        params: {run_date: "2025-01-01"}
        token: demo              # a token's name or value (default: the first token)
      # The same entry as JSON, POSTed to /_sim/runs, seeds one while serving.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from yaml.constructor import SafeConstructor

from hexbatch.errors import ScenarioError

OPERATIONS = (
    "ListProjects",
    "GetProject",
    "RunProject",
    "GetRunStatus",
    "GetProjectRuns",
    "CancelRun",
)
Operation = Literal[
    "ListProjects", "GetProject", "RunProject", "GetRunStatus", "GetProjectRuns", "CancelRun"
]
ResetStyle = Literal["seconds", "epoch_seconds", "epoch_ms"]
RunTrigger = Literal["API", "SCHEDULED", "APP_REFRESH"]
RUN_TRIGGERS: tuple[RunTrigger, ...] = ("API", "SCHEDULED", "APP_REFRESH")
RUN_TRIGGER_FILTERS = (*RUN_TRIGGERS, "ALL")
TerminalStatus = Literal["COMPLETED", "ERRORED", "KILLED", "UNABLE_TO_ALLOCATE_KERNEL"]

_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


# Values a scenario may hold once aliases are expanded: far above any real scenario
# (a thousand projects are about 30,000), far below what would exhaust memory.
MAX_EXPANDED_NODES = 200_000

try:  # the C parser is faster and gives the same nodes and marks
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


def parse_duration(value: Any) -> Any:
    """Turn ``250ms``/``2s``/``5m``/``1h`` or a number into seconds; pass other values on."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use seconds or e.g. 250ms, 2s, 5m, 1h)")
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


def _span(value: Any) -> Any:
    """Accept a fixed duration or a ``{min, max}`` mapping of durations."""
    if isinstance(value, Mapping):
        return {k: parse_duration(v) if k in ("min", "max") else v for k, v in value.items()}
    return parse_duration(value)


def _one_or_many(value: Any) -> Any:
    """Let a single window mapping stand for a list of one."""
    return [value] if isinstance(value, Mapping) else value


Seconds = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpanRange(_Model):
    """A duration drawn uniformly between ``min`` and ``max`` (scenario seconds)."""

    min: Seconds
    max: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max < self.min:
            raise ValueError("max must not be below min")
        return self


Span = Annotated[float | SpanRange, BeforeValidator(_span)]


class Token(_Model):
    """An API token; runs count against its ``user`` for the kernel and rate limits."""

    value: str = Field(min_length=1)
    name: str = ""
    user: str | None = None
    read_only: bool = False

    @property
    def owner(self) -> str:
        """The user the token acts for (its name, or the value itself when unnamed)."""
        return self.user or self.name or self.value


class InputSpec(_Model):
    """A published app input: its type and, optionally, the values it allows."""

    type: Literal["string", "number", "integer", "boolean", "date", "any"] = "any"
    choices: list[Any] | None = None
    cell_type: str | None = None


class OutcomeRule(_Model):
    """Params matching ``when`` (a subset) end in ``status``, maybe only on early attempts."""

    when: dict[str, Any]
    status: TerminalStatus
    first_attempts: int | None = Field(default=None, ge=1)


class Outcome(_Model):
    """The final status of a run: the first matching rule's, else the default."""

    default: TerminalStatus = "COMPLETED"
    rules: list[OutcomeRule] = Field(default_factory=list)


Cadence = Literal["HOURLY", "DAILY", "WEEKLY", "MONTHLY", "CUSTOM"]
_CADENCE_OF_EVERY: dict[float, Cadence] = {3600.0: "HOURLY", 86400.0: "DAILY", 604800.0: "WEEKLY"}


class Schedule(_Model):
    """Runs Hex starts on its own: at ``start``, ``start + every``, ... since the simulator
    started (scenario seconds), as user ``scheduler``, outside the token users' limits.

    A ``SCHEDULED`` one is also one of the project's ``schedules[]`` in its project
    resource; a disabled one is listed there and starts nothing.
    """

    trigger: Literal["SCHEDULED", "APP_REFRESH"]
    # At least a scenario second: runs are kept for the simulator's lifetime.
    every: Annotated[float, BeforeValidator(parse_duration), Field(ge=1)]
    start: Seconds = 0.0
    duration: Span = 30.0
    pending: Span = 1.0
    outcome: TerminalStatus = "COMPLETED"
    enabled: bool = True
    cadence: Cadence | None = None

    @property
    def listed_cadence(self) -> Cadence:
        """The cadence its project resource shows: as given, else read from ``every``."""
        return self.cadence or _CADENCE_OF_EVERY.get(self.every, "CUSTOM")


class Republish(_Model):
    """A re-publication ``at`` scenario seconds after start: runs from then on use
    ``version`` (default: the previous version plus one)."""

    at: Seconds
    version: int | None = Field(default=None, ge=1)


def fold_versions(base: int, versions: Iterable[int | None]) -> list[int]:
    """The version after each re-publication, in time order, starting from ``base``.

    A re-publication without a version adds one; one with a version must move
    forward (Hex numbers every published version anew), or ValueError says which.
    """
    current, result = base, []
    for index, version in enumerate(versions):
        if version is not None and version <= current:
            raise ValueError(
                f"re-publication {index + 1} would go from version {current} to {version}; "
                "versions only move forward"
            )
        current = current + 1 if version is None else version
        result.append(current)
    return result


def _moment_or_age(value: Any) -> Any:
    """An ISO 8601 time (naive means UTC), or a duration: how long before the start."""
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return parse_duration(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return parse_duration(value)


MomentOrAge = Annotated[
    dt.datetime | Annotated[float, Field(ge=0)], BeforeValidator(_moment_or_age)
]


class Project(_Model):
    """A project in the simulated workspace."""

    id: str = Field(pattern=_UUID)
    title: str = Field(min_length=1)
    description: str | None = None
    published: bool = True
    version: int = Field(default=1, ge=1)
    owner: str = "owner@example.com"
    creator: str | None = None
    status: str | None = Field(default=None, min_length=1)
    categories: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    collection: str | None = Field(default=None, min_length=1)
    archived: bool = False
    trashed: bool = False
    published_results_updated_at: MomentOrAge | None = None
    inputs: dict[str, InputSpec] | None = None
    pending: Span = 2.0
    duration: Span = 60.0
    outcome: Outcome = Field(default_factory=Outcome)
    scheduled_runs: int = Field(default=0, ge=0)
    schedules: list[Schedule] = Field(default_factory=list)
    republish: list[Republish] = Field(default_factory=list)

    @model_validator(mode="after")
    def _published_if_scheduled(self) -> Self:
        for key in ("schedules", "republish"):
            if getattr(self, key) and not self.published:
                raise ValueError(f"{key} need a published project (published: true)")
        fold_versions(self.version, (entry.version for entry in self.republications))
        return self

    @property
    def created_by(self) -> str:
        """The creator's email (the owner's unless given)."""
        return self.creator or self.owner

    @property
    def republications(self) -> list[Republish]:
        """The re-publications in time order (entries at the same time in file order)."""
        return sorted(self.republish, key=lambda entry: entry.at)


class Window(_Model):
    """At most ``count`` requests per fixed window of ``per`` scenario seconds."""

    count: int = Field(ge=1)
    per: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


Windows = Annotated[list[Window], BeforeValidator(_one_or_many)]


class Limits(_Model):
    """Hex's limits; the defaults are the documented ones (2026).

    Every request counts against ``requests``: Hex's default ``hex-api`` group allows
    30 per minute and 1,800 per hour. RunProject also counts against ``run_project``.
    """

    requests: Windows = Field(
        default_factory=lambda: [Window(count=30, per=60), Window(count=1800, per=3600)]
    )
    run_project: Windows = Field(
        default_factory=lambda: [Window(count=20, per=60), Window(count=60, per=3600)]
    )
    kernel_limit: int = Field(default=25, ge=1)


FaultKind = Literal[
    "latency", "error", "reset", "slow", "malformed", "flap", "not_found", "list_lag", "late_create"
]
# Kinds that only make sense for one operation: they model how that endpoint lags.
_KIND_OPERATION = {
    "not_found": "GetRunStatus",
    "list_lag": "GetProjectRuns",
    "late_create": "RunProject",
}
_KIND_NEEDS_DELAY = ("list_lag", "late_create")


class Fault(_Model):
    """A fault injected into requests of one operation (or ``*`` for all)."""

    operation: Operation | Literal["*"]
    kind: FaultKind
    probability: float | None = Field(default=None, ge=0, le=1)
    every_nth: int | None = Field(default=None, ge=1)
    status: Literal[500, 502, 504] = 500
    delay: Seconds | None = None
    max_times: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_trigger(self) -> Self:
        if (self.probability is None) == (self.every_nth is None):
            raise ValueError("give exactly one of probability or every_nth")
        wanted = _KIND_OPERATION.get(self.kind)
        if wanted is not None and self.operation != wanted:
            raise ValueError(f"a {self.kind} fault applies to operation {wanted} only")
        if self.kind in _KIND_NEEDS_DELAY and self.delay is None:
            raise ValueError(f"a {self.kind} fault needs a delay")
        return self

    @property
    def wait(self) -> float:
        """The fault's delay in scenario seconds (0 when none was given)."""
        return self.delay or 0.0


class PreexistingRun(_Model):
    """A run another client created before the simulator started serving (a foreign run)."""

    project: str = Field(pattern=_UUID)
    status: Literal["PENDING", "RUNNING"] = "PENDING"
    params: dict[str, Any] = Field(default_factory=dict)
    age: Seconds = 0.0
    token: str | None = None


class Behaviour(_Model):
    """Choices where Hex's sources disagree (hex-api.md section 9)."""

    project_version_type: Literal["int", "string"] = "string"
    unknown_inputs: Literal["ignore", "reject"] = "ignore"
    cancel_finished: Literal["no_content", "unprocessable"] = "no_content"
    list_runs: Literal["filtered", "api_only", "all"] = "filtered"
    error_envelope: Literal["tsoa", "new"] = "tsoa"
    rate_limit_reset: ResetStyle = "seconds"
    retry_after: bool = True
    list_state_events: bool = False
    extra_state_events: bool = False


class Scenario(_Model):
    """A validated scenario: tokens, projects, limits, faults and behaviour choices."""

    seed: int = 0
    time_scale: float = Field(default=1.0, gt=0)
    tokens: list[Token] = Field(min_length=1)
    projects: list[Project] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    faults: list[Fault] = Field(default_factory=list)
    behaviour: Behaviour = Field(default_factory=Behaviour)
    preexisting_runs: list[PreexistingRun] = Field(default_factory=list)
    _source: str = PrivateAttr(default="<inline>")

    @model_validator(mode="after")
    def _unique(self) -> Self:
        for what, values in (
            ("tokens", [t.value for t in self.tokens]),
            ("projects", [p.id.lower() for p in self.projects]),
        ):
            if len(set(values)) != len(values):
                raise ValueError(f"{what} must be unique")
        for index, seeded in enumerate(self.preexisting_runs):
            if self.project(seeded.project) is None:
                raise ValueError(f"preexisting_runs.{index}.project: no such project in projects")
            if seeded.token is not None and self.token_named(seeded.token) is None:
                raise ValueError(f"preexisting_runs.{index}.token: no token by that name or value")
        return self

    @property
    def source(self) -> str:
        """Where the scenario came from (a file path or ``<inline>``)."""
        return self._source

    @classmethod
    def from_mapping(cls, data: Any, source: str = "<inline>") -> Scenario:
        """Validate a mapping (for example a manifest's inline ``simulate:`` block)."""
        return _validate(data, source, {})

    @classmethod
    def default(cls) -> Scenario:
        """The built-in demo scenario (the same as ``configs/demo-scenario.yaml``)."""
        from hexbatch.simulator.demo import DEMO_SCENARIO

        return _validate(DEMO_SCENARIO, "<demo>", {})

    def project(self, project_id: str) -> Project | None:
        """Find a project by id (case-insensitive, as UUIDs are)."""
        wanted = project_id.lower()
        return next((p for p in self.projects if p.id.lower() == wanted), None)

    def token(self, value: str) -> Token | None:
        """Find a token by its value."""
        return next((t for t in self.tokens if t.value == value), None)

    def token_named(self, name: str) -> Token | None:
        """Find a token by its name, or else by its value."""
        by_name = next((t for t in self.tokens if t.name == name), None)
        return by_name or self.token(name)

    @property
    def run_token(self) -> Token:
        """The first token allowed to run projects."""
        for token in self.tokens:
            if not token.read_only:
                return token
        raise ScenarioError(f"{self.source}: no token without read_only")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read scenario: {exc.strerror}") from exc
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ScenarioError(f"{where}: not valid YAML: {exc}") from exc
    if root is None:
        return _validate(None, source, {})
    # Aliases make a small file stand for a huge tree; measure it before anything expands it.
    size = expanded_size(root, source)
    if size > MAX_EXPANDED_NODES:
        raise ScenarioError(
            f"{source}: the scenario expands to more than {MAX_EXPANDED_NODES:,} values "
            "through YAML aliases; refusing to load it"
        )
    try:
        data = SafeConstructor().construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ScenarioError(f"{where}: not valid YAML: {exc}") from exc
    lines: dict[tuple[Any, ...], int] = {}
    _index_lines(root, (), lines)
    return _validate(data, source, lines)


def expanded_size(root: yaml.Node, source: str = "<inline>") -> int:
    """How many nodes the document holds once every alias is expanded.

    Each distinct node is measured once (an alias reuses its size), so this takes
    time in proportion to the file, however large the expansion. The count stops
    growing exactly once it passes the limit, so a bomb is measured cheaply too.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def measure(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            mark = node.start_mark
            raise ScenarioError(
                f"{source}:{mark.line + 1}: an alias refers to itself (recursive YAML)"
            )
        active.add(key)
        size = 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                size += measure(key_node) + measure(value_node)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                size += measure(item)
        active.discard(key)
        sizes[key] = size = min(size, MAX_EXPANDED_NODES + 1)
        return size

    try:
        return measure(root)
    except RecursionError as exc:
        raise ScenarioError(f"{source}: the scenario is nested too deeply") from exc


def _validate(data: Any, source: str, lines: dict[tuple[Any, ...], int]) -> Scenario:
    """Validate plain data, turning pydantic's errors into one readable ScenarioError."""
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: a scenario must be a mapping")
    try:
        scenario = Scenario.model_validate(_plain(data))
    except ValidationError as exc:
        raise ScenarioError(_describe(exc, source, lines)) from exc
    scenario._source = source
    return scenario


def _plain(value: Any) -> Any:
    """Turn YAML dates into ISO strings so they compare equal to params sent as text."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _describe(exc: ValidationError, source: str, lines: dict[tuple[Any, ...], int]) -> str:
    """Name file, line and key path of each problem."""
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if _wrong_union_branch(loc, error.get("input")):
            continue
        # Union branches add type names to the location; keep only real keys.
        path = tuple(part for part in loc if isinstance(part, int) or not _is_type_tag(part))
        line = _nearest_line(path, lines)
        where = f"{source}:{line}" if line else source
        key = ".".join(str(part) for part in path) or "(top level)"
        problems.append(f"{where}: {key}: {error['msg']}")
    return "\n".join(problems)


def _wrong_union_branch(loc: tuple[Any, ...], given: Any) -> bool:
    """A span's complaint from the branch the value clearly was not meant for."""
    if "float" in loc:
        return isinstance(given, Mapping)
    return False


def _is_type_tag(part: Any) -> bool:
    """Tell pydantic's union-branch labels (``float``, ``SpanRange``) from keys."""
    return isinstance(part, str) and (
        part in {"float", "SpanRange"} or part.startswith(("function-", "literal["))
    )


def _nearest_line(path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    """The line of the deepest part of ``path`` present in the file."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _index_lines(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    """Record the 1-based line of every key path in a composed YAML tree."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*path, index), lines)


__all__ = [
    "OPERATIONS",
    "RUN_TRIGGERS",
    "RUN_TRIGGER_FILTERS",
    "Behaviour",
    "Cadence",
    "Fault",
    "InputSpec",
    "Limits",
    "Outcome",
    "OutcomeRule",
    "Project",
    "Republish",
    "RunTrigger",
    "Scenario",
    "ScenarioError",
    "Schedule",
    "SpanRange",
    "Token",
    "Window",
    "fold_versions",
    "load_scenario",
    "parse_duration",
]
