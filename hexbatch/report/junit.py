"""JUnit XML: a batch shown to CI dashboards as a test suite.

One ``<testsuite>`` per project and one ``<testcase>`` per run, named from the
project and params. A completed run passes; a run Hex ended badly is a
``<failure>``; a run whose trigger failed or whose fate is unknown is an
``<error>`` (the batch machinery, not the notebook, went wrong); a run never
triggered or cancelled by the user is ``<skipped>``. The layout follows the
widely read Jenkins/Ant ``junit-10`` schema.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Final

from hexbatch import status as st
from hexbatch.outcome import BatchReport, RunOutcome, iso
from hexbatch.report.facts import ProjectVersions, project_versions, run_label, run_span

FAILURE_STATUSES: Final = frozenset(
    {st.ERRORED, st.KILLED, st.UNABLE_TO_ALLOCATE_KERNEL, st.TIMED_OUT}
)
ERROR_STATUSES: Final = frozenset({st.TRIGGER_FAILED, st.UNKNOWN})
SKIPPED_STATUSES: Final = frozenset({st.SKIPPED, st.CANCELLED, st.ALREADY_COMPLETED})
# A report of an unfinished batch (``hexbatch report STATE`` mid-run) holds runs that
# have not ended yet; they are not failures, just not done.
NOT_FINISHED_STATUSES: Final = frozenset({"PLANNED", st.PENDING, st.RUNNING})
# XML 1.0 forbids most control characters even when escaped; they are replaced.
_NOT_XML: Final = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Replace characters XML 1.0 cannot carry with U+FFFD (escaping is ElementTree's job)."""
    return _NOT_XML.sub("\ufffd", text)


def junit_outcome(status: str) -> str:
    """Map a final status to ``passed``, ``failure``, ``error`` or ``skipped``.

    A status hexbatch does not know is an ``error``: nobody can vouch for that run.
    """
    if status == st.COMPLETED:
        return "passed"
    if status in FAILURE_STATUSES:
        return "failure"
    if status in SKIPPED_STATUSES or status in NOT_FINISHED_STATUSES:
        return "skipped"
    return "error"


def _seconds(value: float | None) -> str:
    """A JUnit ``time`` attribute: seconds with millisecond precision."""
    return f"{value or 0.0:.3f}"


def _system_out(run: RunOutcome) -> str:
    """Run key, id, URL and every attempt, for the reader of a failed test."""
    lines = [f"key: {run.key}", f"project_id: {run.project_id}"]
    if run.run_id:
        lines.append(f"run_id: {run.run_id}")
    if run.run_url:
        lines.append(f"run_url: {run.run_url}")
    for position, attempt in enumerate(run.attempts, start=1):
        status = attempt.status or "?"
        line = (
            f"attempt {attempt.number or position}: {status} run_id={attempt.run_id or '-'}"
            f" triggered_at={iso(attempt.triggered_at) or '-'}"
            f" finished_at={iso(attempt.finished_at) or '-'}"
        )
        split = attempt.phases
        if split.queued_ms is not None:
            line += f" queued_ms={round(split.queued_ms)}"
        if split.run_ms is not None:
            line += f" run_ms={round(split.run_ms)}"
        if attempt.project_version:
            line += f" project_version={attempt.project_version}"
        if attempt.error:
            line += f" error={attempt.error}"
        lines.append(line)
    return xml_text("\n".join(lines))


def _testcase(parent: ET.Element, run: RunOutcome) -> str:
    """Append one run as a ``<testcase>``; return its JUnit outcome."""
    case = ET.SubElement(
        parent,
        "testcase",
        name=xml_text(run_label(run)),
        classname=xml_text(run.project),
        time=_seconds(run_span(run).seconds),
    )
    outcome = junit_outcome(run.status)
    message = xml_text(run.error or run.status)
    if outcome == "skipped":
        ET.SubElement(case, "skipped", message=message)
    elif outcome in ("failure", "error"):
        detail = ET.SubElement(case, outcome, message=message, type=xml_text(run.status))
        detail.text = message
    ET.SubElement(case, "system-out").text = _system_out(run)
    return outcome


def _testsuite(
    parent: ET.Element,
    project: str,
    runs: Sequence[RunOutcome],
    versions: ProjectVersions | None = None,
) -> dict[str, int]:
    """Append one project's runs as a ``<testsuite>``; return its tallies."""
    suite = ET.SubElement(parent, "testsuite", name=xml_text(project))
    properties = ET.SubElement(suite, "properties")
    for project_id in sorted({run.project_id for run in runs}):
        ET.SubElement(properties, "property", name="project_id", value=xml_text(project_id))
    if versions is not None:
        # More than one: the project was re-published during the batch.
        text = " -> ".join(versions.versions)
        ET.SubElement(properties, "property", name="project_versions", value=xml_text(text))
    tally = {"tests": 0, "failure": 0, "error": 0, "skipped": 0}
    starts = []
    ends = []
    for run in runs:
        outcome = _testcase(suite, run)
        tally["tests"] += 1
        if outcome in tally:
            tally[outcome] += 1
        span = run_span(run)
        if span.started_at is not None:
            starts.append(span.started_at)
        if span.finished_at is not None:
            ends.append(span.finished_at)
    # Runs overlap, so the suite's time is wall-clock (first trigger to last finish), not a sum.
    seconds = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    suite.set("tests", str(tally["tests"]))
    suite.set("failures", str(tally["failure"]))
    suite.set("errors", str(tally["error"]))
    suite.set("skipped", str(tally["skipped"]))
    suite.set("time", _seconds(max(seconds, 0.0)))
    if starts:
        # The schema's timestamp has no zone; hexbatch writes UTC.
        suite.set("timestamp", min(starts).strftime("%Y-%m-%dT%H:%M:%S"))
    return tally


def render_junit(report: BatchReport) -> str:
    """Render the batch as JUnit XML (one suite per project, one test case per run)."""
    by_project: dict[str, list[RunOutcome]] = {}
    for run in report.runs:
        by_project.setdefault(run.project, []).append(run)
    root = ET.Element("testsuites", name=xml_text(f"hexbatch {report.manifest}"))
    totals = {"tests": 0, "failure": 0, "error": 0, "skipped": 0}
    versions = {entry.project: entry for entry in project_versions(report)}
    for project, runs in by_project.items():
        for name, count in _testsuite(root, project, runs, versions.get(project)).items():
            totals[name] += count
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failure"]))
    root.set("errors", str(totals["error"]))
    # junit-10 has no ``skipped`` total on <testsuites>; the suites carry it.
    root.set("time", _seconds(report.duration_s))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
