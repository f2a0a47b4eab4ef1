"""The benchmark workloads of the performance issue, as simulator scenarios and manifests.

Every workload runs against the in-process simulator at ``time_scale`` 0.01:
a scenario second lasts 10 ms, so Hex's minutes take seconds and its 2026
limits (30 requests a minute and 1,800 an hour; 20 triggers a minute and 60 an
hour) become 30 and 20 per 0.6 s, 1,800 and 60 per 36 s.

* W1: one project, 60 consecutive dates, runs of 0.6-6 s after 0.1 s pending,
  three dates ERRORED, ten runs in flight, no limit enforced by the server.
* W2: W1 with the server enforcing Hex's limits, scaled.
* W3: many short runs across 20 projects, no limits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import yaml

TIME_SCALE = 0.01
TOKEN = "hxtp_bench_token"  # noqa: S105 - a simulator token, not a secret
FIRST_DATE = dt.date(2025, 1, 1)
UNLIMITED = 1_000_000

# Hex's documented limits (the default hex-api read group, and RunProject's), in
# scenario seconds (the simulator scales them).
HEX_REQUESTS = [{"count": 30, "per": 60}, {"count": 1800, "per": 3600}]
HEX_TRIGGERS = [{"count": 20, "per": 60}, {"count": 60, "per": 3600}]


def project_id(n: int) -> str:
    """A valid, recognisable project UUID for project number ``n``."""
    return f"b0000000-0000-4000-8000-{n:012d}"


@dataclass(frozen=True, slots=True)
class Workload:
    """A workload: the simulated workspace, the runs to make, and how fast to go.

    Attributes:
        name: W1, W2 or W3.
        scenario: the simulator scenario mapping.
        runs: (project id, params) of every planned run, in manifest order.
        max_in_flight: runs alive at once.
        enforce_limits: whether the server answers 429 beyond Hex's limits.
        projects: the manifest's ``projects`` entries.
        hex_limits_in_manifest: state Hex's limits (scaled) in the manifest;
            otherwise budgets too large to matter.
    """

    name: str
    scenario: dict[str, Any]
    runs: list[tuple[str, dict[str, Any]]]
    max_in_flight: int
    enforce_limits: bool = False
    projects: list[dict[str, Any]] = field(default_factory=list)
    hex_limits_in_manifest: bool = True
    time_scale: float = TIME_SCALE

    def hex_seconds(self, seconds: float) -> float:
        """Real seconds that ``seconds`` of Hex time last in this workload."""
        return seconds * self.time_scale

    def manifest_text(self, *, poll: dict[str, str] | None = None) -> str:
        """A version 1 manifest for these runs, with Hex's limits scaled like the server's.

        W1 and W2 state Hex's real limits (scaled): that is what a user writes,
        and the rhythm of status reads is derived from it. Whether the server
        enforces them is the scenario's business.
        """
        scale = self.time_scale
        requests, triggers = HEX_REQUESTS, HEX_TRIGGERS
        if not self.hex_limits_in_manifest:
            requests = triggers = [{"count": UNLIMITED, "per": 60}]
        document: dict[str, Any] = {
            "version": 1,
            "defaults": {
                "max_in_flight": self.max_in_flight,
                "timeout": "60s",
                # Hex-time defaults (2 s, 30 s, x1.5) scaled like the server's clock.
                "poll": poll
                or {"initial": _ms(2 * scale), "max": _ms(30 * scale), "multiplier": 1.5},
            },
            "limits": {
                "requests": _scaled(requests, scale),
                "triggers": _scaled(triggers, scale),
            },
            "projects": self.projects,
        }
        return yaml.safe_dump(document, sort_keys=False)


def _scaled(windows: list[dict[str, int]], scale: float) -> list[dict[str, Any]]:
    return [{"count": w["count"], "per": _ms(w["per"] * scale)} for w in windows]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g}ms"


def _limits(enforce: bool) -> dict[str, Any]:
    if enforce:
        return {"requests": HEX_REQUESTS, "run_project": HEX_TRIGGERS, "kernel_limit": 25}
    unlimited = {"count": UNLIMITED, "per": 60}
    return {"requests": unlimited, "run_project": [unlimited], "kernel_limit": UNLIMITED}


def backfill(
    name: str = "W1",
    *,
    dates: int = 60,
    enforce_limits: bool = False,
    time_scale: float = TIME_SCALE,
) -> Workload:
    """W1 (or W2 with ``enforce_limits``): a backfill of consecutive dates on one project.

    Runs last 60-600 scenario seconds (0.6-6 s) after 10 s (0.1 s) pending; the
    5th, 23rd and 41st dates end ERRORED (fewer when ``dates`` is small).
    """
    pid = project_id(1)
    days = [(FIRST_DATE + dt.timedelta(days=n)).isoformat() for n in range(dates)]
    failing = [days[n] for n in (4, 22, 40) if n < dates]
    scenario = {
        "seed": 8,
        "time_scale": time_scale,
        "tokens": [{"value": TOKEN, "name": "bench"}],
        "projects": [
            {
                "id": pid,
                "title": "Daily backfill",
                "pending": 10,
                "duration": {"min": 60, "max": 600},
                "outcome": {
                    "rules": [{"when": {"run_date": day}, "status": "ERRORED"} for day in failing]
                },
            }
        ],
        "limits": _limits(enforce_limits),
    }
    projects = [
        {
            "id": pid,
            "name": "backfill",
            "dates": {"param": "run_date", "start": days[0], "end": days[-1], "step": "1d"},
        }
    ]
    runs = [(pid, {"run_date": day}) for day in days]
    return Workload(name, scenario, runs, 10, enforce_limits, projects, True, time_scale)


def many_short_runs(
    runs: int = 10_000, *, projects: int = 20, max_in_flight: int = 100
) -> Workload:
    """W3: ``runs`` runs of 1 scenario second (10 ms) spread over ``projects`` projects."""
    per_project = runs // projects
    ids = [project_id(100 + n) for n in range(projects)]
    scenario = {
        "seed": 9,
        "time_scale": TIME_SCALE,
        "tokens": [{"value": TOKEN, "name": "bench"}],
        "projects": [
            {"id": pid, "title": f"Shard {n}", "pending": 0, "duration": 1}
            for n, pid in enumerate(ids)
        ],
        "limits": _limits(False),
    }
    entries = [
        {"id": pid, "name": f"shard-{n}", "matrix": {"part": list(range(per_project))}}
        for n, pid in enumerate(ids)
    ]
    planned = [(pid, {"part": part}) for pid in ids for part in range(per_project)]
    return Workload("W3", scenario, planned, max_in_flight, False, entries, False)
