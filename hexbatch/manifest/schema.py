"""The JSON Schema of the manifest, for editors (yaml-language-server) and other tools."""

from __future__ import annotations

from typing import Any

from hexbatch.manifest.document import ManifestDoc

SCHEMA_ID = "https://hexbatch.dev/schema/manifest-1.json"


def manifest_json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) a version 1 manifest validates against."""
    schema = ManifestDoc.model_json_schema()
    # The validator accepts one window as well as a list of them; say so in the schema too.
    window = {"$ref": "#/$defs/WindowDoc"}
    limits = schema["$defs"]["LimitsDoc"]["properties"]
    for key in ("requests", "triggers"):
        description = limits[key].get("description")
        limits[key] = {
            "anyOf": [window, {"type": "array", "items": window, "minItems": 1}],
            "description": description or "One window or a list of windows.",
        }
    # An entry names a project or selects projects: exactly one of the two keys.
    schema["$defs"]["ProjectDoc"]["oneOf"] = [{"required": ["id"]}, {"required": ["select"]}]
    schema["$defs"]["SelectDoc"]["minProperties"] = 1
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "hexbatch manifest, version 1",
    }
