"""Checking a RunProject request: its body and its input params against the project."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from hexbatch.errors import HexbatchError
from hexbatch.simulator.scenario import InputSpec, Project

BODY_FIELDS = frozenset(
    {
        "inputParams",
        "dryRun",
        "updateCache",
        "notifications",
        "updatePublishedResults",
        "useCachedSqlResults",
        "viewId",
    }
)
_CELL_TYPES = {
    "string": "text",
    "number": "number",
    "integer": "number",
    "boolean": "checkbox",
    "date": "date",
    "any": "text",
}


class BadRequest(HexbatchError):
    """The request body is not a valid RunProject body (answered with 400)."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A parsed RunProject body."""

    input_params: dict[str, Any] | None
    dry_run: bool
    view_id: str | None


@dataclass(slots=True)
class InputProblems:
    """The InvalidParamPayload lists: values that fail their input, names not found."""

    invalid: list[dict[str, str]] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        """True when there is anything to report."""
        return bool(self.invalid or self.not_found)


def _flag(body: dict[str, Any], name: str) -> bool:
    """A boolean body field; Hex's own docs send "true"/"false" strings, so accept those."""
    value = body.get(name, False)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise BadRequest(f"{name} must be a boolean")


def parse_run_body(raw: bytes) -> RunRequest:
    """Parse a RunProject body; an empty body means default inputs."""
    if not raw.strip():
        return RunRequest(input_params=None, dry_run=False, view_id=None)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        raise BadRequest(f"unknown body fields: {', '.join(unknown)}")
    params = body.get("inputParams")
    if params is not None and not isinstance(params, dict):
        raise BadRequest("inputParams must be an object")
    view_id = body.get("viewId")
    if view_id is not None and not isinstance(view_id, str):
        raise BadRequest("viewId must be a string")
    for name in ("updateCache", "updatePublishedResults", "useCachedSqlResults"):
        _flag(body, name)
    if params is not None and view_id is not None:
        raise BadRequest("It is invalid to pass in both a viewId and inputParams")
    return RunRequest(input_params=params, dry_run=_flag(body, "dryRun"), view_id=view_id)


def _fits(spec: InputSpec, value: Any) -> bool:
    """Whether ``value`` is acceptable for an input of this spec."""
    if spec.choices is not None and value not in spec.choices:
        return False
    if spec.type == "string":
        return isinstance(value, str)
    if spec.type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if spec.type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if spec.type == "boolean":
        return isinstance(value, bool)
    if spec.type == "date":
        try:
            dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            return False
        return len(value) == 10
    return True


def check_inputs(project: Project, params: dict[str, Any], reject_unknown: bool) -> InputProblems:
    """Compare params with the project's declared inputs (no declaration: anything goes)."""
    problems = InputProblems()
    if project.inputs is None:
        return problems
    for name, value in params.items():
        spec = project.inputs.get(name)
        if spec is None:
            if reject_unknown:
                problems.not_found.append(name)
            continue
        if not _fits(spec, value):
            problems.invalid.append(
                {
                    "paramName": name,
                    "paramValue": json.dumps(value, default=str),
                    "dataType": spec.type,
                    "inputCellType": spec.cell_type or _CELL_TYPES[spec.type],
                }
            )
    return problems
