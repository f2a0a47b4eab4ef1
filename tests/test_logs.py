"""Log configuration: compact console lines, machine-readable JSON, never the token."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog

from hexbatch.cli.logs import compact_for_console, configure_logging
from hexbatch.redact import register_secret


def test_console_lines_drop_empty_values_and_shorten_ids() -> None:
    """None values vanish and run ids and keys shrink to eight characters."""
    event = {"event": "run_finished", "error": None, "run_id": "0d6f3a2e-1b4c", "key": "abc"}

    assert compact_for_console(None, "info", event) == {
        "event": "run_finished",
        "run_id": "0d6f3a2e",
        "key": "abc",
    }


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_logs_go_to_stderr_without_the_token(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both formats write to standard error and mask registered secrets."""
    register_secret("hxtp_logs_secret_value")
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    configure_logging(fmt)

    structlog.get_logger().info("run_triggered", run_id="r" * 36, header="hxtp_logs_secret_value")

    text = err.getvalue()
    assert "run_triggered" in text
    assert "hxtp_logs_secret_value" not in text
    if fmt == "json":
        record = json.loads(text)
        assert record["run_id"] == "r" * 36
        assert record["level"] == "info"
    else:
        assert "r" * 9 not in text


def test_an_unknown_log_format_is_refused() -> None:
    """Only console and json exist."""
    with pytest.raises(ValueError, match="unknown log format"):
        configure_logging("xml")
