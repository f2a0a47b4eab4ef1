"""JUnit XML: schema validity, one suite per project, status mapping and escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from hexbatch import status as st
from hexbatch.outcome import BatchReport, RunOutcome
from hexbatch.report.junit import junit_outcome, render_junit
from tests.report.builders import HOSTILE, T0, attempt, large_report, small_report

SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[1] / "data" / "junit-10.xsd")


def _parse(text: str) -> ET.Element:
    """Parse rendered JUnit XML (our own output, so trusted)."""
    return ET.fromstring(text)  # noqa: S314


def _case(root: ET.Element, name: str) -> ET.Element:
    """The test case with the given name."""
    found = [case for case in root.iter("testcase") if case.get("name") == name]
    assert len(found) == 1
    return found[0]


def test_small_report_is_valid_against_the_junit_schema() -> None:
    """The rendered XML validates against the vendored junit-10 schema."""
    SCHEMA.validate(render_junit(small_report()))


def test_large_report_is_valid_against_the_junit_schema() -> None:
    """A larger batch with retries and hostile params validates too."""
    SCHEMA.validate(render_junit(large_report(300)))


def test_schema_rejects_a_malformed_report() -> None:
    """The schema is strict enough to catch a test case without a name."""
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate(
            '<testsuites><testsuite name="p" tests="1"><testcase/></testsuite></testsuites>'
        )


def test_one_suite_per_project_and_one_case_per_run() -> None:
    """Runs are grouped into one testsuite per project, in first-seen order."""
    root = _parse(render_junit(small_report()))

    suites = root.findall("testsuite")
    assert [suite.get("name") for suite in suites] == ["daily-revenue", "churn <model>"]
    assert [len(suite.findall("testcase")) for suite in suites] == [3, 3]
    assert root.get("tests") == "6"


def test_case_is_named_from_project_and_params() -> None:
    """A run's test case is ``project[params]`` with the project as classname and its time."""
    case = _case(_parse(render_junit(small_report())), "daily-revenue[run_date=2025-01-09]")

    assert case.get("classname") == "daily-revenue"
    assert case.get("time") == "42.500"
    assert list(case) == [case.find("system-out")]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (st.COMPLETED, "passed"),
        (st.ERRORED, "failure"),
        (st.KILLED, "failure"),
        (st.UNABLE_TO_ALLOCATE_KERNEL, "failure"),
        (st.TIMED_OUT, "failure"),
        (st.TRIGGER_FAILED, "error"),
        (st.UNKNOWN, "error"),
        (st.SKIPPED, "skipped"),
        (st.CANCELLED, "skipped"),
        ("PLANNED", "skipped"),
        (st.PENDING, "skipped"),
        (st.RUNNING, "skipped"),
        ("SOMETHING_NEW", "error"),
    ],
)
def test_status_maps_to_junit_outcome(status: str, outcome: str) -> None:
    """Each final status maps to pass, failure, error or skipped."""
    assert junit_outcome(status) == outcome


def test_failure_carries_the_error_and_status() -> None:
    """A failed run has a <failure> with the error as message and the status as type."""
    case = _case(_parse(render_junit(small_report())), "daily-revenue[run_date=2025-01-10]")

    failure = case.find("failure")
    assert failure is not None
    assert failure.get("type") == st.ERRORED
    assert failure.get("message") == "cell 3 raised KeyError"


def test_suite_tallies_match_the_cases() -> None:
    """Suite attributes count failures, errors and skipped runs."""
    suite = _parse(render_junit(small_report())).findall("testsuite")[1]

    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("1", "1", "1")


def test_system_out_lists_run_url_and_attempts() -> None:
    """The output of a retried run names its URL and every attempt."""
    case = _case(_parse(render_junit(small_report())), "daily-revenue[run_date=2025-01-10]")

    out = case.findtext("system-out") or ""
    assert "run_url: https://app.hex.tech/acme/app/p/latest?runId=r2b" in out
    assert "attempt 1: UNABLE_TO_ALLOCATE_KERNEL run_id=r2a" in out
    assert "attempt 2: ERRORED run_id=r2b" in out


def test_hostile_strings_are_escaped_and_round_trip() -> None:
    """Markup in params survives as text: escaped in the file, intact once parsed."""
    text = render_junit(small_report())

    assert HOSTILE not in text
    assert _case(_parse(text), f"churn <model>[segment={HOSTILE}]") is not None


def test_control_characters_are_replaced_so_the_xml_stays_valid() -> None:
    """Characters XML 1.0 cannot hold (NUL, ESC) become U+FFFD instead of breaking the file."""
    run = RunOutcome(
        "k", "p", "proj", {"x": "a\x00b\x1b[31m"}, st.ERRORED,
        [attempt(0, 1, st.ERRORED, "r")], error="bad\x07",
    )  # fmt: skip
    text = render_junit(BatchReport("m", T0, T0, [run]))

    SCHEMA.validate(text)
    failure = _parse(text).find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "bad\ufffd"


def test_an_empty_batch_is_a_valid_empty_report() -> None:
    """A batch without runs renders as an empty <testsuites>."""
    text = render_junit(BatchReport("m", T0, T0, []))

    SCHEMA.validate(text)
    assert _parse(text).get("tests") == "0"


def test_suite_time_is_wall_clock_not_a_sum() -> None:
    """Overlapping runs give a suite time from first trigger to last finish."""
    suite = _parse(render_junit(small_report())).findall("testsuite")[0]

    assert suite.get("time") == "42.500"  # runs span 0 s to 42.5 s; their sum would be 81.5 s
