"""Delivering notifications: on: filtering, retries, timeouts, commands, masked URLs."""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hexbatch import status as st
from hexbatch.cli.logs import configure_logging
from hexbatch.clock import VirtualClock
from hexbatch.errors import ConfigurationError
from hexbatch.manifest import Notification, SourceLocation
from hexbatch.manifest.model import NotifyWhen
from hexbatch.notify import (
    BatchEnd,
    NotifySettings,
    check_targets,
    notify_json_schema,
    send_notifications,
    shown,
)
from hexbatch.notify.targets import scrub
from hexbatch.outcome import BatchReport, RunOutcome
from tests.notify.receiver import Receiver, running
from tests.report.builders import T0, attempt, small_report

SECRET_PATH = "/services/T0001/B0002/s3cr3tS1ackP4th"


def _settings(clock: VirtualClock | None = None, **extra: Any) -> NotifySettings:
    clock = clock or VirtualClock()
    return NotifySettings(clock=clock, sleep=clock.sleep, rng=random.Random(5), **extra)


WHENS: tuple[NotifyWhen, ...] = ("failure", "success", "finish")


def _failed() -> BatchEnd:
    return BatchEnd(small_report(), "nightly", batch_id=7)


def _succeeded() -> BatchEnd:
    runs = [RunOutcome("k", "pid", "p", {}, st.COMPLETED, [attempt(0, 1, st.COMPLETED, "r")])]
    return BatchEnd(BatchReport("m.yaml", T0, T0 + timedelta(seconds=1), runs), "nightly")


def _webhook(url: str, *on: NotifyWhen, timeout: float = 10.0, index: int = 0) -> Notification:
    return Notification(
        "webhook", url=url, on=frozenset(on or ("finish",)), timeout=timeout, index=index
    )


def _command(*argv: str, on: NotifyWhen = "finish", timeout: float = 10.0) -> Notification:
    return Notification("command", command=argv, on=frozenset({on}), timeout=timeout)


def _writer(target: Path, code: str = "") -> tuple[str, ...]:
    """A command that copies its standard input and environment into ``target``."""
    script = (
        "import json, os, sys\n"
        f"data = {{'stdin': sys.stdin.read(), 'env': dict(os.environ), 'cwd': os.getcwd()}}\n"
        f"open({str(target)!r}, 'w').write(json.dumps(data))\n" + code
    )
    return (sys.executable, "-c", script)


async def test_a_webhook_receives_the_notify_document_once(receiver: Receiver) -> None:
    """One POST of JSON that follows the hexbatch.notify/1 schema."""
    sent = await send_notifications([_webhook(receiver.url())], _failed(), _settings())

    assert [(d.delivered, d.attempts) for d in sent] == [(True, 1)]
    assert len(receiver.received) == 1
    request = receiver.received[0]
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["User-Agent"].startswith("hexbatch/")
    jsonschema.Draft202012Validator(notify_json_schema()).validate(request.json())
    assert request.json()["batch_id"] == 7


async def test_slack_receives_blocks_with_a_text_fallback(receiver: Receiver) -> None:
    """The Slack entry posts the Block Kit message, not the notify document."""
    slack = Notification("slack", url=receiver.url(SECRET_PATH))

    await send_notifications([slack], _failed(), _settings())

    (request,) = receiver.on(SECRET_PATH)
    body = request.json()
    assert set(body) == {"text", "blocks"}
    assert body["blocks"][0]["type"] == "header"


@pytest.mark.parametrize(
    ("end", "fired"),
    [
        pytest.param(_failed(), ["/failure", "/finish"], id="failed-batch"),
        pytest.param(_succeeded(), ["/success", "/finish"], id="completed-batch"),
    ],
)
async def test_on_chooses_which_ends_are_told(
    receiver: Receiver, end: BatchEnd, fired: list[str]
) -> None:
    """failure fires when some run did not complete, success when all did, finish always."""
    notifications = [
        _webhook(receiver.url(f"/{when}"), when, index=n) for n, when in enumerate(WHENS)
    ]

    sent = await send_notifications(notifications, end, _settings())

    assert sorted(r.path for r in receiver.received) == sorted(fired)
    assert [shown(d.notification).split()[0] for d in sent] == ["webhook", "webhook"]


async def test_server_errors_are_retried_twice_then_delivered(receiver: Receiver) -> None:
    """500, 500, then 200: delivered on the third try after two backoff waits."""
    receiver.answers = [500, 503]
    clock = VirtualClock()

    (delivery,) = await send_notifications([_webhook(receiver.url())], _failed(), _settings(clock))

    assert (delivery.delivered, delivery.attempts) == (True, 3)
    assert len(receiver.received) == 3
    assert len(clock.slept) == 2


async def test_a_notification_that_keeps_failing_gives_up_after_three_tries(
    receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """Always 500: three tries, a logged notify_failed, and no exception."""
    receiver.default = 500
    configure_logging("json")

    (delivery,) = await send_notifications([_webhook(receiver.url())], _failed(), _settings())

    assert (delivery.delivered, delivery.attempts) == (False, 3)
    assert delivery.error == "HTTP 500: no"
    assert len(receiver.received) == 3
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [e["event"] for e in events] == ["notify_retrying", "notify_retrying", "notify_failed"]


async def test_a_client_error_is_not_retried(receiver: Receiver) -> None:
    """404 (a revoked Slack webhook answers so) will not change: one try only."""
    receiver.default = 404

    (delivery,) = await send_notifications([_webhook(receiver.url())], _failed(), _settings())

    assert (delivery.delivered, delivery.attempts) == (False, 1)
    assert len(receiver.received) == 1


async def test_too_many_requests_waits_as_long_as_asked(receiver: Receiver) -> None:
    """429 with Retry-After: 7 is retried, after at least 7 (virtual) seconds."""
    receiver.answers = [(429, {"Retry-After": "7"})]
    clock = VirtualClock()

    (delivery,) = await send_notifications([_webhook(receiver.url())], _failed(), _settings(clock))

    assert (delivery.delivered, delivery.attempts) == (True, 2)
    assert clock.slept[0] >= 7


async def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    """A 302 answer does not send the report elsewhere: not delivered, one request."""
    receiver.answers = [(302, {"Location": receiver.url("/elsewhere")})]

    (delivery,) = await send_notifications([_webhook(receiver.url())], _failed(), _settings())

    assert not delivery.delivered
    assert receiver.on("/elsewhere") == []
    assert "redirects are not followed" in (delivery.error or "")


async def test_a_receiver_that_never_answers_times_out(receiver: Receiver) -> None:
    """Each try ends at the timeout; after three the notification is given up."""
    receiver.hang = True

    (delivery,) = await send_notifications(
        [_webhook(receiver.url(), timeout=0.2)], _failed(), _settings()
    )

    assert (delivery.delivered, delivery.attempts) == (False, 3)
    assert delivery.error == "no answer within 0.2s"


async def test_one_hanging_notification_does_not_hold_up_another(receiver: Receiver) -> None:
    """Notifications are sent at once: a prompt receiver is served whatever the other does."""
    with_a_slow_one = iter(running(Receiver(hang=True)))
    slow = next(with_a_slow_one)
    try:
        sent = await send_notifications(
            [_webhook(slow.url(), timeout=0.3), _webhook(receiver.url(), index=1)],
            _failed(),
            _settings(),
        )
    finally:
        next(with_a_slow_one, None)

    assert [d.delivered for d in sent] == [False, True]
    assert len(receiver.received) == 1


async def test_nothing_listening_is_a_logged_failure() -> None:
    """A refused connection is retried, then reported; the sender does not raise."""
    closed = Receiver()
    with_closed = iter(running(closed))
    next(with_closed)
    url = closed.url()
    next(with_closed, None)  # stopped: nothing listens on its port any more

    (delivery,) = await send_notifications([_webhook(url)], _failed(), _settings())

    assert (delivery.delivered, delivery.attempts) == (False, 3)
    assert "ClientConnectorError" in (delivery.error or "")


async def test_urls_never_reach_the_logs(
    receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """Logs name a notification by scheme and host: neither its path (a Slack webhook's
    credential) nor its query appear, even in error messages."""
    receiver.answers = [500]
    slack = Notification("slack", url=receiver.url(SECRET_PATH + "?token=q1w2e3r4t5"))
    check_targets((slack,), allow_insecure_http=False)
    configure_logging("console")

    await send_notifications([slack], _failed(), _settings())

    logs = capsys.readouterr().err
    assert "notify_retrying" in logs
    assert "notify_sent" in logs
    assert f"slack http://127.0.0.1:{receiver.port}/…" in logs
    assert "s3cr3t" not in logs
    assert "q1w2e3r4t5" not in logs


async def test_a_command_gets_the_report_on_stdin_without_the_token(tmp_path: Path) -> None:
    """The hexbatch.report/1 JSON arrives on standard input; the token's variable is not
    in the command's environment; it runs in the given folder with the batch's facts."""
    target = tmp_path / "got.json"
    settings = _settings(
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HEX_API_TOKEN": "hxtp_never_passed_on", "KEEP": "1"},
        hidden_env=frozenset({"HEX_API_TOKEN"}),
    )

    (delivery,) = await send_notifications([_command(*_writer(target))], _failed(), settings)

    assert delivery.delivered
    got = json.loads(target.read_text())
    report = json.loads(got["stdin"])
    assert report["schema"] == "hexbatch.report/1"
    assert report == json.loads(json.dumps(small_report().to_json()))
    assert "HEX_API_TOKEN" not in got["env"]
    assert got["env"]["KEEP"] == "1"
    assert got["env"]["HEXBATCH_MANIFEST"] == "nightly"
    assert got["env"]["HEXBATCH_BATCH_ID"] == "7"
    assert got["env"]["HEXBATCH_OK"] == "false"
    assert Path(got["cwd"]) == tmp_path


async def test_a_failing_command_is_retried_and_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A non-zero exit is a failed try; the last line it wrote to stderr is logged."""
    counter = tmp_path / "tries"
    script = (
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "p.write_text(p.read_text() + 'x' if p.exists() else 'x')\n"
        "sys.stdin.read()\n"
        "sys.exit('pager refused the alert')\n"
    )
    configure_logging("json")

    (delivery,) = await send_notifications(
        [_command(sys.executable, "-c", script)], _failed(), _settings()
    )

    assert (delivery.delivered, delivery.attempts) == (False, 3)
    assert counter.read_text() == "xxx"
    assert delivery.error == "exited with status 1: pager refused the alert"
    assert "pager refused the alert" in capsys.readouterr().err


async def test_a_command_that_cannot_start_is_not_retried(tmp_path: Path) -> None:
    """A missing program will not appear by trying again."""
    missing = str(tmp_path / "no-such-hook")

    (delivery,) = await send_notifications([_command(missing)], _failed(), _settings())

    assert (delivery.delivered, delivery.attempts) == (False, 1)
    assert (delivery.error or "").startswith(f"cannot start {missing}")


async def test_a_command_past_its_timeout_is_killed(tmp_path: Path) -> None:
    """A hook that hangs is killed at its timeout, with what it started, then retried."""
    pids = tmp_path / "pids"
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pids)!r}, 'a').write(f'{{child.pid}}\\n')\n"
        "time.sleep(60)\n"
    )

    (delivery,) = await send_notifications(
        [_command(sys.executable, "-c", script, timeout=0.5)], _failed(), _settings()
    )

    assert (delivery.delivered, delivery.attempts) == (False, 3)
    assert delivery.error == "did not exit within 0.5s (killed)"
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 3
    assert not any(_alive(pid) for pid in started)


def _alive(pid: int) -> bool:
    """Whether a process still runs (an orphan is reaped by init soon after it dies)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"):
            return False  # dead, waiting for its new parent to reap it
        time.sleep(0.05)
    return True


async def test_a_command_that_ignores_its_input_is_fine() -> None:
    """Exiting 0 without reading standard input is a delivery (no broken pipe error)."""
    (delivery,) = await send_notifications(
        [_command(sys.executable, "-c", "pass")], _failed(), _settings()
    )

    assert delivery.delivered


def test_plain_http_to_another_host_is_refused_with_file_and_line() -> None:
    """The URL (a secret) and the report would cross the network in clear text."""
    remote = Notification(
        "webhook",
        url="http://alerts.internal/hook/abcdef",
        index=2,
        location=SourceLocation("nightly.yaml", 12, 5),
    )

    with pytest.raises(
        ConfigurationError,
        match=r"nightly\.yaml:12: notify\[2\]: refusing plain http to alerts\.internal",
    ) as caught:
        check_targets((remote,), allow_insecure_http=False)

    assert "abcdef" not in str(caught.value)
    check_targets((remote,), allow_insecure_http=True)
    check_targets((Notification("webhook", url="http://[::1]:8080/x"),), allow_insecure_http=False)
    check_targets(
        (Notification("slack", url="https://hooks.slack.com/x"),), allow_insecure_http=False
    )


def test_targets_are_shown_masked() -> None:
    """Scheme, host and port; the path only as an ellipsis; a command by its program."""
    assert shown(Notification("slack", url="https://hooks.slack.com" + SECRET_PATH)) == (
        "slack https://hooks.slack.com/…"
    )
    assert shown(Notification("webhook", url="https://user:pw@h.example:8443/?k=v")) == (
        "webhook https://h.example:8443/…"
    )
    assert shown(Notification("webhook", url="https://h.example")) == "webhook https://h.example"
    assert shown(_command("./page.sh", "--key", "s3cr3t")) == "command ./page.sh …"
    assert "s3cr3t" not in repr(_command("./page.sh", "s3cr3t"))
    assert "hooks.slack" not in repr(Notification("slack", url="https://hooks.slack.com/x"))


def test_error_text_is_scrubbed_of_the_url_and_its_parts() -> None:
    """An error that quotes the URL, its path or its query keeps none of them."""
    url = "https://user:pa55word@hooks.example.com/hook/abcdef123456?token=zyx987"
    webhook = Notification("webhook", url=url)
    message = f"cannot post to {url}; path /hook/abcdef123456?token=zyx987; password pa55word"

    scrubbed = scrub(message, webhook)

    for secret in ("abcdef123456", "zyx987", "pa55word"):
        assert secret not in scrubbed
    assert scrubbed.startswith("cannot post to ***")
