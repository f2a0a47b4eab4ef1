"""Structured logs: snake_case events, bound to project, key and run id, never the token.

``console`` renders readable lines for people; ``json`` writes one JSON object
per line for machines. Both go to standard error (standard output is for the
report), and both pass through the redaction processor.
"""

from __future__ import annotations

import logging
import os
import sys
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


def configure_logging(fmt: str = "console", *, verbose: bool = False) -> None:
    """Set up structlog for the command line.

    Args:
        fmt: ``console`` or ``json``.
        verbose: also show debug events (every poll).
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; use one of {', '.join(LOG_FORMATS)}")
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    else:
        colors = sys.stderr.isatty() and "NO_COLOR" not in os.environ
        renderer = structlog.dev.ConsoleRenderer(colors=colors)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.DEBUG if verbose else logging.INFO
        ),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
