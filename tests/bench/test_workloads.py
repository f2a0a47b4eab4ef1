"""Smoke tests: every benchmark workload and runner still works at a tiny size.

They check shapes and correctness flags, never timings (those belong to the benchmark).
"""

from __future__ import annotations

import asyncio

from bench._measure import in_order_makespan, lower_bound, percentile
from bench._table import markdown
from bench._workloads import backfill
from bench.bench_workloads import backfill_figures, naive_figures, short_runs_figures

FAST = 0.001  # a Hex second lasts 1 ms: runs of 60-600 ms


def test_backfill_runs_pool_and_both_hexbatch_batches() -> None:
    """W1 at four dates yields the pool baseline and two hexbatch batches, all correct."""
    figures = asyncio.run(backfill_figures(backfill("W1", dates=4, time_scale=FAST)))
    assert [entry["case"] for entry in figures] == ["W1_pool10", "W1_hexbatch", "W1_hexbatch_lpt"]
    assert all(entry["correct"] for entry in figures)
    assert all(entry["lag_seen"] == 4 for entry in figures)
    assert figures[1]["requests"]["trigger"] == 4


def test_limited_backfill_reports_no_throttling_for_hexbatch() -> None:
    """W2 at three dates: hexbatch keeps under the server's limits it was told about."""
    figures = asyncio.run(
        backfill_figures(backfill("W2", dates=3, enforce_limits=True, time_scale=FAST))
    )
    assert [entry["throttled_429"] for entry in figures[1:]] == [0, 0]
    assert all(entry["correct"] for entry in figures)


def test_naive_loop_measures_both_backfills() -> None:
    """The naive loop yields one correct measurement for W1 and one for W2."""
    figures = naive_figures(dates=2, time_scale=FAST)
    assert [entry["case"] for entry in figures] == ["W1_naive", "W2_naive"]
    assert all(entry["correct"] for entry in figures)


def test_short_runs_report_throughput_and_memory() -> None:
    """W3 at forty runs completes every run and reports throughput and peak RSS."""
    figures = short_runs_figures(runs=40, max_in_flight=8)
    assert figures["statuses"] == {"COMPLETED": 40}
    assert figures["runs_per_s"] > 0
    assert figures["peak_rss_mib"] > 0


def test_in_order_makespan_is_list_scheduling() -> None:
    """Two slots in order 3, 1, 1, 3: the last run starts at 2 and ends at 5."""
    assert in_order_makespan([3.0, 1.0, 1.0, 3.0], 2) == 5.0


def test_lower_bound_is_the_longest_run_when_it_dominates() -> None:
    """One 10 s run among short ones bounds the makespan from below by 10 s."""
    assert lower_bound([10.0, 1.0, 1.0], 3) == 10.0


def test_percentile_uses_nearest_rank() -> None:
    """The 95th percentile of 1..20 is 19 by nearest rank."""
    assert percentile([float(n) for n in range(1, 21)], 0.95) == 19.0


def test_markdown_table_has_a_row_per_backfill_case_and_a_w3_line() -> None:
    """The README table lists each backfill measurement and summarises W3 in a sentence."""
    backfill_entry = {
        "case": "W1_pool10",
        "makespan_s": 24.2,
        "vs_lower_bound": 1.1,
        "requests_per_run": 111.5,
        "throttled_429": 0,
        "lag_mean_s": 0.017,
        "lag_p95_s": 0.03,
        "correct": True,
    }
    w3 = {
        "case": "W3_hexbatch",
        "runs": 10,
        "projects": 2,
        "wall_s": 1.0,
        "runs_per_s": 10.0,
        "peak_rss_mib": 90.0,
        "correct": True,
    }
    text = markdown([backfill_entry, w3])
    assert "| W1_pool10 | 24.20 |  | 1.100 | 111.5 | 0 | 17 / 30 | yes |" in text
    assert text.endswith(
        "W3: 10 runs over 2 projects in 1.0 s (10 runs/s), peak RSS 90 MiB, correct: True"
    )
