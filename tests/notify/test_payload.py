"""What notifications say: the hexbatch.notify/1 document and the Slack message."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import jsonschema

from hexbatch import status as st
from hexbatch.notify import (
    NOTIFY_SCHEMA,
    SLACK_FAILURES,
    BatchEnd,
    notify_document,
    notify_json_schema,
    slack_message,
)
from hexbatch.outcome import BatchReport, RunOutcome
from tests.report.builders import HOSTILE, T0, attempt, large_report, small_report


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        notify_json_schema(), format_checker=jsonschema.FormatChecker()
    )


def _completed(count: int) -> BatchReport:
    runs = [
        RunOutcome(
            f"k{n}", "pid", "daily", {"n": n}, st.COMPLETED, [attempt(n, 5, st.COMPLETED, f"r{n}")]
        )
        for n in range(count)
    ]
    return BatchReport("nightly.yaml", T0, T0 + timedelta(seconds=65), runs)


def _texts(message: dict[str, Any]) -> list[str]:
    """Every text a Slack message shows, fallback included."""
    texts = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts.extend(element["text"] for element in block.get("elements", []))
    return texts


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    """The shipped schema passes the meta-schema check."""
    jsonschema.Draft202012Validator.check_schema(notify_json_schema())


def test_a_failed_batch_document_lists_every_run_that_did_not_complete() -> None:
    """Name, batch id, ok, counts, duration, and each unfinished run with its params,
    status, error and run URL; it follows the published schema."""
    document = notify_document(BatchEnd(small_report(), "nightly", batch_id=14))

    _validator().validate(document)
    assert document["schema"] == NOTIFY_SCHEMA
    assert (document["manifest"], document["batch_id"], document["ok"]) == ("nightly", 14, False)
    assert document["counts"] == small_report().counts()
    assert document["total"] == 6
    assert document["duration_s"] == 120.0
    assert [f["key"] for f in document["failures"]] == ["k2", "k3", "k6", "k4", "k5"]
    errored = document["failures"][0]
    assert errored["params"] == {"run_date": "2025-01-10"}
    assert errored["status"] == st.ERRORED
    assert errored["error"] == "cell 3 raised KeyError"
    assert errored["run_url"] == "https://app.hex.tech/acme/app/p/latest?runId=r2b"
    assert errored["attempts"] == 2
    assert document["summary"] == "nightly: 5 of 6 runs did not complete"


def test_a_completed_batch_document_has_no_failures() -> None:
    """ok is true, failures empty, and a batch without a state store has a null id."""
    document = notify_document(BatchEnd(_completed(3), "nightly"))

    _validator().validate(document)
    assert document["ok"] is True
    assert document["failures"] == []
    assert document["batch_id"] is None
    assert document["summary"] == "nightly: 3 of 3 runs completed"


def test_a_simulated_batch_says_so() -> None:
    """A batch against the simulator is marked, in the document and in the summary."""
    document = notify_document(BatchEnd(_completed(1), "nightly", simulated=True))

    assert document["simulated"] is True
    assert document["summary"] == "nightly (simulated): 1 of 1 run completed"


def test_the_schema_refuses_a_completed_run_among_failures() -> None:
    """The schema is strict enough to catch a document that lists a success as a failure."""
    document = notify_document(BatchEnd(small_report(), "nightly"))
    document["failures"][0]["status"] = st.COMPLETED

    assert not _validator().is_valid(document)


def test_slack_message_has_a_fallback_summary_and_failures_as_blocks() -> None:
    """A header, the counts, then one section per failure with status, params, error and
    a link to the run."""
    message = slack_message(BatchEnd(small_report(), "nightly", batch_id=14))

    assert message["text"] == ":x: nightly: 5 of 6 runs did not complete"
    header, summary, *failures = message["blocks"]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert summary["text"]["text"] == (
        "ERRORED 1 · TRIGGER_FAILED 1 · UNKNOWN 1 · TIMED_OUT 1 · SKIPPED 1 · COMPLETED 1"
        " · took 2m 00s · batch 14"
    )
    assert len(failures) == 5
    first = failures[0]["text"]["text"]
    assert first.startswith("*ERRORED* daily-revenue `run_date=2025-01-10`")
    assert ">cell 3 raised KeyError" in first
    assert "<https://app.hex.tech/acme/app/p/latest?runId=r2b|Open the run in Hex>" in first


def test_slack_lists_at_most_ten_failures_and_counts_the_rest() -> None:
    """Thirteen failures: ten are shown, and the message says three more did not complete;
    long names, params and errors are clipped to fit Slack's limits."""
    runs = [
        RunOutcome(
            f"k{n}",
            "pid",
            "p" * 400,
            {"n": n, "blob": "x" * 5000},
            st.ERRORED,
            [attempt(n, 5, st.ERRORED, f"r{n}")],
            error="e" * 10_000,
        )
        for n in range(13)
    ]
    report = BatchReport("x.yaml", T0, T0 + timedelta(seconds=9), runs)

    blocks = slack_message(BatchEnd(report, "n" * 300))["blocks"]

    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == 1 + SLACK_FAILURES
    assert blocks[-1]["type"] == "context"
    assert blocks[-1]["elements"][0]["text"].startswith("… and 3 more runs that did not complete")
    # Slack's limits: a header of 150 characters, sections of 3,000, 50 blocks.
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)


def test_slack_with_exactly_ten_failures_adds_no_remainder() -> None:
    """Ten failures fit: no "and N more" line."""
    report = large_report(200)
    failures = sum(not run.ok for run in report.runs)

    blocks = slack_message(BatchEnd(report, "backfill"))["blocks"]

    assert failures == SLACK_FAILURES
    assert blocks[-1]["type"] == "section"
    assert len(blocks) == 2 + SLACK_FAILURES


def test_slack_message_of_a_success_has_no_failures() -> None:
    """Only the header and the counts."""
    message = slack_message(BatchEnd(_completed(4), "nightly"))

    assert message["text"] == ":white_check_mark: nightly: 4 of 4 runs completed"
    assert [block["type"] for block in message["blocks"]] == ["header", "section"]


def test_slack_text_cannot_mention_channels_or_forge_links() -> None:
    """&, < and > from names, params and errors are escaped as Slack asks; a javascript:
    run URL is never linked; a backquote cannot end the params' code span."""
    runs = [
        RunOutcome(
            "k1",
            "pid",
            "<!channel> & <https://evil.example|click>",
            {"note": "a`b"},
            st.ERRORED,
            [attempt(0, 1, st.ERRORED, "r1", url="javascript:alert(1)")],
            error=f"boom {HOSTILE}",
        )
    ]
    report = BatchReport("x.yaml", T0, T0 + timedelta(seconds=1), runs)
    message = slack_message(BatchEnd(report, "<!here>"))

    for text in _texts(message)[:1] + _texts(message)[2:]:
        assert "<!" not in text, text
        assert "<https://evil" not in text, text
        assert "javascript:" not in text, text
    failure = message["blocks"][2]["text"]["text"]
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in failure
    assert "`note=aˋb`" in failure
    assert "&lt;/script&gt;" in failure


def test_slack_run_link_cannot_be_cut_short() -> None:
    """A | in a run URL is percent-encoded so it cannot end the link's address."""
    runs = [
        RunOutcome(
            "k1",
            "pid",
            "p",
            {},
            st.ERRORED,
            [attempt(0, 1, st.ERRORED, "r1", url="https://app.hex.tech/r?x=1|fake>&y=2")],
        )
    ]
    report = BatchReport("x.yaml", T0, T0 + timedelta(seconds=1), runs)

    text = slack_message(BatchEnd(report, "n"))["blocks"][2]["text"]["text"]

    link = re.search(r"<([^|>]*)\|Open the run in Hex>", text)
    assert link is not None
    assert link.group(1) == "https://app.hex.tech/r?x=1%7Cfake&gt;&amp;y=2"


def test_documents_are_plain_json() -> None:
    """Both payloads serialise without custom encoders (what the sender does)."""
    end = BatchEnd(large_report(50), "backfill", batch_id=3)

    json.dumps(notify_document(end))
    json.dumps(slack_message(end))
