"""The report benchmark's batch and measurement still work at a tiny size (what they hold,
never timings: those belong to the benchmark)."""

from __future__ import annotations

import json

from bench.bench_reports import big_report, main
from hexbatch.report import FORMATS, render_json


def test_the_generated_batch_has_failures_retries_and_numbered_attempts() -> None:
    report = big_report(60)

    assert report.counts() == {"ERRORED": 3, "COMPLETED": 57}
    retried = [run for run in report.runs if len(run.attempts) == 2]
    assert len(retried) == 2
    assert [a.number for a in retried[0].attempts] == [1, 2]
    assert json.loads(render_json(report))["runs"][0]["params"]["i"] == 0


def test_every_format_is_measured_with_its_size() -> None:
    measured = list(main(runs=30))

    assert [m["format"] for m in measured] == list(FORMATS)
    assert all(m["runs"] == 30 and m["bytes"] > 0 and m["peak_mib"] >= 0 for m in measured)
