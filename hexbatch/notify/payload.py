"""What a notification says: the ``hexbatch.notify/1`` document and the Slack message.

Both are drawn from the batch's :class:`~hexbatch.outcome.BatchReport`, which
never holds the token, plus the manifest's name and the batch's id in its state
store. The Slack message is Block Kit with a plain-text fallback: a headline, the
counts, and at most :data:`SLACK_FAILURES` of the runs that did not complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, Final

from hexbatch.outcome import BatchReport, RunOutcome, batch_report, iso
from hexbatch.plan import Plan
from hexbatch.report.facts import (
    failed_runs,
    format_seconds,
    ordered_counts,
    params_text,
    safe_url,
)
from hexbatch.status import SKIPPED
from hexbatch.version import package_version

NOTIFY_SCHEMA: Final = "hexbatch.notify/1"
SLACK_FAILURES: Final = 10
"""Runs listed in a Slack message; the rest are counted."""
# Slack's limits: a header holds 150 characters, a section 3,000. Params and errors are
# clipped well below, so ten failures and the summary always fit.
_HEADER_MAX: Final = 150
_PARAMS_MAX: Final = 300
_ERROR_MAX: Final = 600


@dataclass(frozen=True, slots=True)
class BatchEnd:
    """A batch that ended, as notifications tell it.

    Attributes:
        report: every run's outcome.
        name: the manifest's name (its ``name:``, else its file name).
        batch_id: the batch's id in its state store (None without one).
        simulated: the batch ran against the built-in simulator, not Hex.
    """

    report: BatchReport
    name: str
    batch_id: int | None = None
    simulated: bool = False

    @property
    def failures(self) -> list[RunOutcome]:
        """The runs that did not complete, worst statuses first."""
        return failed_runs(self.report)

    def headline(self) -> str:
        """One line: ``nightly: 3 of 21 runs did not complete``."""
        total = len(self.report.runs)
        name = f"{self.name} (simulated)" if self.simulated else self.name
        runs = "run" if total == 1 else "runs"
        if self.report.ok:
            return f"{name}: {total} of {total} {runs} completed"
        return f"{name}: {len(self.failures)} of {total} {runs} did not complete"

    def details(self) -> str:
        """Counts per status, the batch's length and id: ``ERRORED 2 · COMPLETED 19 · …``."""
        parts = [f"{status} {count}" for status, count in ordered_counts(self.report)]
        parts.append(f"took {format_seconds(self.report.duration_s)}")
        if self.batch_id is not None:
            parts.append(f"batch {self.batch_id}")
        return " · ".join(parts)


def refused_report(plan: Plan, reason: str, now: datetime) -> BatchReport:
    """The report of a batch refused before its first trigger: every planned run SKIPPED
    with ``reason`` (and left unsettled, as a run never triggered is)."""
    runs = [RunOutcome.of(item.planned, SKIPPED, [], reason, settled=False) for item in plan.items]
    return batch_report(
        str(plan.manifest.source.resolve()), now, runs, finished_at=now, requests={}, rate_limits={}
    )


def _failure(run: RunOutcome) -> dict[str, Any]:
    return {
        "key": run.key,
        "project_id": run.project_id,
        "project": run.project,
        "params": run.params,
        "status": run.status,
        "error": run.error,
        "run_id": run.run_id,
        "run_url": run.run_url,
        "attempts": len(run.attempts),
    }


def notify_document(end: BatchEnd) -> dict[str, Any]:
    """The ``hexbatch.notify/1`` JSON a webhook receives."""
    report = end.report
    return {
        "schema": NOTIFY_SCHEMA,
        "manifest": end.name,
        "manifest_file": report.manifest,
        "batch_id": end.batch_id,
        "ok": report.ok,
        "simulated": end.simulated,
        "summary": end.headline(),
        "started_at": iso(report.started_at),
        "finished_at": iso(report.finished_at),
        "duration_s": report.duration_s,
        "total": len(report.runs),
        "counts": report.counts(),
        "failures": [_failure(run) for run in end.failures],
        "hexbatch_version": package_version(),
    }


def notify_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``hexbatch.notify/1``, shipped with the package."""
    text = resources.files("hexbatch.notify").joinpath("notify-1.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def mrkdwn(text: str) -> str:
    """``text`` shown literally in Slack's mrkdwn: ``&``, ``<`` and ``>`` escaped, as Slack
    asks, so a project name or an error cannot mention @channel or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    # A backquote would end the code span early; a look-alike keeps the text readable.
    return "`" + mrkdwn(text).replace("`", "ˋ") + "`"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _failure_block(run: RunOutcome) -> dict[str, Any]:
    line = f"*{mrkdwn(run.status)}* {mrkdwn(_clip(run.project, 200))}"
    params = params_text(run.params)
    if params:
        line += " " + _code(_clip(params, _PARAMS_MAX))
    if run.error:
        quoted = mrkdwn(_clip(run.error, _ERROR_MAX)).replace("\n", "\n>")
        line += f"\n>{quoted}"
    url = safe_url(run.run_url)
    if url:
        # Inside <url|label> a | or > would end the link: percent-encode them.
        link = mrkdwn(url.replace("|", "%7C"))
        line += f"\n<{link}|Open the run in Hex>"
    return {"type": "section", "text": {"type": "mrkdwn", "text": line}}


def slack_message(end: BatchEnd) -> dict[str, Any]:
    """The Slack incoming-webhook payload: Block Kit blocks and a plain-text fallback."""
    headline = end.headline()
    mark = ":white_check_mark:" if end.report.ok else ":x:"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _clip(f"{mark} {headline}", _HEADER_MAX),
                "emoji": True,
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(end.details())}},
    ]
    failures = end.failures
    blocks.extend(_failure_block(run) for run in failures[:SLACK_FAILURES])
    hidden = len(failures) - SLACK_FAILURES
    if hidden > 0:
        more = "run" if hidden == 1 else "runs"
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"… and {hidden} more {more} that did not complete"
                        " (the batch's report lists every run)",
                    }
                ],
            }
        )
    return {"text": f"{mark} {mrkdwn(headline)}", "blocks": blocks}
