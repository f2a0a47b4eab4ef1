"""Queue time, project versions and announced rate limits, in every report format."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import timedelta

from rich.console import Console

from hexbatch import status as st
from hexbatch.api.limits_seen import LimitsSeen
from hexbatch.outcome import BatchReport, RunOutcome
from hexbatch.report import render_console, render_html, render_junit, render_markdown
from hexbatch.report.html import report_page_data
from tests.report.builders import T0, attempt


def _report() -> BatchReport:
    """Three runs of one project, re-published (3 -> 4) before the third was triggered."""
    runs = [
        RunOutcome(
            f"k{n}",
            "pid-rev",
            "daily-revenue",
            {"run_date": f"2025-01-0{n}"},
            st.COMPLETED,
            [attempt(10 * n, 60, st.COMPLETED, f"r{n}", queued_s=4, version=version)],
        )
        for n, version in ((1, "3"), (2, "3"), (3, "4"))
    ]
    seen = {
        "status": LimitsSeen(limit=30, remaining=12, reset_s=41.0, seen_at="2025-01-09T06:01Z"),
        "trigger": LimitsSeen(retry_after_s=20.0, retry_after_at="2025-01-09T06:00Z"),
    }
    end = T0 + timedelta(seconds=120)
    return BatchReport("backfill.yaml", T0, end, runs, {"trigger": 3, "status": 9}, seen)


def test_markdown_sums_queue_time_and_flags_the_republish() -> None:
    """The summary line gives total queue and run time; the versions table marks the change;
    the rate limits Hex announced are listed per kind."""
    text = render_markdown(_report())

    assert "Runs queued for a kernel 12.0s in total and ran 2m 48s (3 attempts)." in text
    assert "| daily-revenue | 3 → 4 | ⚠️ re-published during the batch |" in text
    assert "| status | 30 | 12 | 41.0s | - |" in text
    assert "| trigger | - | - | - | 20.0s |" in text


def test_console_shows_queue_time_and_versions() -> None:
    """The terminal summary says how long runs queued and which versions ran."""
    out = io.StringIO()
    render_console(_report(), Console(file=out, width=100))

    text = out.getvalue()
    assert "queued 12.0s in total" in text
    assert "versions: daily-revenue 3 → 4 (re-published during the batch)" in text


def test_junit_carries_versions_and_the_split_per_attempt() -> None:
    """The suite has a project_versions property; each attempt line its queue and run time."""
    root = ET.fromstring(render_junit(_report()))  # noqa: S314 - our own output

    prop = root.find("./testsuite/properties/property[@name='project_versions']")
    assert prop is not None
    assert prop.get("value") == "3 -> 4"
    out = root.find("./testsuite/testcase/system-out")
    assert out is not None
    assert "queued_ms=4000 run_ms=56000 project_version=3" in (out.text or "")


def test_html_data_has_queue_segments_and_versions() -> None:
    """Each run carries its queued stretch (drawn lighter) and version; the header data
    the total queue time and each project's versions."""
    data = report_page_data(_report())

    first = data["runs"][0]
    assert first["q"] == [[10_000, 14_000]]
    assert first["v"] == "3"
    assert data["queue"] == [12.0, 3]
    assert data["versions"] == [["daily-revenue", "3 → 4", True]]
    # The page embeds the same data its script draws the versions line from.
    assert '"versions":[["daily-revenue","3 → 4",true]]' in render_html(_report())
