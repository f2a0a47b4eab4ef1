"""Dagster definitions that run configs/dagster/daily-revenue.yaml as a daily partitioned asset.

    pip install 'hexbatch[dagster]'
    export HEX_API_TOKEN=hxtp_...            # read when a step runs, never stored by Dagster
    export HEXBATCH_STATE=postgresql://...   # shared by every step that may run the asset
    dagster dev -f configs/dagster/definitions.py

Each night the schedule materializes yesterday's partition; its key (2025-03-01) is the
batch's "today", so the manifest's relative dates run 2025-02-27 and 2025-02-28. A failed
run fails the step with the list of runs that did not complete; the retry (and any later
materialization) resumes from the state store and triggers only the runs that never
completed.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from hexbatch.integrations.dagster import HexBatchResource, hexbatch_asset

daily = dg.DailyPartitionsDefinition(start_date="2025-01-01")

daily_revenue = hexbatch_asset(
    manifest=Path(__file__).with_name("daily-revenue.yaml"),
    name="daily_revenue",
    partitions_def=daily,
    group_name="hex",
    # A retry resumes the batch: what completed is never triggered again.
    retry_policy=dg.RetryPolicy(max_retries=1),
)

daily_revenue_job = dg.define_asset_job("daily_revenue_job", selection=[daily_revenue])

defs = dg.Definitions(
    assets=[daily_revenue],
    jobs=[daily_revenue_job],
    schedules=[dg.build_schedule_from_partitioned_job(daily_revenue_job, hour_of_day=2)],
    resources={"hexbatch": HexBatchResource(token=dg.EnvVar("HEX_API_TOKEN"))},
)
