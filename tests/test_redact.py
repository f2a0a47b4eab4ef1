"""Secrets never leave the process in logs, errors or reprs."""

from __future__ import annotations

import structlog
from structlog.testing import capture_logs

from hexbatch.redact import MASK, Secret, redact, redact_event, register_secret


def test_registered_secrets_are_masked_everywhere_in_an_event() -> None:
    """Nested values, lists and exceptions in a log event are all masked."""
    register_secret("hxtp_supersecretvalue")
    event = {
        "event": "x",
        "headers": {"Authorization": "Bearer hxtp_supersecretvalue"},
        "items": ["hxtp_supersecretvalue", 3],
        "error": ValueError("token hxtp_supersecretvalue rejected"),
    }

    cleaned = redact_event(None, "info", event)

    assert "hxtp_supersecretvalue" not in repr(cleaned)
    assert cleaned["headers"]["Authorization"] == f"Bearer {MASK}"
    assert cleaned["items"][1] == 3


def test_short_values_are_not_treated_as_secrets() -> None:
    """A one-letter 'secret' would mangle every message, so it is ignored."""
    register_secret("a")

    assert redact("a banana") == "a banana"


def test_the_minimum_secret_length_is_four() -> None:
    """Four characters are masked even inside words; three would shred ordinary text.

    Hex API tokens are dozens of characters long, so a one- to three-character value
    cannot authenticate and there is nothing to protect, while masking it everywhere
    would destroy every message (every "run" for a token "run").
    """
    register_secret("q7Zx")
    register_secret("run")

    assert (
        redact("Bearer q7Zx, url=https://h/?t=q7Zxq7Zx")
        == f"Bearer {MASK}, url=https://h/?t={MASK}{MASK}"
    )
    assert redact("the run ran") == "the run ran"


def test_secret_wrapper_hides_itself() -> None:
    """Secret's str and repr show a mask; reveal() gives the value."""
    secret = Secret("hxtw_anothersecret")

    assert "hxtw_anothersecret" not in f"{secret} {secret!r}"
    assert secret.reveal() == "hxtw_anothersecret"
    assert bool(secret)


def test_processor_works_inside_structlog() -> None:
    """Configured as a processor, redaction applies to real log calls."""
    register_secret("hxtp_logged_secret")
    with capture_logs(processors=[redact_event]) as logs:
        structlog.get_logger().info("called", url="https://x/?t=hxtp_logged_secret")

    assert logs[0]["url"] == f"https://x/?t={MASK}"
