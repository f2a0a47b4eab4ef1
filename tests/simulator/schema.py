"""Validate response bodies against the OpenAPI schemas in tests/data/hex-openapi.json."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SPEC = Path(__file__).resolve().parents[1] / "data" / "hex-openapi.json"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


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
def _document() -> dict[str, Any]:
    document: dict[str, Any] = _to_json_schema(json.loads(SPEC.read_text(encoding="utf-8")))
    return document


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for ``#/components/schemas/<name>``, refs resolved within the spec."""
    return Draft202012Validator({**_document(), "$ref": f"#/components/schemas/{name}"})


def check(name: str, body: Any) -> None:
    """Fail with every schema violation of ``body``."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(name).iter_errors(body)]
    assert not errors, "\n".join(errors)
