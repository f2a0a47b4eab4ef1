"""Validate response bodies against Hex's schemas: the May 2025 spec, and today's shapes.

The 2025 schemas are tests/data/hex-openapi.json as published. Today's (``era="2026"``)
are derived from it here, with the changes Hex documented since:

- ``projectVersion`` is a string in 2026 samples (an integer in 2025): either is accepted;
- every run payload carries ``runTrigger`` (API, SCHEDULED or APP_REFRESH);
- a status may carry ``stateEvents`` (``{type, value, timestamp}`` each) and
  ``flagConfigOverride`` (with the ``enable-expanded-stats: true`` request header);
- GetProjectRuns takes ``runTriggerFilter`` (API, SCHEDULED, APP_REFRESH or ALL).
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator

SPEC = Path(__file__).resolve().parents[1] / "data" / "hex-openapi.json"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
Era = Literal["2025", "2026"]


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` becomes ``anyOf [schema, null]``."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _spec_2025() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return document


def spec_2026() -> dict[str, Any]:
    """The 2025 OpenAPI document with the changes Hex documented since (a fresh copy)."""
    spec = copy.deepcopy(_spec_2025())
    schemas = spec["components"]["schemas"]
    schemas["ProjectVersion"] = {
        "anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}],
        "description": "The project version a run used: text in 2026, an integer in 2025.",
    }
    schemas["RunTrigger"] = {"type": "string", "enum": ["API", "SCHEDULED", "APP_REFRESH"]}
    schemas["RunTriggerFilter"] = {
        "type": "string",
        "enum": ["API", "SCHEDULED", "APP_REFRESH", "ALL"],
    }
    status = schemas["ProjectStatusResponsePayload"]
    status["properties"]["runTrigger"] = {"$ref": "#/components/schemas/RunTrigger"}
    status["required"].append("runTrigger")
    schemas["RunStateEvent"] = {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "value": {"type": "string"},
            "timestamp": {"type": "string", "format": "date-time"},
        },
        "required": ["type", "value", "timestamp"],
        "additionalProperties": False,
    }
    status["properties"]["stateEvents"] = {
        "type": "array",
        "items": {"$ref": "#/components/schemas/RunStateEvent"},
    }
    # The reference names the field without describing it.
    status["properties"]["flagConfigOverride"] = {"type": ["object", "null"]}
    list_runs = spec["paths"]["/v1/projects/{projectId}/runs"]["get"]
    list_runs["parameters"].append(
        {
            "in": "query",
            "name": "runTriggerFilter",
            "required": False,
            "schema": {"$ref": "#/components/schemas/RunTriggerFilter"},
        }
    )
    return spec


@cache
def _document(era: Era) -> dict[str, Any]:
    spec = _spec_2025() if era == "2025" else spec_2026()
    document: dict[str, Any] = _to_json_schema(spec)
    return document


@cache
def validator(name: str, era: Era = "2026") -> Draft202012Validator:
    """A validator for ``#/components/schemas/<name>``, refs resolved within the spec."""
    return Draft202012Validator({**_document(era), "$ref": f"#/components/schemas/{name}"})


def check(name: str, body: Any, era: Era = "2026") -> None:
    """Fail with every violation of ``body`` against the schema of that era."""
    found = validator(name, era).iter_errors(body)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in found]
    assert not errors, "\n".join(errors)
