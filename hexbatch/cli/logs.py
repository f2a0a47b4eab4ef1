"""Structured logs: snake_case events, bound to project, key and run id, never the token.

``console`` renders readable lines for people; ``json`` writes one JSON object
per line for machines. Both go to standard error (standard output is for the
report), and both pass through the redaction processor.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any, Final

import structlog

from hexbatch.redact import redact_event

LOG_FORMATS: Final = ("console", "json")


class _StderrLogger:
    """Writes to whatever ``sys.stderr`` is at call time, so a live progress display that
    redirects standard error keeps log lines above it."""

    def msg(self, message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger(*_args: Any) -> _StderrLogger:
    return _StderrLogger()


# Identifiers shortened on the console; the JSON format keeps them whole.
_SHORTENED = ("run_id", "key")
_SHORT_ID = 8


def compact_for_console(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Drop empty values and shorten long ids, so a console line fits a terminal."""
    for name in [name for name, value in event_dict.items() if value is None]:
        del event_dict[name]
    for name in _SHORTENED:
        value = event_dict.get(name)
        if isinstance(value, str) and len(value) > _SHORT_ID:
            event_dict[name] = value[:_SHORT_ID]
    return event_dict


def configure_logging(fmt: str = "console", *, verbose: bool = False, quiet: bool = False) -> None:
    """Set up structlog for the command line.

    Args:
        fmt: ``console`` or ``json``.
        verbose: also show debug events (every poll).
        quiet: show warnings and errors only (for commands that print what they found).
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; use one of {', '.join(LOG_FORMATS)}")
    shaping: list[Any]
    if fmt == "json":
        shaping = [
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_event,
            structlog.processors.JSONRenderer(sort_keys=True),
        ]
    else:
        colors = sys.stderr.isatty() and "NO_COLOR" not in os.environ
        shaping = [
            structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
            # Tracebacks become plain text before redaction, and never show local
            # variables: a frame's locals may hold the Authorization header.
            structlog.processors.format_exc_info,
            redact_event,
            compact_for_console,
            structlog.dev.ConsoleRenderer(
                colors=colors,
                pad_event_to=16,
                exception_formatter=structlog.dev.plain_traceback,
            ),
        ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            *shaping,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
        ),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
