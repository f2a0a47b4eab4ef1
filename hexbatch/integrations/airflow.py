"""Run a hexbatch manifest as an Airflow (>= 3.1) task: ``pip install 'hexbatch[airflow]'``.

:class:`HexBatchOperator` checks the manifest and its projects in the worker and records
the batch in hexbatch's state store, then (deferrable, the default) hands it to
:class:`HexBatchTrigger`, which drives it in the triggerer: the worker slot is free while
Hex runs. An Airflow retry resumes the same batch (what Hex already ran is never triggered
again), and a second copy of the trigger waits for the batch's lease instead of driving it
twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import anyio
import structlog
from airflow.sdk import BaseHook, BaseOperator, Context
from airflow.triggers.base import BaseTrigger, TriggerEvent

try:  # Airflow 3.2 and later: the task SDK's own exceptions
    from airflow.sdk.exceptions import (  # type: ignore[attr-defined]
        AirflowException,
        AirflowFailException,
    )
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[attr-defined,no-redef]
        AirflowException,
        AirflowFailException,
    )

from hexbatch.batch import PreflightError
from hexbatch.errors import ConfigurationError, HexbatchError
from hexbatch.integrations.batch_job import BatchJob, WorkerDrive, record, summary
from hexbatch.manifest import ManifestError

__all__ = ["HexBatchOperator", "HexBatchTrigger", "connection_credentials"]

log = structlog.get_logger("hexbatch.integrations.airflow")

DEFAULT_CONN_ID = "hex_default"
_REFUSED = (ManifestError, ConfigurationError, PreflightError, ValueError)
"""Bad input or a project that cannot run: nothing was triggered, and a retry would be
refused the same way."""


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
    """Drives one recorded batch in the triggerer and fires one event with its outcome.

    The batch runs on an event loop of its own, in a thread of its own: the engine writes
    each step to the state store before taking the next (a PostgreSQL round trip, a SQLite
    commit), and none of that may block the triggerer's loop, which every other deferred
    task shares.
    """

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
        worker = WorkerDrive(self.job, token, base_url)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hexbatch-batch")
        driving = asyncio.get_running_loop().run_in_executor(pool, worker.run)
        pool.shutdown(wait=False)  # its one thread ends with the batch
        try:
            payload = await asyncio.shield(driving)
        except asyncio.CancelledError:
            await self._let_go(worker, driving)
            raise
        yield TriggerEvent(payload)  # type: ignore[no-untyped-call]

    async def _let_go(self, worker: WorkerDrive, driving: asyncio.Future[Any]) -> None:
        """The trigger was cancelled: a task stopped by a user (marked failed or success,
        cleared, timed out) cancels its live runs in Hex; a task still deferred (its
        triggerer is stopping, or hands the trigger to another) leaves them running for
        the next driver, which resumes the batch from the state store."""
        state = await self.task_state()
        if state is not None and state != "deferred":
            worker.kill(f"the Airflow task is {state}")
        else:
            worker.detach("the triggerer let go of the trigger")
        try:
            await asyncio.shield(driving)
        except Exception:  # the cancellation goes on, whatever the batch did
            log.exception("batch_stop_failed", batch=self.job.batch_id)

    async def task_state(self) -> str | None:
        """The state of the task this trigger serves, as Airflow's API has it now (None
        when it cannot be told: then the runs are left running, never cancelled)."""
        ti = self.task_instance
        if ti is None:
            return None
        try:
            from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
            from asgiref.sync import sync_to_async

            states = await sync_to_async(RuntimeTaskInstance.get_task_states)(
                dag_id=ti.dag_id,
                task_ids=[ti.task_id],
                run_ids=[ti.run_id],
                map_index=ti.map_index,
            )
        except Exception:  # unknown: leave Hex's runs alone
            log.warning("task_state_unknown", exc_info=True)
            return None
        key = (
            ti.task_id
            if ti.map_index is None or ti.map_index < 0
            else f"{ti.task_id}_{ti.map_index}"
        )
        state = states.get(ti.run_id, {}).get(key)
        return None if state is None else str(state)


class HexBatchOperator(BaseOperator):  # type: ignore[misc]
    """Run (or resume) the batch of a hexbatch manifest.

    Args:
        manifest: path to the manifest (templated).
        hex_conn_id: the Airflow connection: password = Hex API token, host = base URL.
        state: the state store, a path or ``postgresql://`` URL (templated; default beside
            the manifest). Workers and triggerers on other machines need a shared store
            (PostgreSQL).
        as_of: the day that is "today" for relative dates (templated: ``"{{ ds }}"``).
        skip_completed: settle, without triggering, runs that completed in an earlier batch.
        report_dir: write every report format there (templated).
        batch_name: the name the batch is kept under in the state store (templated;
            default ``<manifest name>@<run id>``: one batch per DAG run, retries resume it).
        deferrable: drive the batch in the triggerer (default) instead of the worker.
        fail_fast: stop triggering after the first run that does not complete.
    """

    template_fields: Sequence[str] = ("manifest", "state", "as_of", "report_dir", "batch_name")

    def __init__(
        self,
        *,
        manifest: str,
        hex_conn_id: str = DEFAULT_CONN_ID,
        state: str | None = None,
        as_of: str | None = None,
        skip_completed: bool = False,
        report_dir: str | None = None,
        batch_name: str | None = None,
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
        self.batch_name = batch_name
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
            batch_name=str(self.batch_name) if self.batch_name else None,
        )

    def execute(self, context: Context) -> Any:
        ti = context["ti"]
        try:
            # A manifest or date that is not valid fails the task here, before anything runs.
            job = self._job()
            loaded = job.check()
            if job.batch_name is None:
                name = f"{loaded.name or loaded.source.stem}@{context['run_id']}"
                job = dataclasses.replace(job, batch_name=name)
            token, base_url = connection_credentials(self.hex_conn_id)
            job = anyio.run(partial(record, job, token, base_url, retry=ti.try_number > 1))
        except _REFUSED as error:
            raise AirflowFailException(f"the batch did not run: {error}") from error
        except HexbatchError as error:
            raise AirflowException(f"the batch did not run: {error}") from error
        ti.xcom_push(key="batch", value={"id": job.batch_id, "name": job.batch_name})
        if self.deferrable:
            self.defer(
                trigger=HexBatchTrigger(hex_conn_id=self.hex_conn_id, **job.to_kwargs()),
                method_name="execute_complete",
            )
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
