"""Turn the workload benchmark's JSON lines into the README's Markdown table.

Usage::

    python -m bench workloads | tee results.jsonl
    python -m bench._table results.jsonl
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

_HEADER = (
    "| case | makespan s | vs pool10 | vs lower bound | requests/run | 429s "
    "| lag mean / p95 ms | correct |\n"
    "|---|---:|---:|---:|---:|---:|---:|---|"
)


def _ratio(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    return "" if value is None else f"{value:.3f}"


def _row(entry: Mapping[str, Any]) -> str:
    lag_mean, lag_p95 = entry.get("lag_mean_s"), entry.get("lag_p95_s")
    lag = "" if lag_mean is None else f"{lag_mean * 1000:.0f} / {(lag_p95 or 0) * 1000:.0f}"
    cells = [
        entry["case"],
        f"{entry['makespan_s']:.2f}",
        _ratio(entry, "makespan_vs_pool10"),
        _ratio(entry, "vs_lower_bound"),
        f"{entry['requests_per_run']:.1f}",
        str(entry.get("throttled_429", "")),
        lag,
        "yes" if entry.get("correct") else "NO",
    ]
    return "| " + " | ".join(cells) + " |"


_SHARED_HEADER = (
    "| case | batches | runs | 429s | makespan s | bound s | vs bound "
    "| high alone s | high started last s | vs alone | correct |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def _seconds(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    return "" if value is None else f"{value:.2f}"


def _shared_row(entry: Mapping[str, Any]) -> str:
    """A W4 measurement: batches sharing one token, against the trigger windows' bound."""
    cells = [
        entry["case"],
        str(entry["batches"]),
        str(entry["runs"]),
        str(entry["throttled_429"]),
        _seconds(entry, "makespan_s"),
        _seconds(entry, "bound_s"),
        _ratio(entry, "vs_bound"),
        _seconds(entry, "high_alone_s"),
        _seconds(entry, "high_shared_s"),
        _ratio(entry, "high_priority_ratio"),
        "yes" if entry.get("correct") else "NO",
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(entries: Iterable[Mapping[str, Any]]) -> str:
    """The backfill measurements as one table, one line per W3 measurement, then the
    shared-token measurements (W4) as a table of their own."""
    rows = [_HEADER]
    extra = []
    shared = []
    for entry in entries:
        if entry.get("workload") == "W4":
            shared.append(_shared_row(entry))
        elif "makespan_s" in entry:
            rows.append(_row(entry))
        elif entry.get("case") == "W3_hexbatch":
            extra.append(
                f"W3: {entry['runs']} runs over {entry['projects']} projects in "
                f"{entry['wall_s']:.1f} s ({entry['runs_per_s']:.0f} runs/s), "
                f"peak RSS {entry['peak_rss_mib']:.0f} MiB, correct: {entry['correct']}"
            )
    tables = [*rows, "", *extra]
    if shared:
        tables += ["", _SHARED_HEADER, *shared]
    return "\n".join(tables)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as lines:
        # Only the JSON lines: `make bench > results.jsonl` may also capture make's own output.
        print(markdown(json.loads(line) for line in lines if line.startswith("{")))
