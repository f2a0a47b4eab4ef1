"""Batch reports for the report tests: a small hand-written one and large generated ones."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hexbatch import status as st
from hexbatch.outcome import Attempt, BatchReport, RunOutcome

T0 = datetime(2025, 1, 9, 6, 0, 0, tzinfo=UTC)
HOSTILE = "</script><img src=x onerror=alert(1)>"


def attempt(
    start_s: float,
    took_s: float | None,
    final: str,
    run_id: str,
    error: str | None = None,
    url: str | None = "default",
    *,
    queued_s: float | None = None,
    version: str | None = None,
) -> Attempt:
    """One attempt ``start_s`` after T0 lasting ``took_s`` (None: never seen ending), of
    which the first ``queued_s`` waited for a kernel (None: not known)."""
    finished = None if took_s is None else T0 + timedelta(seconds=start_s + took_s)
    started = None if queued_s is None else T0 + timedelta(seconds=start_s + queued_s)
    return Attempt(
        started_at=started,
        project_version=version,
        triggered_at=T0 + timedelta(seconds=start_s),
        run_id=run_id,
        run_url=f"https://app.hex.tech/acme/app/p/latest?runId={run_id}"
        if url == "default"
        else url,
        status=final,
        finished_at=finished,
        elapsed_ms=None if took_s is None else took_s * 1000,
        error=error,
    )


def small_report() -> BatchReport:
    """Six runs over two projects covering pass, failure, error, skip, retry and hostile text."""
    runs = [
        RunOutcome(
            "k1",
            "pid-rev",
            "daily-revenue",
            {"run_date": "2025-01-09"},
            st.COMPLETED,
            [attempt(0, 42.5, st.COMPLETED, "r1")],
        ),
        RunOutcome(
            "k2",
            "pid-rev",
            "daily-revenue",
            {"run_date": "2025-01-10"},
            st.ERRORED,
            [
                attempt(1, 5, st.UNABLE_TO_ALLOCATE_KERNEL, "r2a"),
                attempt(10, 30, st.ERRORED, "r2b", error="cell 3 raised KeyError"),
            ],
            error="cell 3 raised KeyError",
        ),
        RunOutcome(
            "k3",
            "pid-rev",
            "daily-revenue",
            {"run_date": "2025-01-11", "note": "a|b*c"},
            st.TRIGGER_FAILED,
            [],
            error="422: input run_date | invalid",
        ),
        RunOutcome(
            "k4",
            "pid-churn",
            "churn <model>",
            {"segment": HOSTILE},
            st.TIMED_OUT,
            [attempt(2, 90, st.TIMED_OUT, "r4", url="javascript:alert(1)")],
            error=f"timed out {HOSTILE}",
        ),
        RunOutcome("k5", "pid-churn", "churn <model>", {"segment": "b"}, st.SKIPPED, []),
        RunOutcome(
            "k6",
            "pid-churn",
            "churn <model>",
            {"segment": "c", "n": 3},
            st.UNKNOWN,
            [attempt(3, None, st.UNKNOWN, "r6")],
        ),
    ]
    requests = {"trigger": 5, "status": 40, "list": 1, "cancel": 1, "throttled": 2}
    return BatchReport("nightly.yaml", T0, T0 + timedelta(seconds=120), runs, requests)


def large_report(count: int, seed: int = 7, hostile: bool = True) -> BatchReport:
    """A plausible batch of ``count`` runs over a few projects, about 10 % not completing."""
    rng = random.Random(seed)
    projects = [("pid-a", "daily-revenue"), ("pid-b", "churn-model"), ("pid-c", "ltv-refresh")]
    finals = [st.COMPLETED] * 18 + [st.ERRORED, st.TIMED_OUT]
    lanes = [0.0] * 25  # a batch runs 25 at a time; each lane is free again at this offset
    runs = []
    for n in range(count):
        project_id, project = projects[n % len(projects)]
        params: dict[str, object] = {
            "run_date": f"2025-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}",
            "i": n,
        }
        if hostile and n % 97 == 0:
            params["note"] = HOSTILE
        lane = min(range(len(lanes)), key=lanes.__getitem__)
        start = lanes[lane] + rng.uniform(0.1, 2)
        took = rng.uniform(20, 240)
        final = rng.choice(finals)
        attempts = []
        if n % 31 == 0:
            attempts.append(attempt(start, 4, st.UNABLE_TO_ALLOCATE_KERNEL, f"r{n}a"))
            start += 10
        error = None
        if final != st.COMPLETED:
            error = f"cell 'load_{project}' raised ValueError on partition {n}"
            if hostile:
                error += " <b>&amp;</b>"
        # The first project is re-published half-way through the batch.
        version = ("7" if n < count // 2 else "8") if project_id == "pid-a" else "3"
        queued = rng.uniform(0.5, 8)
        attempts.append(
            attempt(start, took, final, f"r{n}", error=error, queued_s=queued, version=version)
        )
        lanes[lane] = start + took
        runs.append(RunOutcome(f"k{n}", project_id, project, params, final, attempts, error))
    end = T0 + timedelta(seconds=max(lanes) + 1)
    requests = {"trigger": count, "status": count * 6, "list": 0, "cancel": 0, "throttled": 3}
    return BatchReport("backfill.yaml", T0, end, runs, requests)
