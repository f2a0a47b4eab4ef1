"""Smoke tests: W4's batches on one token still run, at a tiny size and a fast clock.

Real processes (a simulator and one per batch), so these check shapes, correctness and
the absence of 429s, never timings (those belong to the benchmark).
"""

from __future__ import annotations

import pytest

from bench._table import markdown
from bench.bench_quota import priority, together

FAST = 0.001  # a Hex minute lasts 60 ms, an hour 3.6 s


def test_batches_started_together_on_one_token_are_measured_against_the_bound() -> None:
    """Two batches of three runs: every run once and COMPLETED, no 429, a bound to compare."""
    entry = together(2, runs=3, time_scale=FAST)

    assert entry["case"] == "W4a_shared_token"
    assert (entry["runs"], entry["throttled_429"], entry["correct"]) == (6, 0, True)
    assert entry["bound_s"] > 0
    assert set(entry["tightest_span_s"]) == {"20/0.06s", "60/3.6s"}
    assert entry["vs_bound"] == pytest.approx(entry["makespan_s"] / entry["bound_s"], rel=0.01)


def test_the_high_batch_is_measured_alone_and_started_last_and_the_lows_then_halt() -> None:
    """Lows with more runs than three hour windows allow are halted once the high one ends;
    every run Hex holds ran once and COMPLETED."""
    entry = priority(high_runs=3, low_runs=100, time_scale=FAST)

    assert entry["correct"]
    assert entry["throttled_429"] == 0
    assert entry["high_alone_s"] > 0
    assert entry["high_shared_s"] > 0
    assert 3 <= entry["runs"] < 3 + 2 * 100  # the lows stopped before their last triggers


def test_markdown_has_a_table_of_shared_token_rows() -> None:
    """W4 rows go in a table of their own, beside the W1-W3 one."""
    w4a = {
        "case": "W4a_shared_token",
        "workload": "W4",
        "batches": 2,
        "runs": 80,
        "throttled_429": 0,
        "makespan_s": 37.716,
        "bound_s": 37.065,
        "vs_bound": 1.0176,
        "correct": True,
    }
    w4c = {
        "case": "W4c_high_priority_last",
        "workload": "W4",
        "batches": 3,
        "runs": 150,
        "throttled_429": 0,
        "high_alone_s": 37.424,
        "high_shared_s": 38.198,
        "high_priority_ratio": 1.0207,
        "correct": True,
    }

    text = markdown([w4a, w4c])

    assert "| W4a_shared_token | 2 | 80 | 0 | 37.72 | 37.06 | 1.018 |  |  |  | yes |" in text
    assert "| W4c_high_priority_last | 3 | 150 | 0 |  |  |  | 37.42 | 38.20 | 1.021 | yes |" in text
