"""One notification per batch: webhooks, Slack and commands told when a batch ends."""

from __future__ import annotations

from hexbatch.notify.payload import (
    NOTIFY_SCHEMA,
    SLACK_FAILURES,
    BatchEnd,
    notify_document,
    notify_json_schema,
    refused_report,
    slack_message,
)
from hexbatch.notify.send import NOTIFY_RETRIES, Delivery, NotifySettings, send_notifications
from hexbatch.notify.targets import check_targets, describe, masked, shown

__all__ = [
    "NOTIFY_RETRIES",
    "NOTIFY_SCHEMA",
    "SLACK_FAILURES",
    "BatchEnd",
    "Delivery",
    "NotifySettings",
    "check_targets",
    "describe",
    "masked",
    "notify_document",
    "notify_json_schema",
    "refused_report",
    "send_notifications",
    "shown",
    "slack_message",
]
