"""Keep secrets out of every log line, report, error message and repr.

Secrets (the API token) are registered once, when a client is built; every
string that leaves the process through logs or error messages passes through
:func:`redact`. A process-wide registry is deliberate: an exception raised deep
in the HTTP layer, or a log processor configured long before the client
existed, must still be able to hide a token it was never handed.
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from typing import Any, Final

MASK: Final = "***"
# Secrets shorter than this are not masked: replacing every "a" (or "run") in a
# message would destroy it, and such a value is no secret anyway: Hex API tokens
# are dozens of characters long, so a 1-3 character one cannot authenticate.
_MIN_SECRET_LENGTH: Final = 4

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a value that must never be shown."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by a mask."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(item) for item in value)
    if isinstance(value, BaseException):
        return redact(repr(value))
    return value


def redact_event(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor that masks secrets in every value of an event."""
    for key, value in event_dict.items():
        event_dict[key] = _redact_value(value)
    return event_dict


class Secret:
    """A string that does not show itself in ``repr`` or ``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        register_secret(value)
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)
