"""Deliver a batch's notifications: POST JSON to webhooks and Slack, or run a command.

Each notification is tried up to three times (the first try and two retries,
with jittered backoff on the injectable clock), each try bounded by the entry's
``timeout``. A notification that still fails is logged and reported in the
returned :class:`Delivery`; it never raises, so it can never change how the
batch's command exits. All wanted notifications are sent at once, so one that
hangs does not delay the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import aiohttp
import anyio
import structlog

from hexbatch.api.http_errors import parse_retry_after
from hexbatch.api.retry import Backoff, RetryDecision, RetryPolicy, call_with_retries
from hexbatch.clock import Clock, Sleep, monotonic, real_sleep
from hexbatch.errors import HexbatchError
from hexbatch.manifest import Manifest, Notification
from hexbatch.notify.payload import BatchEnd, notify_document, slack_message
from hexbatch.notify.targets import scrub, shown
from hexbatch.redact import redact
from hexbatch.terminal import escape_control
from hexbatch.version import package_version

log = structlog.get_logger("hexbatch.notify")

NOTIFY_RETRIES: Final = RetryPolicy(
    attempts=3, backoff=Backoff(initial=1.0, max=10.0, multiplier=3.0), budget=60.0
)
"""The first try and two retries, within a minute."""
_OUTPUT_SHOWN: Final = 300
"""Characters of a failed command's output (or a refusing server's answer) logged."""


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """How notifications are sent.

    Attributes:
        retry: tries, backoff and budget of each notification.
        clock, sleep, rng: time and jitter (virtual in tests).
        cwd: where commands run (the manifest's folder, so ``./hook.sh`` is found there).
        env: the environment commands start from (default: this process's).
        hidden_env: variables removed from a command's environment (the token's).
    """

    retry: RetryPolicy = NOTIFY_RETRIES
    clock: Clock = monotonic
    sleep: Sleep = real_sleep
    rng: random.Random = field(default_factory=random.Random)
    cwd: Path | None = None
    env: Mapping[str, str] | None = None
    hidden_env: frozenset[str] = frozenset()

    @classmethod
    def for_manifest(
        cls, manifest: Manifest, *, clock: Clock, sleep: Sleep, rng: random.Random
    ) -> NotifySettings:
        """Settings for a manifest's batch: its commands run beside it, without its token."""
        return cls(
            clock=clock,
            sleep=sleep,
            rng=rng,
            cwd=manifest.source.resolve().parent,
            hidden_env=frozenset({manifest.token_env}),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one notification: delivered or not, after how many tries, and why not."""

    notification: Notification
    delivered: bool
    attempts: int
    error: str | None = None

    @property
    def target(self) -> str:
        """The notification as logs show it (no secret)."""
        return shown(self.notification)


class Undelivered(HexbatchError):
    """One try that did not deliver; ``retry`` says whether another try may help."""

    def __init__(self, reason: str, *, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry = retry
        self.retry_after = retry_after


def _classify(error: Exception) -> RetryDecision:
    if isinstance(error, Undelivered):
        return RetryDecision(error.retry, error.retry_after)
    return RetryDecision(False)


def _excerpt(raw: bytes) -> str:
    """The last line of some output, short and safe to log."""
    text = raw.decode("utf-8", errors="replace").strip()
    last = text.splitlines()[-1] if text else ""
    if len(last) > _OUTPUT_SHOWN:
        last = last[: _OUTPUT_SHOWN - 1] + "…"
    return escape_control(last)


async def _post(session: aiohttp.ClientSession, notification: Notification, body: bytes) -> None:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"hexbatch/{package_version()}",
    }
    timeout = notification.timeout
    try:
        async with session.post(
            notification.url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            # A redirect would carry the report to wherever the answer points.
            allow_redirects=False,
        ) as response:
            if 200 <= response.status < 300:
                return
            answer = _excerpt(await response.content.read(4096))
            reason = f"HTTP {response.status}" + (f": {answer}" if answer else "")
            if 300 <= response.status < 400:
                reason += " (redirects are not followed)"
            retry = response.status == 429 or response.status >= 500
            after = parse_retry_after(response.headers.get("Retry-After")) if retry else None
            raise Undelivered(scrub(reason, notification), retry=retry, retry_after=after)
    except TimeoutError:
        raise Undelivered(f"no answer within {timeout:g}s", retry=True) from None
    except (aiohttp.InvalidURL, aiohttp.ClientConnectorCertificateError) as error:
        raise Undelivered(scrub(str(error), notification), retry=False) from None
    except aiohttp.ClientError as error:
        reason = f"{type(error).__name__}: {error}"
        raise Undelivered(scrub(reason, notification), retry=True) from None


def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill the command and whatever it started (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - no process groups
            process.kill()


async def _run(
    notification: Notification, stdin: bytes, settings: NotifySettings, end: BatchEnd
) -> None:
    argv = notification.command
    base = os.environ if settings.env is None else settings.env
    env = {name: value for name, value in base.items() if name not in settings.hidden_env}
    env.update(
        HEXBATCH_MANIFEST=end.name,
        HEXBATCH_BATCH_ID="" if end.batch_id is None else str(end.batch_id),
        HEXBATCH_OK="true" if end.report.ok else "false",
    )
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=settings.cwd,
            env=env,
            start_new_session=os.name == "posix",
        )
    except OSError as error:  # not found, not executable
        raise Undelivered(
            redact(f"cannot start {argv[0]}: {error.strerror or error}"), retry=False
        ) from None
    try:
        with anyio.fail_after(notification.timeout):
            out, err = await process.communicate(stdin)
    except TimeoutError:
        raise Undelivered(
            f"did not exit within {notification.timeout:g}s (killed)", retry=True
        ) from None
    finally:
        if process.returncode is None:
            _kill(process)
            with anyio.CancelScope(shield=True):
                await process.wait()
    if process.returncode != 0:
        said = _excerpt(err) or _excerpt(out)
        reason = f"exited with status {process.returncode}" + (f": {said}" if said else "")
        raise Undelivered(redact(reason), retry=True)


def _body(notification: Notification, end: BatchEnd) -> bytes:
    if notification.kind == "webhook":
        document = notify_document(end)
    elif notification.kind == "slack":
        document = slack_message(end)
    else:
        document = end.report.to_json()
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


async def _deliver(
    notification: Notification,
    end: BatchEnd,
    settings: NotifySettings,
    session: aiohttp.ClientSession | None,
) -> Delivery:
    target = shown(notification)
    body = _body(notification, end)
    tries = 0

    async def attempt() -> None:
        nonlocal tries
        tries += 1
        if session is None:
            await _run(notification, body, settings, end)
        else:
            await _post(session, notification, body)

    def retrying(error: Exception, retry: int, wait: float) -> None:
        log.warning(
            "notify_retrying",
            target=target,
            attempt=retry + 1,
            error=str(error),
            wait_s=round(wait, 3),
        )

    try:
        await call_with_retries(
            attempt,
            policy=settings.retry,
            classify=_classify,
            clock=settings.clock,
            sleep=settings.sleep,
            rng=settings.rng,
            on_retry=retrying,
        )
    except Undelivered as error:
        log.warning("notify_failed", target=target, attempts=tries, error=str(error))
        return Delivery(notification, delivered=False, attempts=tries, error=str(error))
    except Exception as error:  # noqa: BLE001 - a notification must never end the command
        reason = scrub(f"{type(error).__name__}: {error}", notification)
        log.warning("notify_failed", target=target, attempts=tries, error=reason)
        return Delivery(notification, delivered=False, attempts=tries, error=reason)
    log.info("notify_sent", target=target, attempts=tries)
    return Delivery(notification, delivered=True, attempts=tries)


async def send_notifications(
    notifications: tuple[Notification, ...] | list[Notification],
    end: BatchEnd,
    settings: NotifySettings | None = None,
) -> list[Delivery]:
    """Send each notification whose ``on`` matches how the batch ended, all at once.

    Returns one :class:`Delivery` per notification sent, in the manifest's order.
    Never raises for a notification that fails (it is logged); cancellation still
    cancels.
    """
    settings = settings or NotifySettings()
    wanted = [n for n in notifications if n.wanted(end.report.ok)]
    for notification in notifications:
        if notification not in wanted:
            log.debug(
                "notify_not_due",
                target=shown(notification),
                on=sorted(notification.on),
                ok=end.report.ok,
            )
    if not wanted:
        return []
    results: dict[int, Delivery] = {}
    async with contextlib.AsyncExitStack() as stack:
        session: aiohttp.ClientSession | None = None
        if any(n.kind != "command" for n in wanted):
            session = await stack.enter_async_context(aiohttp.ClientSession())

        async def one(position: int, notification: Notification) -> None:
            http = session if notification.kind != "command" else None
            results[position] = await _deliver(notification, end, settings, http)

        async with anyio.create_task_group() as group:
            for position, notification in enumerate(wanted):
                group.start_soon(one, position, notification)
    return [results[position] for position in range(len(wanted))]
