"""Dagster integration (``pip install 'hexbatch[dagster]'``): a resource, an asset and an op.

:class:`HexBatchResource` holds the Hex token, base URL and state store;
:func:`hexbatch_asset` builds an asset (and :func:`hexbatch_op` an op, for jobs of ops)
that runs one manifest as a batch with hexbatch's engine, attaches each run's URL,
status and duration to the materialization, and fails the step (:class:`dagster.Failure`)
when any run did not complete. With a time-window partition
(``DailyPartitionsDefinition``), the partition's day is the batch's ``as_of``: dates
relative to today resolve against it.

Retries never trigger twice: every batch is recorded in the state store, so a step
that is retried after a crash resumes its unfinished batch (runs Hex already started
are followed, not triggered again), and a step retried after a batch that ended with
failures starts a new batch that, with ``skip_completed`` (the default), triggers only
the runs that never completed.
"""

# No postponed annotations here: Dagster reads the asset function's context annotation at
# definition time and accepts only the class itself.
import asyncio
import dataclasses
import os
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import dagster as dg

from hexbatch.batch import BatchOptions, PreflightError, run_batch
from hexbatch.errors import ConfigurationError
from hexbatch.manifest import Manifest, ManifestError, load_manifest
from hexbatch.outcome import BatchReport, RunOutcome
from hexbatch.report.facts import params_text

__all__ = [
    "HexBatchResource",
    "batch_metadata",
    "failure_summary",
    "hexbatch_asset",
    "hexbatch_op",
]

DEFAULT_RESOURCE_KEY: Final = "hexbatch"
_REFUSED: Final = (ManifestError, ConfigurationError, PreflightError)
"""Bad input (manifest, token, unrunnable project): the batch is refused before any trigger."""

if TYPE_CHECKING:
    _Result = dg.MaterializeResult[Any]
else:
    # Dagster 1.10 refuses a subscripted MaterializeResult as an asset's return type.
    _Result = dg.MaterializeResult


class HexBatchResource(dg.ConfigurableResource["HexBatchResource"]):
    """Where a batch's runs go and where the batch is recorded.

    Attributes:
        token: the Hex API token; give it as ``dg.EnvVar("HEX_API_TOKEN")`` so that it is
            read when the step runs and never stored with the run's configuration.
        base_url: the Hex API base URL (default: ``HEX_API_BASE_URL``, else the
            manifest's ``hex.base_url``, else Hex's).
        state: the state store, a path or a ``postgresql://`` URL (default:
            ``HEXBATCH_STATE``, else the manifest's ``state:``, else ``.hexbatch/state.db``
            beside the manifest). Steps that may run on different machines need a shared
            store (PostgreSQL).
    """

    token: str
    base_url: str | None = None
    state: str | None = None

    def run_manifest(
        self,
        manifest: str | Path | Manifest,
        *,
        as_of: date | None = None,
        skip_completed: bool = True,
        batch_name: str | None = None,
    ) -> BatchReport:
        """Run ``manifest`` to the end and return its report (blocking).

        ``batch_name`` replaces the manifest's name in the state store (one batch per
        partition); ``skip_completed`` settles runs that completed in an earlier batch
        without triggering them.
        """
        loaded = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
        if batch_name is not None:
            loaded = dataclasses.replace(loaded, name=batch_name)
        env = {**os.environ, loaded.token_env: self.token}
        options = BatchOptions(
            base_url=self.base_url,
            env=env,
            state=self.state,
            as_of=as_of,
            skip_completed=skip_completed,
        )
        return asyncio.run(run_batch(loaded, options))


def _duration_s(run: RunOutcome) -> float | None:
    last = run.last_attempt
    if last is None or last.elapsed_ms is None:
        return None
    return round(last.elapsed_ms / 1000, 1)


def _cell(text: str) -> str:
    """Text that cannot break a Markdown table row."""
    return text.replace("|", "\\|").replace("\n", " ")


def _runs_table(runs: Sequence[RunOutcome]) -> str:
    lines = ["| project | params | status | duration (s) | run |", "|---|---|---|---|---|"]
    for run in runs:
        duration = _duration_s(run)
        link = f"[{run.run_id}]({run.run_url})" if run.run_url else (run.error or "")
        lines.append(
            "| "
            + " | ".join(
                _cell(cell)
                for cell in (
                    run.project,
                    params_text(run.params),
                    run.status,
                    "" if duration is None else str(duration),
                    link,
                )
            )
            + " |"
        )
    return "\n".join(lines)


def batch_metadata(report: BatchReport) -> dict[str, dg.MetadataValue]:
    """The materialization's metadata: a table of the runs (URL, status, duration), the
    count of runs per status, and the batch's length."""
    return {
        "runs": dg.MetadataValue.md(_runs_table(report.runs)),
        "statuses": dg.MetadataValue.json(report.counts()),
        "run_urls": dg.MetadataValue.json(
            {run.key: run.run_url for run in report.runs if run.run_url}
        ),
        "duration_s": dg.MetadataValue.float(report.duration_s),
        "ok": dg.MetadataValue.bool(report.ok),
    }


def failure_summary(report: BatchReport) -> str:
    """One line per run that did not complete: project, params, status, why, and link."""
    failed = [run for run in report.runs if not run.ok]
    lines = [f"{len(failed)} of {len(report.runs)} runs did not complete:"]
    for run in failed:
        why = f" ({run.error})" if run.error else ""
        link = f" {run.run_url}" if run.run_url else ""
        lines.append(f"- {run.project} [{params_text(run.params)}]: {run.status}{why}{link}")
    return "\n".join(lines)


def _as_of(context: dg.OpExecutionContext) -> date | None:
    """The day the partition stands for: its time window's start, or a key that is a date."""
    if not context.has_partition_key:
        return None
    try:
        start: date = context.partition_time_window.start.date()
    except dg.DagsterInvariantViolationError:
        pass  # not a time-window partition: the key itself may be a date
    else:
        return start
    try:
        return date.fromisoformat(context.partition_key)
    except ValueError:
        raise dg.Failure(
            f"partition key {context.partition_key!r} is not a date (YYYY-MM-DD): the "
            "batch's as_of cannot be taken from it",
            allow_retries=False,
        ) from None


def _run_step(
    context: dg.OpExecutionContext, source: Path, resource_key: str, skip_completed: bool
) -> dict[str, dg.MetadataValue]:
    """Run the step's batch; its metadata, or a :class:`dagster.Failure` naming what failed."""
    resource: HexBatchResource = getattr(context.resources, resource_key)
    try:
        loaded = load_manifest(source)
        batch_name = None
        if context.has_partition_key:
            batch_name = f"{loaded.name}@{context.partition_key}"
        report = resource.run_manifest(
            loaded, as_of=_as_of(context), skip_completed=skip_completed, batch_name=batch_name
        )
    except _REFUSED as error:
        # Nothing was triggered, and a retry would be refused the same way.
        raise dg.Failure(description=str(error), allow_retries=False) from error
    metadata = batch_metadata(report)
    if not report.ok:
        raise dg.Failure(description=failure_summary(report), metadata=metadata)
    return metadata


def hexbatch_asset(
    *,
    manifest: str | Path,
    name: str,
    partitions_def: dg.PartitionsDefinition[Any] | None = None,
    skip_completed: bool = True,
    resource_key: str = DEFAULT_RESOURCE_KEY,
    group_name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    deps: Sequence[Any] | None = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    retry_policy: dg.RetryPolicy | None = None,
) -> dg.AssetsDefinition:
    """An asset whose materialization runs ``manifest`` as one batch.

    The manifest is loaded when the step runs (``${VAR}`` references read the step's
    environment). A partitioned asset keeps one batch per partition in the state store
    (named ``<manifest name>@<partition key>``), so partitions run side by side and each
    resumes on its own.

    Raises (in the step):
        dagster.Failure: some run did not complete; the description lists them.
    """
    source = Path(manifest)

    @dg.asset(
        name=name,
        partitions_def=partitions_def,
        required_resource_keys={resource_key},
        group_name=group_name,
        key_prefix=key_prefix,
        deps=deps,
        description=description or f"Runs the hexbatch manifest {source.name} as one batch.",
        tags=tags,
        kinds={"hex"},
        retry_policy=retry_policy,
    )
    def _materialize(context: dg.AssetExecutionContext) -> _Result:
        metadata = _run_step(context.op_execution_context, source, resource_key, skip_completed)
        return dg.MaterializeResult(metadata=metadata)

    return _materialize


def hexbatch_op(
    *,
    manifest: str | Path,
    name: str,
    skip_completed: bool = True,
    resource_key: str = DEFAULT_RESOURCE_KEY,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    retry_policy: dg.RetryPolicy | None = None,
) -> dg.OpDefinition:
    """An op that runs ``manifest`` as one batch, for jobs built of ops: the same step as
    :func:`hexbatch_asset` (a partitioned job's date key is ``as_of``), with the batch's
    metadata on its output, ``None``.

    Raises (in the step):
        dagster.Failure: some run did not complete; the description lists them.
    """
    source = Path(manifest)

    @dg.op(
        name=name,
        required_resource_keys={resource_key},
        description=description or f"Runs the hexbatch manifest {source.name} as one batch.",
        tags=tags,
        retry_policy=retry_policy,
    )
    def _run(context: dg.OpExecutionContext) -> None:
        metadata = _run_step(context, source, resource_key, skip_completed)
        context.add_output_metadata(metadata)

    return _run
