"""Where notifications go, shown without their secrets, and checked before a batch starts.

A Slack incoming webhook's path *is* its credential, and other webhooks often
carry a token in the path or the query: a notification URL is treated as a
secret from the moment a batch starts. Output names it by scheme and host only
(``slack https://hooks.slack.com/…``); a command by its program only, since an
argument may come from a secret ``${VAR}`` too.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from hexbatch.api.client import is_loopback
from hexbatch.errors import ConfigurationError
from hexbatch.manifest import Notification
from hexbatch.redact import MASK, redact, register_secret

# A URL path shorter than this is no credential ("/", "/hook"); masking it in every
# log line would garble unrelated text.
_MIN_SECRET_PATH = 12
WHEN_ORDER: Final = ("failure", "success", "finish")


def _tail(url: str) -> str:
    """The URL's path and query: the part that identifies (and often authorises) a hook."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def masked(notification: Notification) -> str:
    """The target without its secrets: ``https://hooks.slack.com/…``, ``./page-oncall.sh …``."""
    if notification.kind == "command":
        program = notification.command[0] if notification.command else "?"
        return program + (" …" if len(notification.command) > 1 else "")
    parts = urlsplit(notification.url)
    host = parts.hostname or "?"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if _tail(notification.url) not in {"", "/"} else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def shown(notification: Notification) -> str:
    """The notification as output may show it: ``webhook https://hooks.example.com/…``."""
    return f"{notification.kind} {masked(notification)}"


def describe(notification: Notification) -> dict[str, Any]:
    """The notification as ``plan --json`` lists it, without its secrets."""
    return {
        "kind": notification.kind,
        "target": masked(notification),
        "on": [when for when in WHEN_ORDER if when in notification.on],
        "timeout_s": notification.timeout,
    }


def scrub(text: str, notification: Notification) -> str:
    """``text`` (an error about this notification) without its URL or any part of it that
    may be a credential, and without any registered secret."""
    if notification.url:
        parts = urlsplit(notification.url)
        hidden = {notification.url, notification.url.rstrip("/"), parts.query, parts.password}
        tail = _tail(notification.url)
        if len(tail) > 1:
            hidden.add(tail)
        for secret in sorted((s for s in hidden if s), key=len, reverse=True):
            text = text.replace(secret, MASK)
    return redact(text)


def check_targets(notifications: tuple[Notification, ...], *, allow_insecure_http: bool) -> None:
    """Refuse a notification URL that would cross the network in clear text, and register
    every URL as a secret so that no log line can show it.

    Raises:
        ConfigurationError: plain http to a host that is not this machine, without
            ``allow_insecure_http``.
    """
    for notification in notifications:
        if not notification.url:
            continue
        register_secret(notification.url)
        tail = _tail(notification.url)
        if len(tail) >= _MIN_SECRET_PATH:
            register_secret(tail)
        parts = urlsplit(notification.url)
        host = parts.hostname or ""
        if parts.scheme.lower() == "http" and not is_loopback(host) and not allow_insecure_http:
            where = notification.location
            raise ConfigurationError(
                f"{where.file}:{where.line}: notify[{notification.index}]: refusing plain http "
                f"to {host}: the {notification.kind} URL (a secret) and the batch's report "
                "would cross the network unencrypted. Use https, or pass --allow-insecure-http "
                "if you really mean it."
            )
