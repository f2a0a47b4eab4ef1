"""The manifest file format (version 1) as pydantic models: the validator and the JSON Schema.

These models describe what a user may write; :mod:`hexbatch.manifest.model`
holds the effective settings after defaults are merged. Every model forbids
unknown keys and is strict (``"10"`` is not an integer), because a typo in a
batch manifest should stop the batch before anything runs, not after.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

from hexbatch import status
from hexbatch.manifest.durations import (
    DURATION_PATTERN,
    STEP_PATTERN,
    DateStep,
    describe,
    parse_date_step,
    parse_duration,
    parse_positive_duration,
)
from hexbatch.manifest.relative import (
    RELATIVE_DATE_PATTERN,
    DateExpr,
    parse_date_expr,
    parse_timezone,
)

RETRYABLE_STATUSES = tuple(sorted(status.HEX_TERMINAL - {status.COMPLETED}))
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_PATTERN)
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ENV_NAME = re.compile(ENV_NAME_PATTERN)

_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": DURATION_PATTERN},
    ],
    "description": "Seconds, or a duration such as 250ms, 2s, 5m, 1h, 1h30m.",
}


def _project_id(value: Any) -> str:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise ValueError(
            f"{describe(value)} is not a project id"
            " (a UUID such as 5a8591dd-4039-49df-9202-96385ba3eff8, from the project's URL)"
        )
    return value.lower()


def _retry_status(value: Any) -> str:
    if value not in RETRYABLE_STATUSES:
        choices = ", ".join(RETRYABLE_STATUSES)
        raise ValueError(
            f"{describe(value)} is not a failure status Hex reports (one of {choices})"
        )
    return str(value)


def _env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise ValueError(f"{describe(value)} is not an environment variable name")
    return value


def _base_url(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValueError(f"{describe(value)} is not an http(s) URL")
    return value.rstrip("/")


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


Duration = Annotated[float, PlainValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
PositiveDuration = Annotated[
    float, PlainValidator(parse_positive_duration), WithJsonSchema(_DURATION_SCHEMA)
]
ProjectId = Annotated[
    str,
    PlainValidator(_project_id),
    WithJsonSchema({"type": "string", "pattern": UUID_PATTERN, "description": "Hex project id."}),
]
DateValue = Annotated[
    DateExpr,
    PlainValidator(parse_date_expr),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "pattern": RELATIVE_DATE_PATTERN},
            ],
            "description": "YYYY-MM-DD, or relative to today: today, yesterday, today-7d,"
            " today+2w, today-1mo (a month back from Mar 31 is the end of February)",
        }
    ),
]
TimeZone = Annotated[
    str,
    PlainValidator(parse_timezone),
    WithJsonSchema(
        {
            "type": "string",
            "description": "IANA time zone whose date is today (default: this machine's)",
        }
    ),
]
Step = Annotated[
    DateStep,
    PlainValidator(parse_date_step),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": STEP_PATTERN},
            ],
            "description": "Days (1d, or a number), weeks (2w) or months (1mo); at most 100 years.",
        }
    ),
]
RetryStatus = Annotated[
    str, PlainValidator(_retry_status), WithJsonSchema({"enum": list(RETRYABLE_STATUSES)})
]
EnvName = Annotated[
    str, PlainValidator(_env_name), WithJsonSchema({"type": "string", "pattern": ENV_NAME_PATTERN})
]
BaseUrl = Annotated[
    str, PlainValidator(_base_url), WithJsonSchema({"type": "string", "format": "uri"})
]
Params = dict[str, JsonValue]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PollDoc(_Strict):
    """How often a run's status is polled: starts at ``initial``, grows by ``multiplier``."""

    initial: PositiveDuration | None = None
    max: PositiveDuration | None = None
    multiplier: float | None = Field(default=None, ge=1.0, le=10.0)


class RetriesDoc(_Strict):
    """Re-triggers of a run that ended in one of the ``on`` statuses."""

    attempts: int | None = Field(default=None, ge=0, le=20)
    on: list[RetryStatus] | None = None


class NotificationDoc(BaseModel):
    """Hex's ProjectRunNotification, passed through to the RunProject call."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["SUCCESS", "FAILURE", "ALL"]
    includeSuccessScreenshot: bool  # Hex's own field names, camelCase
    screenshotFormat: Literal["png", "pdf"] | None = None
    slackChannelIds: list[str] | None = None
    userIds: list[str] | None = None
    groupIds: list[str] | None = None
    subject: str | None = None
    body: str | None = None


class RunDoc(_Strict):
    """Options sent with every RunProject call."""

    update_published_results: bool | None = None
    use_cached_sql_results: bool | None = None
    view_id: str | None = Field(default=None, min_length=1)
    notifications: list[NotificationDoc] | None = None


class SettingsDoc(_Strict):
    """Settings every project inherits from ``defaults`` and may override."""

    max_in_flight: int | None = Field(default=None, ge=1, le=10_000)
    timeout: PositiveDuration | None = None
    poll: PollDoc | None = None
    retries: RetriesDoc | None = None
    run: RunDoc | None = None
    on_version_change: Literal["continue", "warn", "stop"] | None = None


class DatesDoc(_Strict):
    """A date range: one run per date from ``start`` to ``end`` inclusive; either may be
    relative to today, the date in ``timezone`` (default: this machine's)."""

    param: str = Field(min_length=1)
    start: DateValue
    end: DateValue
    step: Step = Field(default="1d", validate_default=True)
    format: str = Field(default="%Y-%m-%d", min_length=1)
    timezone: TimeZone | None = None


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        raise ValueError(f"{describe(value)} is not an email address")
    return value.strip()


Email = Annotated[
    str, PlainValidator(_email), WithJsonSchema({"type": "string", "format": "email"})
]
Name = Annotated[str, Field(min_length=1)]
SELECT_KEYS: Final = ("statuses", "categories", "collection", "owner", "creator", "title")


class SelectDoc(_Strict):
    """Projects chosen by Hex's ListProjects filters (all must match) instead of an id."""

    statuses: list[Name] | None = Field(
        default=None, min_length=1, description="workspace status names (any one matches)"
    )
    categories: list[Name] | None = Field(
        default=None, min_length=1, description="category names (any one matches)"
    )
    collection: str | None = Field(default=None, min_length=1, description="a collection id")
    owner: Email | None = None
    creator: Email | None = None
    title: str | None = Field(
        default=None,
        min_length=1,
        description="a glob the title matches, without case (*, ?, [abc]); checked by hexbatch",
    )

    @model_validator(mode="after")
    def _filters_something(self) -> Self:
        if all(getattr(self, key) is None for key in SELECT_KEYS):
            raise ValueError(
                "selects nothing in particular: give at least one of " + ", ".join(SELECT_KEYS)
            )
        return self


class ProjectDoc(SettingsDoc):
    """One Hex project (``id``), or the projects Hex's filters choose (``select``), and the
    parameter sets to run each with."""

    id: ProjectId | None = None
    select: SelectDoc | None = None
    skip_if_fresh: PositiveDuration | None = None
    name: str | None = Field(default=None, min_length=1)
    params: Params | None = None
    runs: list[Params] | None = Field(default=None, min_length=1)
    matrix: dict[str, Annotated[list[JsonValue], Field(min_length=1)]] | None = None
    include: list[Params] | None = Field(default=None, min_length=1)
    exclude: list[Params] | None = Field(default=None, min_length=1)
    dates: DatesDoc | None = None


class HexDoc(_Strict):
    """Where the Hex API is and which environment variable holds the token."""

    base_url: BaseUrl | None = None
    token_env: EnvName | None = None


class WindowDoc(_Strict):
    """At most ``count`` calls in any window of ``per``."""

    count: int = Field(ge=1)
    per: PositiveDuration


Windows = Annotated[list[WindowDoc], BeforeValidator(_one_or_many), Field(min_length=1)]


class ReserveDoc(_Strict):
    """Headroom hexbatch never uses: slots left for other automation on the token."""

    requests: Windows | None = None
    triggers: Windows | None = None


class LimitsDoc(_Strict):
    """Client-side budgets: all API requests, and run triggers."""

    requests: Windows | None = None
    triggers: Windows | None = None
    reserve: ReserveDoc | None = None


BatchName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="finds the manifest's batches in a state store (default: its file name)",
    ),
]


MIN_LEASE_TTL_S: Final = 5.0


def _lease_ttl(value: Any) -> float:
    seconds = parse_positive_duration(value)
    if seconds < MIN_LEASE_TTL_S:
        # A lease is renewed every sixth of its TTL: below a few seconds a busy
        # database or a slow network would make a live driver look dead.
        raise ValueError(f"{describe(value)} is too short for a lease TTL (at least 5s)")
    return seconds


LeaseTtl = Annotated[
    float,
    PlainValidator(_lease_ttl),
    WithJsonSchema(
        {
            **_DURATION_SCHEMA,
            "description": "how long a batch's driver may go without renewing its lease "
            "before another run takes the batch over (default 30s; at least 5s)",
        }
    ),
]


NOTIFY_TARGETS: Final = ("webhook", "slack", "command")
NotifyWhen = Literal["failure", "success", "finish"]


def _notify_url(value: Any) -> str:
    # The value may come from a secret (``${SLACK_WEBHOOK_URL}``): no message repeats it.
    if not isinstance(value, str):
        raise ValueError(f"expected an http(s) URL, got {describe(value)}")
    text = value.strip()
    try:
        parts = urlsplit(text)
        # Reading .port checks it: a port that is not a number raises ValueError.
        usable = (
            parts.scheme.lower() in {"http", "https"} and bool(parts.hostname) and parts.port != 0
        )
    except ValueError:  # an unbalanced [ in the host, a port that is not a number
        usable = False
    if not usable or any(character.isspace() for character in text):
        raise ValueError(
            "is not an http(s) URL such as https://hooks.example.com/hexbatch"
            " (the value is not shown: it may be a secret)"
        )
    return text


def _command(value: Any) -> list[str]:
    # Words are not repeated either: an argument may hold a secret from ``${VAR}``.
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(word, str) and word for word in value)
    ):
        raise ValueError(
            "write the command as a list of words, such as [./page-oncall.sh, --team, data]"
            " (no shell is involved; the report JSON arrives on its standard input)"
        )
    return list(value)


def _one_or_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


NotifyUrl = Annotated[
    str,
    PlainValidator(_notify_url),
    WithJsonSchema(
        {"type": "string", "format": "uri", "description": "http(s) URL; ${VAR} allowed"}
    ),
]
NotifyCommand = Annotated[
    list[str],
    PlainValidator(_command),
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "description": "program and arguments (no shell); the report JSON is its stdin",
        }
    ),
]
NotifyOn = Annotated[
    list[NotifyWhen],
    BeforeValidator(_one_or_list),
    Field(min_length=1),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": ["failure", "success", "finish"]},
                {
                    "type": "array",
                    "items": {"enum": ["failure", "success", "finish"]},
                    "minItems": 1,
                },
            ],
            "description": "failure: some run did not complete; success: every run completed;"
            " finish: either (the default)",
        }
    ),
]


class NotifyDoc(_Strict):
    """One message when the batch ends: a webhook, a Slack incoming webhook, or a command."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"oneOf": [{"required": [target]} for target in NOTIFY_TARGETS]},
    )

    webhook: NotifyUrl | None = None
    slack: NotifyUrl | None = None
    command: NotifyCommand | None = None
    on: NotifyOn | None = None
    timeout: PositiveDuration | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        given = [target for target in NOTIFY_TARGETS if getattr(self, target) is not None]
        if not given:
            raise ValueError("needs one of webhook, slack or command")
        if len(given) > 1:
            raise ValueError(
                f"has both {given[0]} and {given[1]}: write each target as its own entry"
            )
        return self


class ManifestDoc(_Strict):
    """A hexbatch manifest, version 1."""

    version: Literal[1]
    name: BatchName | None = None
    state: str | None = Field(default=None, min_length=1)
    lease_ttl: LeaseTtl | None = None
    priority: Literal["high", "normal", "low"] | None = None
    hex: HexDoc | None = None
    defaults: SettingsDoc | None = None
    limits: LimitsDoc | None = None
    projects: list[ProjectDoc] = Field(min_length=1)
    simulate: dict[str, Any] | None = None
    notify: list[NotifyDoc] | None = Field(default=None, min_length=1)
