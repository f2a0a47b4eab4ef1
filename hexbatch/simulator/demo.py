"""The built-in demo scenario; ``configs/demo-scenario.yaml`` holds the same content.

It lives in the package so ``Scenario.default()`` works from an installed wheel,
where ``configs/`` is not shipped. A test keeps the two copies equal.
"""

from __future__ import annotations

from typing import Any, Final

REVENUE: Final = "5a8591dd-4039-49df-9202-96385ba3eff8"
PRICING: Final = "0b7c3f52-9d1e-4c8a-a6f4-2e5d8c1b9a70"
DASHBOARD: Final = "9e2d4a61-3f7b-4b0c-8d5e-7a1c6f2b3e84"
DRAFT: Final = "c41d7e0a-6b2f-4e59-9a83-0f5d2c7b1e96"

DEMO_SCENARIO: Final[dict[str, Any]] = {
    "seed": 20250101,
    # A scenario minute lasts 3 s, so about 21 runs, 8 in flight, end in 10-20 s.
    "time_scale": 0.05,
    "tokens": [
        {"value": "hxtp_simulator_demo", "name": "demo", "user": "demo@example.com"},
        {
            "value": "hxtp_simulator_readonly",
            "name": "reader",
            "user": "reader@example.com",
            "read_only": True,
        },
    ],
    "projects": [
        {
            "id": REVENUE,
            "title": "Daily revenue",
            "version": 7,
            "inputs": {"run_date": {"type": "date"}},
            "pending": {"min": 1, "max": 4},
            "duration": {"min": 20, "max": 90},
            "outcome": {
                "default": "COMPLETED",
                "rules": [{"when": {"run_date": "2025-01-09"}, "status": "ERRORED"}],
            },
            # Hex's own runs mixed into the run list: a client must ask for API runs.
            "schedules": [{"trigger": "SCHEDULED", "every": "10s", "duration": "20s"}],
        },
        {
            "id": PRICING,
            "title": "Pricing model sweep",
            "version": 3,
            "inputs": {
                "region": {"type": "string"},
                "tier": {"type": "string"},
                "model": {"type": "string"},
            },
            "pending": {"min": 1, "max": 4},
            "duration": {"min": 30, "max": 120},
            "outcome": {
                "default": "COMPLETED",
                "rules": [
                    {
                        "when": {"region": "apac", "tier": "pro"},
                        "status": "UNABLE_TO_ALLOCATE_KERNEL",
                        "first_attempts": 1,
                    }
                ],
            },
        },
        {
            "id": DASHBOARD,
            "title": "Executive dashboard",
            "version": 12,
            "inputs": {},
            "pending": 2,
            "duration": 60,
            "schedules": [
                {"trigger": "APP_REFRESH", "every": "30s", "start": "15s", "duration": "10s"}
            ],
        },
        {"id": DRAFT, "title": "Draft analysis", "published": False},
    ],
    # Hex's documented limits, in scenario time: with time_scale 0.05 they scale
    # down with everything else (30 requests per 3 real seconds, and so on).
    "limits": {
        "requests": [{"count": 30, "per": "1m"}, {"count": 1800, "per": "1h"}],
        "run_project": [{"count": 20, "per": "1m"}, {"count": 60, "per": "1h"}],
        "kernel_limit": 25,
    },
    "faults": [],
}
