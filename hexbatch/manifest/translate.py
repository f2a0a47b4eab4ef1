"""Turn pydantic validation errors into messages a manifest author understands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from hexbatch.manifest.durations import describe
from hexbatch.manifest.errors import KeyPath, did_you_mean

_EXPECTED = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "string_type": "text",
    "bool_type": "true or false",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
}


def allowed_keys(root: type[BaseModel], parent: KeyPath) -> list[str] | None:
    """Return the keys the model at ``parent`` accepts, or None when it is not a model."""
    model: type[BaseModel] | None = root
    for part in parent:
        if model is None:
            return None
        if isinstance(part, int):
            continue  # list items keep the element model found for the list field
        info = model.model_fields.get(part)
        model = _find_model(info.annotation) if info is not None else None
    return list(model.model_fields) if model is not None else None


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()) or ():
        found = _find_model(argument)
        if found is not None:
            return found
    metadata = getattr(annotation, "__origin__", None)
    return _find_model(metadata) if metadata is not None and metadata is not annotation else None


def translate(root: type[BaseModel], error: ErrorDetails) -> tuple[KeyPath, str]:
    """Return the key path and a plain-language message for one pydantic error."""
    path: KeyPath = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    context = error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(path[-1])
        keys = allowed_keys(root, path[:-1]) or []
        hint = did_you_mean(key, keys)
        known = f"; known keys: {', '.join(keys)}" if keys and not hint else ""
        return path, f"unknown key {key!r}{hint}{known}"
    if kind == "missing":
        return path[:-1], f"{path[-1]!r} is required"
    if kind == "value_error":
        return path, str(context.get("error", error["msg"]))
    return path, _value_message(kind, value, context) or str(error["msg"])


def _value_message(kind: str, value: Any, context: Mapping[str, Any]) -> str | None:
    """What is wrong with a value pydantic refused as ``kind``; None for a kind not known."""
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value)}"
    if kind == "too_short":
        if context.get("actual_length") == 0:
            return "is empty (list at least one item, or remove the key)"
        return f"needs at least {context.get('min_length')} items"
    if kind in {"greater_than_equal", "greater_than"}:
        bound = context.get("ge", context.get("gt"))
        return f"{describe(value)} is too small (minimum {bound})"
    if kind in {"less_than_equal", "less_than"}:
        bound = context.get("le", context.get("lt"))
        return f"{describe(value)} is too large (maximum {bound})"
    if kind == "literal_error":
        return f"{describe(value)} is not allowed (expected {context.get('expected')})"
    if kind == "string_too_short":
        return "must not be empty"
    return None
