"""The HTML report: self-contained, data embedded safely, every user string escaped."""

from __future__ import annotations

import json
import re
from typing import Any

from hexbatch.outcome import BatchReport
from hexbatch.report.html import json_for_script, render_html, report_page_data
from tests.report.builders import HOSTILE, T0, large_report, small_report

DATA_ELEMENT = re.compile(
    r'<script type="application/json" id="report-data">(.*?)</script>', re.DOTALL
)


def _embedded(page: str) -> dict[str, Any]:
    """The JSON the page carries for its script."""
    found = DATA_ELEMENT.findall(page)
    assert len(found) == 1
    data: dict[str, Any] = json.loads(found[0])
    return data


def test_json_for_script_escapes_markup_characters() -> None:
    """<, > and & are written as JSON escapes, so the text cannot close a script element."""
    text = json_for_script({"x": HOSTILE + "&\u2028"})

    assert "<" not in text
    assert ">" not in text
    assert "&" not in text
    assert json.loads(text) == {"x": HOSTILE + "&\u2028"}


def test_hostile_params_never_appear_raw_in_the_page() -> None:
    """A param that tries to close the data element appears nowhere unescaped."""
    page = render_html(small_report())

    assert HOSTILE not in page
    assert "<img" not in page
    assert page.count("</script>") == 3  # the error hook, the data and the page script


def test_embedded_data_round_trips_hostile_strings() -> None:
    """The page's data holds the hostile strings intact, to be shown as text by the script."""
    data = _embedded(render_html(small_report()))

    runs = data["runs"]
    assert isinstance(runs, list)
    assert runs[3]["a"] == f"segment={HOSTILE}"
    assert data["projects"] == ["daily-revenue", "churn <model>"]


def test_only_http_urls_reach_the_page() -> None:
    """A javascript: run URL is dropped before it reaches the page."""
    runs = report_page_data(small_report())["runs"]

    assert runs[3]["u"] is None
    assert runs[0]["u"] == "https://app.hex.tech/acme/app/p/latest?runId=r1"


def test_title_is_html_escaped() -> None:
    """The manifest name in <title> is escaped."""
    report = small_report()
    report.manifest = HOSTILE

    page = render_html(report)

    assert (
        "<title>hexbatch failed: &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</title>" in page
    )


def test_slot_markers_inside_user_strings_are_left_alone() -> None:
    """A user string that looks like a template slot is not filled in."""
    report = small_report()
    report.runs[0].params = {"x": "@@CSS@@"}

    assert _embedded(render_html(report))["runs"][0]["a"] == "x=@@CSS@@"


def test_page_is_self_contained() -> None:
    """No external script, stylesheet, font or image is referenced, and a CSP forbids fetches."""
    page = render_html(small_report())

    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)
    assert "@import" not in page
    assert "url(" not in page
    assert "default-src 'none'" in page


def test_timeline_offsets_are_relative_to_the_batch_start() -> None:
    """Bars start at the first trigger and end at the final finish, in ms from the start."""
    data = report_page_data(small_report())

    revenue_retry = data["runs"][1]
    assert (revenue_retry["t0"], revenue_retry["t1"], revenue_retry["n"]) == (1000, 40000, 2)
    assert [a[0] for a in revenue_retry["at"]] == ["UNABLE_TO_ALLOCATE_KERNEL", "ERRORED"]


def test_unfinished_runs_extend_to_the_batch_end_and_untriggered_have_no_bar() -> None:
    """A run never seen finishing ends at the batch end; a skipped run has no times."""
    runs = report_page_data(small_report())["runs"]

    assert (runs[5]["t0"], runs[5]["t1"]) == (3000, 120000)
    assert (runs[4]["t0"], runs[4]["t1"]) == (None, None)


def test_counts_are_in_report_order() -> None:
    """The header's counts list failures first."""
    counts = report_page_data(small_report())["counts"]

    assert counts[0] == ("ERRORED", 1)
    assert counts[-1] == ("COMPLETED", 1)


def test_an_empty_batch_renders() -> None:
    """A batch without runs still yields a page with empty data."""
    data = _embedded(render_html(BatchReport("m", T0, T0, [])))

    assert data["runs"] == []


def test_ten_thousand_runs_render_compactly() -> None:
    """At 10,000 runs the page stays below 4 MB and embeds every run (its speed is a
    benchmark's business, not a test's: a timed assertion fails on a busy machine)."""
    report = large_report(10_000)

    page = render_html(report)

    assert len(page.encode("utf-8")) < 4_000_000
    assert len(_embedded(page)["runs"]) == 10_000
