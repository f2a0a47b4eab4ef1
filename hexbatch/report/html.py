"""A self-contained HTML report: header with counts, a timeline and a run table.

The page is one file with its CSS and JavaScript inline and a Content-Security-
Policy that forbids every network fetch. The runs travel as JSON inside a
``<script type="application/json">`` element with ``<``, ``>`` and ``&`` written
as ``\\u003c``-style escapes, so no user string can close the element; the
script puts strings on the page only through ``textContent`` and links only
http(s) URLs. Rows are drawn lazily (a virtual table) and the timeline is a
canvas, which keeps a 10,000-run report responsive.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any, Final

from hexbatch.outcome import BatchReport, RunOutcome, iso
from hexbatch.report.facts import (
    ordered_counts,
    params_text,
    project_versions,
    queue_time,
    request_usage,
    run_span,
    safe_url,
)
from hexbatch.status import REPORT_ORDER

_SLOTS: Final = re.compile(r"@@(TITLE|CSS|JS|DATA)@@")
# Characters that could end a <script> element or start markup, and the two line
# separators old JavaScript engines choke on, written as JSON escapes.
_SCRIPT_ESCAPES: Final = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_SCRIPT_UNSAFE: Final = re.compile("[<>&\u2028\u2029]")


@cache
def _asset(name: str) -> str:
    """Read one of the template files shipped inside the package."""
    return files("hexbatch.report").joinpath("assets", name).read_text(encoding="utf-8")


def json_for_script(value: Any) -> str:
    """Serialise ``value`` as JSON that is inert inside an HTML ``<script>`` element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return _SCRIPT_UNSAFE.sub(lambda match: _SCRIPT_ESCAPES[match.group()], text)


def _offset_ms(moment: datetime | None, origin: datetime) -> int | None:
    """Milliseconds from the batch start, which keeps the embedded data small."""
    if moment is None:
        return None
    return round((moment - origin).total_seconds() * 1000)


def _run_record(run: RunOutcome, project_index: int, report: BatchReport) -> dict[str, Any]:
    """One run in the page's compact shape (short keys: the file holds thousands of them)."""
    span = run_span(run)
    start = _offset_ms(span.started_at, report.started_at)
    end = _offset_ms(span.finished_at, report.started_at)
    if start is not None and end is None:
        # Never seen finishing (interrupted or unknown): the bar runs to the end of the batch.
        end = max(start, _offset_ms(report.finished_at, report.started_at) or start)
    record: dict[str, Any] = {
        "p": project_index,
        "a": params_text(run.params),
        "s": run.status,
        "n": len(run.attempts),
        "t0": start,
        "t1": end,
        "d": None if span.seconds is None else round(span.seconds, 3),
        "e": run.error,
        "u": safe_url(run.run_url),
        "i": run.run_id,
        "k": run.key,
    }
    queued = [
        [_offset_ms(between[0], report.started_at), _offset_ms(between[1], report.started_at)]
        for attempt in run.attempts
        if (between := attempt.phases.queued_between) is not None
    ]
    if queued:
        record["q"] = queued  # drawn as the lighter shade of the run's bar
    versions = list(dict.fromkeys(a.project_version for a in run.attempts if a.project_version))
    if versions:
        record["v"] = " → ".join(versions)
    if len(run.attempts) > 1:
        record["at"] = [
            [a.status, _offset_ms(a.triggered_at, report.started_at), a.elapsed_ms, a.error]
            for a in run.attempts
        ]
    return record


def report_page_data(report: BatchReport) -> dict[str, Any]:
    """The data the page's script draws from, derived from the report's outcome records."""
    projects: dict[str, int] = {}
    runs = [
        _run_record(run, projects.setdefault(run.project, len(projects)), report)
        for run in report.runs
    ]
    ends = [run["t1"] for run in runs if run["t1"] is not None]
    batch_ms = _offset_ms(report.finished_at, report.started_at) or 0
    waited = queue_time(report)
    return {
        "schema": "hexbatch.report-page/1",
        "manifest": report.manifest,
        "started_at": iso(report.started_at),
        "finished_at": iso(report.finished_at),
        "duration_s": report.duration_s,
        "ok": report.ok,
        "t0": round(report.started_at.timestamp() * 1000),
        "span_ms": max([batch_ms, *ends]),
        "counts": ordered_counts(report),
        "status_order": list(REPORT_ORDER),
        "requests": request_usage(report),
        "queue": None if waited is None else [round(waited.queued_s, 3), waited.attempts],
        "versions": [[v.project, v.text, v.changed] for v in project_versions(report)],
        "projects": list(projects),
        "runs": runs,
    }


def render_html(report: BatchReport) -> str:
    """Render the batch as one self-contained HTML page (no network access needed)."""
    verdict = "ok" if report.ok else "failed"
    slots = {
        "TITLE": html.escape(f"hexbatch {verdict}: {report.manifest}"),
        "CSS": _asset("report.css"),
        "JS": _asset("report.js"),
        "DATA": json_for_script(report_page_data(report)),
    }
    # One pass, so text inside a filled slot is never mistaken for another slot.
    return _SLOTS.sub(lambda match: slots[match.group(1)], _asset("report.html"))
