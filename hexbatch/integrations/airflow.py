"""Run a hexbatch manifest as an Airflow (>= 3.1) task: ``pip install 'hexbatch[airflow]'``.

:class:`HexBatchOperator` checks the manifest in the worker, then (deferrable, the default)
hands the batch to :class:`HexBatchTrigger`, which drives it in the triggerer: the worker
slot is free while Hex runs. The batch lives in hexbatch's state store, so an Airflow retry
resumes it (what Hex already ran is never triggered again) and a second copy of the trigger
finds the batch's lease taken instead of driving it twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.exceptions import AirflowException
from airflow.sdk import BaseHook, BaseOperator, Context
from airflow.triggers.base import BaseTrigger, TriggerEvent

from hexbatch.integrations.batch_job import BatchJob, WorkerDrive, drive, summary

DEFAULT_CONN_ID = "hex_default"


def connection_credentials(conn_id: str) -> tuple[str, str | None]:
    """The token (the connection's password) and base URL (its host, when set).

    Raises:
        AirflowException: the connection has no password.
    """
    connection = BaseHook.get_connection(conn_id)
    token = (connection.password or "").strip()
    if not token:
        raise AirflowException(f"connection {conn_id!r} has no password: set the Hex API token")
    host = (connection.host or "").strip()
    if host and "://" not in host:
        scheme = connection.schema or "https"
        port = f":{connection.port}" if connection.port else ""
        host = f"{scheme}://{host}{port}"
    return token, host or None


class HexBatchTrigger(BaseTrigger):  # type: ignore[misc]
    """Drives one batch in the triggerer and fires one event with its outcome."""

    def __init__(self, *, hex_conn_id: str = DEFAULT_CONN_ID, **job: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.hex_conn_id = hex_conn_id
        self.job = BatchJob(**job)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"hex_conn_id": self.hex_conn_id, **self.job.to_kwargs()},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            token, base_url = await asyncio.to_thread(connection_credentials, self.hex_conn_id)
        except AirflowException as error:
            failed = {"ok": False, "error": str(error), "counts": {}, "runs": []}
            yield TriggerEvent(failed)  # type: ignore[no-untyped-call]
            return
        # Cancelling the trigger (a triggerer shutting down) ends the drive without
        # cancelling Hex's runs: the next driver resumes them from the state store.
        yield TriggerEvent(await drive(self.job, token, base_url))  # type: ignore[no-untyped-call]


class HexBatchOperator(BaseOperator):  # type: ignore[misc]
    """Run (or resume) the batch of a hexbatch manifest.

    Args:
        manifest: path to the manifest (templated).
        hex_conn_id: the Airflow connection: password = Hex API token, host = base URL.
        state: the state store, a path or ``postgresql://`` URL (templated; default beside
            the manifest). A retry resumes the unfinished batch of the same manifest in it.
        as_of: the day that is "today" for relative dates (templated: ``"{{ ds }}"``).
        skip_completed: trigger only runs that never completed in an earlier batch.
        report_dir: write every report format there (templated).
        deferrable: drive the batch in the triggerer (default) instead of the worker.
        fail_fast: stop triggering after the first run that does not complete.
    """

    template_fields: Sequence[str] = ("manifest", "state", "as_of", "report_dir")

    def __init__(
        self,
        *,
        manifest: str,
        hex_conn_id: str = DEFAULT_CONN_ID,
        state: str | None = None,
        as_of: str | None = None,
        skip_completed: bool = False,
        report_dir: str | None = None,
        deferrable: bool = True,
        fail_fast: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.manifest = manifest
        self.hex_conn_id = hex_conn_id
        self.state = state
        self.as_of = as_of
        self.skip_completed = skip_completed
        self.report_dir = report_dir
        self.deferrable = deferrable
        self.fail_fast = fail_fast
        self._worker: WorkerDrive | None = None

    def _job(self) -> BatchJob:
        return BatchJob(
            manifest=str(self.manifest),
            state=None if self.state is None else str(self.state),
            as_of=None if self.as_of is None else str(self.as_of),
            skip_completed=self.skip_completed,
            report_dir=None if self.report_dir is None else str(self.report_dir),
            fail_fast=self.fail_fast,
        )

    def execute(self, context: Context) -> Any:
        job = self._job()
        # A manifest or date that is not valid fails the task here, before anything runs.
        job.check()
        if self.deferrable:
            self.defer(
                trigger=HexBatchTrigger(hex_conn_id=self.hex_conn_id, **job.to_kwargs()),
                method_name="execute_complete",
            )
        token, base_url = connection_credentials(self.hex_conn_id)
        self._worker = WorkerDrive(job, token, base_url)
        return self._finish(context, self._worker.run())

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        return self._finish(context, event)

    def _finish(self, context: Context, payload: dict[str, Any]) -> Any:
        text = summary(payload)
        ti = context["ti"]
        ti.xcom_push(key="run_urls", value=[r["run_url"] for r in payload["runs"] if r["run_url"]])
        ti.xcom_push(key="report_dir", value=payload.get("report_dir"))
        if not payload["ok"]:
            raise AirflowException(text)
        self.log.info("%s", text)
        return payload["counts"]

    def on_kill(self) -> None:
        # A worker-driven batch cancels its live runs in Hex; the store records them.
        if self._worker is not None:
            self._worker.kill("the Airflow task was killed")
