"""An Airflow DAG that runs a hexbatch manifest every night (``pip install 'hexbatch[airflow]'``).

The connection ``hex_default`` holds the Hex API token as its password (and, for a
workspace on its own host, the base URL as its host), e.g.::

    export AIRFLOW_CONN_HEX_DEFAULT='{"conn_type": "generic", "password": "hxtp_..."}'

Airflow Variables say where the manifest, the state store and the reports are. The worker
checks the manifest and its projects and records the batch (one per DAG run) in the state
store, then defers: the triggerer drives the batch and the worker slot is free while Hex
runs. A retry resumes the same batch: an interrupted one goes on where it stopped, one that
ended with failed runs gives those runs, and only those, a new attempt; a run Hex already
started is never triggered again. ``skip_completed`` settles, without triggering, the runs
an earlier night already completed. ``as_of="{{ ds }}"`` makes ``today`` in the manifest's
dates the run's logical date, so a backfilled or late run plans its own day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from hexbatch.integrations.airflow import HexBatchOperator

with DAG(
    dag_id="hexbatch_nightly",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
) as dag:
    HexBatchOperator(
        task_id="nightly_batch",
        manifest="{{ var.value.get('hexbatch_manifest', '/opt/airflow/hex/nightly.yaml') }}",
        hex_conn_id="hex_default",
        state="{{ var.value.get('hexbatch_state', '/opt/airflow/hex/state.db') }}",
        as_of="{{ ds }}",
        skip_completed=True,
        report_dir="{{ var.value.get('hexbatch_reports', '/opt/airflow/hex/reports') }}/{{ ds }}",
        deferrable=True,
    )
