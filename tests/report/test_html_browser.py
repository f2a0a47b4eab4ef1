"""The HTML report in a real browser: headless Chromium renders it without errors.

Why: string tests cannot prove that the page's script runs, that hostile strings
stay text once the DOM is built, or that nothing is fetched from the network. So
these tests write a report with ~2,000 runs plus hostile params, errors, names and
URLs, open it in headless Debian ``chromium`` and read back the DOM it built
(``--dump-dom``) and the browser's console log (``--enable-logging=stderr``).
The page marks ``<body data-ready="1">`` once drawn and records script errors on
``<html data-js-error>``; any console message (a script error, a blocked fetch
reported by the page's Content-Security-Policy) fails the test. A screenshot is
kept as an artefact: in ``$HEXBATCH_TEST_ARTIFACTS`` if set, else pytest's tmp dir.

The tests skip only when no chromium binary exists (install it with
``apt-get install -y chromium``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from hexbatch import status as st
from hexbatch.outcome import BatchReport, RunOutcome
from hexbatch.report import render_html
from tests.report.builders import HOSTILE, attempt, large_report, small_report

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (apt-get install -y chromium)"
)
ESCAPED_HOSTILE = "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


def _hostile_report() -> BatchReport:
    """~2,000 runs, led by runs whose every user string is hostile, so they are drawn first."""
    base = large_report(2000)
    hostile_run = RunOutcome(
        "hostile",
        "pid-x",
        HOSTILE,
        {"segment": HOSTILE, "q": '"quoted" & <b>bold</b>'},
        st.ERRORED,
        [attempt(5, 60, st.ERRORED, HOSTILE, error=HOSTILE, url="javascript:alert(1)")],
        error=HOSTILE,
    )
    return replace(base, runs=[hostile_run, *small_report().runs, *base.runs])


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    """Run headless chromium with networking extras off and a throwaway profile."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        # Lets the page's script finish before the DOM is dumped or the shot taken.
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile 2,000-run report written to a temporary file."""
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(_hostile_report()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def loaded(page: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The DOM chromium built from the page, and its log."""
    done = _chromium("--dump-dom", page.as_uri(), profile=tmp_path_factory.mktemp("profile"))
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def test_page_renders_and_marks_itself_ready(loaded: tuple[str, str]) -> None:
    """The script ran to the end: <body data-ready="1"> and some, not all, rows drawn."""
    dom, _ = loaded

    body = re.search(r"<body[^>]*>", dom)
    assert body is not None
    assert 'data-ready="1"' in body.group()
    rows = re.search(r'data-rows="(\d+)"', body.group())
    assert rows is not None
    assert 0 < int(rows.group(1)) < 500  # the table draws lazily, not 2,000 rows at once


def test_no_script_error_or_console_message(loaded: tuple[str, str]) -> None:
    """Neither the page's error hook nor the browser's console saw any message."""
    dom, log = loaded

    html_tag = re.search(r"<html[^>]*>", dom)
    assert html_tag is not None
    assert "data-js-error" not in html_tag.group()
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert console == []


def test_hostile_strings_stay_text_in_the_dom(loaded: tuple[str, str]) -> None:
    """Hostile names, params and errors are shown as text and never become elements or links."""
    dom, _ = loaded

    assert "<img" not in dom
    assert "<b>bold</b>" not in dom
    assert ESCAPED_HOSTILE in dom
    assert 'href="javascript:' not in dom


def test_header_counts_include_every_status(loaded: tuple[str, str]) -> None:
    """The header shows a count chip per status present in the batch."""
    dom, _ = loaded

    for status in (st.ERRORED, st.TRIGGER_FAILED, st.SKIPPED, st.COMPLETED):
        assert f'data-status="{status}"' in dom


def test_header_shows_queue_time_and_project_versions(loaded: tuple[str, str]) -> None:
    """The header sums queue time and names each project's versions, a re-publish
    marked as a change."""
    dom, _ = loaded

    assert re.search(r"queued \d+(m \d\ds|h \d\dm) in total \(\d+ attempts\)", dom)
    assert '<span class="version changed" title="re-published during the batch">' in dom
    assert "daily-revenue: version 7 → 8" in dom
    assert "churn-model: version 3" in dom


def test_screenshot_is_saved(page: Path, tmp_path: Path) -> None:
    """A 1400x900 screenshot of the page is written as a test artefact."""
    artefacts = Path(os.environ.get("HEXBATCH_TEST_ARTIFACTS") or tmp_path)
    artefacts.mkdir(parents=True, exist_ok=True)
    shot = artefacts / "report-browser.png"

    done = _chromium(
        f"--screenshot={shot}",
        "--window-size=1400,900",
        "--hide-scrollbars",
        page.as_uri(),
        profile=tmp_path / "profile",
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert shot.stat().st_size > 20_000  # a blank page would compress far smaller
    sys.stdout.write(f"screenshot: {shot}\n")


# Appended to the page only in the test below: it drives the page like a user
# (hovers the first bar, types a filter, picks a status, clicks a column twice) and writes what the
# table then shows into attributes on <body> for the DOM dump to carry out.
DRIVER = """
<script>
window.setTimeout(function () {
  var canvas = document.getElementById("timeline");
  var box = canvas.getBoundingClientRect();
  canvas.dispatchEvent(new MouseEvent("mousemove", {clientX: box.left + 2, clientY: box.top + 21}));
  var tooltip = document.getElementById("tooltip");
  document.body.dataset.tooltip = tooltip.hidden ? "" : tooltip.textContent.split("\\n")[0];
  var search = document.getElementById("search");
  search.value = "churn-model";
  search.dispatchEvent(new Event("input"));
  window.setTimeout(function () {
    var body = document.body;
    body.dataset.afterText = document.getElementById("shown").textContent;
    var select = document.getElementById("status-filter");
    select.value = "ERRORED";
    select.dispatchEvent(new Event("change"));
    body.dataset.afterStatus = document.getElementById("shown").textContent;
    var duration = document.querySelector('th[data-key="duration"]');
    duration.click();
    duration.click();
    var cells = document.querySelectorAll("#rows tr:not(.spacer) td:nth-child(6)");
    body.dataset.firstDurations = Array.prototype.map.call(
      Array.prototype.slice.call(cells, 0, 3), function (td) { return td.textContent; }).join("|");
    body.dataset.sort = duration.getAttribute("aria-sort");
  }, 400);
}, 50);
</script>
"""


def _seconds(text: str) -> float:
    """Parse the table's duration text (``12.3s``, ``4m 05s``) back into seconds."""
    minutes = re.match(r"(\d+)m (\d+)s", text)
    if minutes:
        return int(minutes.group(1)) * 60 + int(minutes.group(2))
    return float(text.rstrip("s"))


def test_filter_and_sort_work_in_the_browser(tmp_path: Path) -> None:
    """Hovering a bar, typing a filter, picking a status and sorting do what they say."""
    report = large_report(600, hostile=False)
    churn = [run for run in report.runs if run.project == "churn-model"]
    churn_errored = [run for run in churn if run.status == st.ERRORED]
    page = tmp_path / "report.html"
    page.write_text(render_html(report).replace("</body>", DRIVER + "</body>"), encoding="utf-8")

    done = _chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile")

    body = re.search(r"<body[^>]*>", done.stdout)
    assert body is not None
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group()))
    assert attrs["tooltip"].startswith("daily-revenue [run_date=")
    assert attrs["after-text"] == f"showing {len(churn)} of 600 runs"
    assert attrs["after-status"] == f"showing {len(churn_errored)} of 600 runs"
    assert attrs["sort"] == "descending"
    durations = [_seconds(text) for text in attrs["first-durations"].split("|")]
    assert durations == sorted(durations, reverse=True)
    assert len(durations) == min(3, len(churn_errored))
