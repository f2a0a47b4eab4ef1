"""The durable state store: every batch of a manifest, its plan and every attempt of every run.

One store serves many manifests, processes and machines. It lives in an SQLite file
(the embedded default, :mod:`hexbatch.state.sqlite`) or a PostgreSQL database
(:mod:`hexbatch.state.postgres`); the SQL here is the same for both. The two writes a
crash must never lose, the intent recorded just before a trigger and the run id
recorded just after it, are durable before their method returns. A batch is driven by
the one process that holds its lease (:mod:`hexbatch.state.leases`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeVar

from hexbatch.api.limits_seen import LimitsSeen, merge_seen
from hexbatch.api.models import StateEvents, parse_state_events
from hexbatch.outcome import Attempt, BatchReport, PlannedRun, batch_report
from hexbatch.state import leases
from hexbatch.state.database import Database, Session
from hexbatch.state.errors import StateError
from hexbatch.state.leases import Claimant, Lease, LeaseLostError
from hexbatch.state.location import Location, PostgresLocation, resolve_location
from hexbatch.state.postgres import PostgresDatabase
from hexbatch.state.records import PLANNED, BatchInfo, BatchSummary, StoredRun
from hexbatch.state.schema import batch_name_of_path
from hexbatch.state.sqlite import SqliteDatabase
from hexbatch.status import COMPLETED, REPORT_ORDER, SKIPPED, UNKNOWN

_SELECT_BATCHES = (
    "SELECT id, manifest, manifest_hash, plan_hash, base_url, token_env, hexbatch_version,"
    " started_at, finished_at, name, as_of, stopped_at FROM batches"
)
# An intent, written as plain values or only while the batch's lease is held. The cast
# types a missing quota wait for PostgreSQL, which reads a bare NULL as text.
_INTENT_VALUES: Final = " VALUES (?, ?, ?, ?, ?, ?, CAST(? AS DOUBLE PRECISION))"
_INTENT_UNDER_LEASE: Final = (
    " SELECT ?, ?, ?, ?, ?, ?, CAST(? AS DOUBLE PRECISION) WHERE EXISTS"
    " (SELECT 1 FROM leases WHERE name = ? AND holder = ?)"
)
_INSERT_INTENT: Final = (
    "INSERT INTO attempts (batch_id, key, attempt, intent_at, base_url, seen_before,"
    " quota_wait_ms){source}"
    " ON CONFLICT (batch_id, key, attempt) DO UPDATE SET intent_at = excluded.intent_at,"
    " base_url = COALESCE(excluded.base_url, attempts.base_url),"
    " seen_before = excluded.seen_before,"
    " quota_wait_ms = COALESCE(excluded.quota_wait_ms, attempts.quota_wait_ms)"
)
# Every attempt of a batch, as _attempt reads it, each run's in the order of their numbers.
_SELECT_ATTEMPTS = (
    "SELECT key, intent_at, run_id, run_url, triggered_at, status, finished_at,"
    # The snapshot only matters while the attempt has no run id (its trigger is
    # reconciled against it); a settled attempt's would only fill memory.
    " elapsed_ms, error, base_url, CASE WHEN run_id IS NULL THEN seen_before END,"
    " started_at, project_version, state_events, quota_wait_ms, attempt"
    " FROM attempts WHERE batch_id = ? ORDER BY key, attempt"
)


def _to_text(moment: datetime | None) -> str | None:
    """Store times as ISO 8601 in UTC; a naive time is taken to be UTC already."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _to_moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _required_moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def open_database(location: Location, *, create: bool, read_only: bool) -> Database:
    """Connect to the store at ``location`` with the backend it names."""
    if isinstance(location, PostgresLocation):
        return PostgresDatabase(location.url, location.shown, create=create)
    return SqliteDatabase(location, create=create, read_only=read_only)


class StateStore:
    """The hexbatch state store at ``location``: an SQLite path or a PostgreSQL URL.

    A store that does not exist yet is created (an SQLite file with its folders, or
    the ``hexbatch`` schema in a PostgreSQL database). ``read_only`` (for ``history``,
    ``report`` and ``status``) opens an SQLite store that cannot be written without
    writing to it; :attr:`note` then says so.

    Raises:
        StateError: the store cannot be reached or opened, is not a usable hexbatch
            store, or (unless ``read_only``) cannot be written.
    """

    def __init__(
        self, location: Location | str, *, create: bool = True, read_only: bool = False
    ) -> None:
        self.location = resolve_location(location) if isinstance(location, str) else location
        self._db = open_database(self.location, create=create, read_only=read_only)
        self.where = self._db.where
        self.note = self._db.note

    @classmethod
    def open_existing(cls, location: Location | str, *, read_only: bool = False) -> StateStore:
        """Open a store that must already exist (for report, cancel, history and status).

        Raises:
            StateError: the store is absent, empty or not a usable hexbatch store.
        """
        return cls(location, create=False, read_only=read_only)

    @property
    def path(self) -> Path:
        """The SQLite file of an embedded store.

        Raises:
            StateError: the store is a PostgreSQL database.
        """
        if isinstance(self._db, SqliteDatabase):
            return self._db.path
        raise StateError(f"{self.where} is a PostgreSQL database, not a file")

    @property
    def database(self) -> Database:
        """The backend connection the store runs its SQL on."""
        return self._db

    def close(self) -> None:
        """Close the database connection; the store cannot be used afterwards."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def reopen(self) -> StateStore:
        """A second connection to this store (for work done beside the batch's own writes)."""
        return StateStore(self.location)

    # -- leases ------------------------------------------------------------------------

    def take_lease(self, name: str, claimant: Claimant | None = None) -> tuple[Lease, Lease | None]:
        """Take the lease of batch name ``name`` (see :func:`hexbatch.state.leases.take`).

        Returns:
            The lease, and the lease of the presumed-dead holder it replaced, if any.

        Raises:
            LeaseHeldError: a live process holds it.
        """
        return leases.take(self._db, name, claimant or Claimant.here())

    def renew_lease(self, lease: Lease) -> bool:
        """Renew a held lease's heartbeat; False when another process took it over."""
        return leases.renew(self._db, lease)

    def release_lease(self, lease: Lease) -> None:
        """Give a held lease up."""
        leases.release(self._db, lease)

    def lease(self, name: str) -> Lease | None:
        """The lease of batch name ``name``, if a process holds (or last held) it."""
        return leases.read(self._db, name)

    # -- plumbing ----------------------------------------------------------------------

    def _write(self, sql: str, params: Sequence[Any], *, durable: bool, doing: str) -> int:
        """Run one statement as its own committed transaction; return the rows it changed."""
        return self._db.execute(sql, params, durable=durable, doing=doing)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._db.fetch(sql, params)

    # -- batches -----------------------------------------------------------------------

    def create_batch(
        self,
        *,
        manifest: str,
        manifest_hash: str,
        plan_hash: str,
        base_url: str,
        token_env: str,
        hexbatch_version: str,
        runs: Sequence[PlannedRun],
        started_at: datetime,
        name: str | None = None,
        as_of: date | None = None,
        selection: str | None = None,
    ) -> BatchInfo:
        """Start a new batch with its whole plan; durable before it returns.

        ``name`` finds the batch again (default: the manifest's file name without its
        extension, as for a manifest without ``name:``). ``as_of`` is the day that was
        "today" for the plan's dates relative to today, kept so that resuming the batch
        plans the same runs. ``selection`` is the projects its ``select:`` entries chose
        (JSON text), kept so a resume never chooses again.
        """
        header = (
            name if name is not None else batch_name_of_path(manifest),
            manifest,
            manifest_hash,
            plan_hash,
            base_url,
            token_env,
            hexbatch_version,
            _to_text(started_at),
            None if as_of is None else as_of.isoformat(),
        )
        with self._db.transaction(durable=True, doing="create the batch") as session:
            batch_id = _insert_batch(session, header, selection, runs)
        return self.batch(batch_id)

    def batch(self, batch_id: int) -> BatchInfo:
        """The header of one batch.

        Raises:
            StateError: the store has no batch with that id.
        """
        rows = self._read(_SELECT_BATCHES + " WHERE id = ?", (batch_id,))
        if not rows:
            raise StateError(f"{self.where} has no batch {batch_id}")
        return _batch_info(rows[0])

    def latest_batch(self, name: str) -> BatchInfo | None:
        """The most recent batch of the manifest named ``name``, wherever it was read."""
        rows = self._read(
            _SELECT_BATCHES + " WHERE name = ? ORDER BY id DESC LIMIT 1",
            (name,),
        )
        return _batch_info(rows[0]) if rows else None

    def selection(self, batch_id: int) -> str | None:
        """The projects a batch's ``select:`` entries chose (JSON text; None without any).

        Raises:
            StateError: the store has no batch with that id.
        """
        rows = self._read("SELECT selection FROM batches WHERE id = ?", (batch_id,))
        if not rows:
            raise StateError(f"{self.where} has no batch {batch_id}")
        text = rows[0][0]
        return None if text is None else str(text)

    def latest_batch_id(self) -> int | None:
        """The id of the most recent batch of any manifest, if the store has one."""
        rows = self._read("SELECT MAX(id) FROM batches")
        return None if rows[0][0] is None else int(rows[0][0])

    def update_manifest_hash(self, batch_id: int, manifest_hash: str) -> None:
        """Record a new manifest hash after only execution settings changed."""
        self._update_batch(batch_id, "manifest_hash", manifest_hash, "update the manifest hash")

    def update_base_url(self, batch_id: int, base_url: str) -> None:
        """Record the Hex URL the batch is now driven against (its new attempts go there)."""
        self._update_batch(batch_id, "base_url", base_url, "update the base URL")

    def finish_batch(self, batch_id: int, finished_at: datetime) -> None:
        """Mark the batch finished: the next run of its manifest starts a new batch."""
        self._update_batch(batch_id, "finished_at", _to_text(finished_at), "finish the batch")

    def record_stopped(self, batch_id: int, stopped_at: datetime) -> None:
        """Note when a driver stopped driving the batch, left unfinished: its report ends
        there, as that driver's did."""
        self._update_batch(batch_id, "stopped_at", _to_text(stopped_at), "record the stop")

    def _update_batch(self, batch_id: int, column: str, value: str | None, doing: str) -> None:
        """Set one column of a batch's header, durably (``column`` is never user input)."""
        changed = self._write(
            f"UPDATE batches SET {column} = ? WHERE id = ?",  # noqa: S608 - a fixed column name
            (value, batch_id),
            durable=True,
            doing=doing,
        )
        self._require(changed, f"has no batch {batch_id}")

    def _require(self, changed: int, missing: str) -> None:
        if changed == 0:
            raise StateError(f"{self.where} {missing}")

    # -- attempts and outcomes ---------------------------------------------------------

    def record_intent(
        self,
        batch_id: int,
        key: str,
        attempt: int,
        at: datetime,
        base_url: str | None = None,
        *,
        seen_before: AbstractSet[str] | None = None,
        lease: Lease | None = None,
        quota_wait_ms: float | None = None,
    ) -> None:
        """Note, durably, that attempt ``attempt`` of run ``key`` is about to be triggered.

        ``base_url`` is the Hex API the trigger goes to: the run, if one is created,
        lives there, and only there can it be followed or cancelled. ``seen_before``
        are the project's run ids listed right before the trigger; reconciling the
        attempt never adopts one of them. With ``lease``, the intent is written only
        while that lease is still held, in the same statement that checks it.
        ``quota_wait_ms`` is how long the trigger waited for the token's quota.

        Raises:
            LeaseLostError: ``lease`` is no longer held (another process took the
                batch over): nothing may be sent.
            StateError: the intent could not be written.
        """
        seen = None if seen_before is None else json.dumps(sorted(seen_before))
        values: tuple[Any, ...] = (batch_id, key, attempt, _to_text(at), base_url, seen)
        values = (*values, quota_wait_ms)
        source = _INTENT_VALUES
        if lease is not None:
            source = _INTENT_UNDER_LEASE
            values = (*values, lease.name, lease.holder)
        written = self._write(
            _INSERT_INTENT.format(source=source),
            values,
            durable=True,
            doing=f"record the intent of attempt {attempt} of run {key} in batch {batch_id}",
        )
        if lease is not None and written == 0:
            raise LeaseLostError(leases.lost_message(lease.name, self.lease(lease.name)))

    def delete_attempt(self, batch_id: int, key: str, attempt: int) -> None:
        """Forget an attempt whose trigger provably created no run (only while it has none)."""
        self._write(
            "DELETE FROM attempts WHERE batch_id = ? AND key = ? AND attempt = ?"
            " AND run_id IS NULL AND status IS NULL",
            (batch_id, key, attempt),
            durable=True,
            doing=f"withdraw the intent of attempt {attempt} of run {key} in batch {batch_id}",
        )

    def record_triggered(
        self,
        batch_id: int,
        key: str,
        attempt: int,
        run_id: str,
        run_url: str | None,
        at: datetime,
        base_url: str | None = None,
        *,
        project_version: str | None = None,
    ) -> None:
        """Note, durably, the run id Hex (at ``base_url``) gave attempt ``attempt`` of ``key``,
        with the project version Hex said the run executes; the run ids listed before its
        trigger are dropped (only an attempt without a run id is reconciled against them)."""
        self._write(
            "INSERT INTO attempts (batch_id, key, attempt, run_id, run_url, triggered_at,"
            " base_url, project_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (batch_id, key, attempt) DO UPDATE SET run_id = excluded.run_id,"
            " run_url = excluded.run_url, triggered_at = excluded.triggered_at,"
            " base_url = COALESCE(excluded.base_url, attempts.base_url),"
            " project_version = COALESCE(excluded.project_version, attempts.project_version),"
            # The snapshot only served to reconcile a trigger without a run id; kept, it
            # would be a hundred run ids per attempt for as long as the store lives.
            " seen_before = NULL",
            (batch_id, key, attempt, run_id, run_url, _to_text(at), base_url, project_version),
            durable=True,
            doing=f"record the run id of attempt {attempt} of run {key} in batch {batch_id}",
        )

    def record_status(
        self,
        batch_id: int,
        key: str,
        attempt: int,
        status: str,
        *,
        finished_at: datetime | None = None,
        elapsed_ms: float | None = None,
        error: str | None = None,
        started_at: datetime | None = None,
        project_version: str | None = None,
        state_events: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Note the latest status of an attempt (committed at once, not fsynced).

        Fields passed as None keep what was recorded before.
        """
        events = None if state_events is None else json.dumps(list(state_events), default=str)
        self._write(
            "INSERT INTO attempts (batch_id, key, attempt, status, finished_at, elapsed_ms, error,"
            " started_at, project_version, state_events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (batch_id, key, attempt) DO UPDATE SET status = excluded.status,"
            " finished_at = COALESCE(excluded.finished_at, attempts.finished_at),"
            " elapsed_ms = COALESCE(excluded.elapsed_ms, attempts.elapsed_ms),"
            " error = COALESCE(excluded.error, attempts.error),"
            " started_at = COALESCE(excluded.started_at, attempts.started_at),"
            " project_version = COALESCE(excluded.project_version, attempts.project_version),"
            " state_events = COALESCE(excluded.state_events, attempts.state_events)",
            (
                batch_id,
                key,
                attempt,
                status,
                _to_text(finished_at),
                elapsed_ms,
                error,
                _to_text(started_at),
                project_version,
                events,
            ),
            durable=False,
            doing=f"record the status of attempt {attempt} of run {key} in batch {batch_id}",
        )

    def record_final(self, batch_id: int, key: str, status: str, error: str | None = None) -> None:
        """Settle run ``key``'s final status (durable: resume decisions depend on it)."""
        changed = self._write(
            "UPDATE runs SET final_status = ?, error = ? WHERE batch_id = ? AND key = ?",
            (status, error, batch_id, key),
            durable=True,
            doing=f"record the final status of run {key}",
        )
        self._require(changed, f"has no run {key} in batch {batch_id}")

    def clear_final(self, batch_id: int, keys: Iterable[str]) -> None:
        """Make runs pending again (``--rerun``), each to get a new attempt (however many
        processes it takes to start it); the batch counts as unfinished again."""
        with self._db.transaction(durable=True, doing="clear final statuses") as session:
            session.executemany(
                "UPDATE runs SET final_status = NULL, error = NULL, rerun_after = (SELECT"
                " COALESCE(MAX(a.attempt), 0) FROM attempts a WHERE a.batch_id = runs.batch_id"
                " AND a.key = runs.key)"
                " WHERE batch_id = ? AND key = ?",
                ((batch_id, key) for key in keys),
            )
            session.execute("UPDATE batches SET finished_at = NULL WHERE id = ?", (batch_id,))

    def record_unstarted(self, batch_id: int, reasons: Mapping[str, str]) -> None:
        """Keep why runs were never triggered (the batch stopped first), by run key: they
        stay without a final status, for the next run of the batch, and read SKIPPED."""
        with self._db.transaction(durable=False, doing="record the runs not triggered") as session:
            session.executemany(
                "UPDATE runs SET error = ? WHERE batch_id = ? AND key = ? AND final_status IS NULL",
                ((reason, batch_id, key) for key, reason in reasons.items()),
            )

    def clear_unstarted(self, batch_id: int) -> None:
        """Forget why runs were not triggered: the batch is driven again, they are planned."""
        self._write(
            "UPDATE runs SET error = NULL WHERE batch_id = ? AND final_status IS NULL",
            (batch_id,),
            durable=False,
            doing=f"resume the runs not triggered in batch {batch_id}",
        )

    def record_requests(self, batch_id: int, counts: Mapping[str, int]) -> None:
        """Add ``counts`` (requests per kind) to the batch's stored totals."""
        with self._db.transaction(durable=False, doing="record request counts") as session:
            session.executemany(
                "INSERT INTO requests (batch_id, kind, count) VALUES (?, ?, ?)"
                " ON CONFLICT (batch_id, kind)"
                " DO UPDATE SET count = requests.count + excluded.count",
                ((batch_id, kind, int(count)) for kind, count in counts.items()),
            )

    # -- reading -----------------------------------------------------------------------

    def runs(self, batch_id: int) -> list[StoredRun]:
        """Every planned run of the batch in plan order, with all its attempts."""
        self.batch(batch_id)
        runs = {
            key: StoredRun(
                PlannedRun(key, project_id, project, json.loads(params), position),
                final_status=final_status,
                error=error,
                rerun_after=rerun_after,
            )
            for (key, position, project_id, project, params, final_status, error, rerun_after) in (
                self._read(
                    "SELECT key, position, project_id, project, params, final_status, error,"
                    " rerun_after FROM runs WHERE batch_id = ? ORDER BY position, key",
                    (batch_id,),
                )
            )
        }
        for row in self._read(_SELECT_ATTEMPTS, (batch_id,)):
            run = runs[row[0]]
            run.attempts.append(_attempt(row))
            run.last_intent_at = _to_moment(row[1])
            run.base_urls.append(row[9])
        return list(runs.values())

    def claimed(self, run_ids: Iterable[str]) -> set[str]:
        """Which of ``run_ids`` some batch in this store recorded as its run (none of them
        may be adopted again).

        Each id is one lookup in the run id index, so asking about the runs Hex just
        listed costs the same with a week of history as with years of it.
        """
        found: set[str] = set()
        for chunk in _chunks(sorted(set(run_ids))):
            rows = self._read(
                # Only placeholders are formatted in; the ids are parameters.
                "SELECT DISTINCT run_id FROM attempts"  # noqa: S608
                f" WHERE run_id IN ({_marks(len(chunk))})",
                chunk,
            )
            found.update(str(run_id) for (run_id,) in rows)
        return found

    def record_rate_limits(self, batch_id: int, seen: Mapping[str, LimitsSeen]) -> None:
        """Keep the rate-limit figures Hex last sent per request kind (the later ones win)."""
        merged = merge_seen(self.rate_limits(batch_id), seen)
        with self._db.transaction(durable=False, doing="record rate-limit headers") as session:
            session.executemany(
                "INSERT INTO rate_limits (batch_id, kind, seen) VALUES (?, ?, ?)"
                " ON CONFLICT (batch_id, kind) DO UPDATE SET seen = excluded.seen",
                (
                    (batch_id, kind, json.dumps(figures.to_json()))
                    for kind, figures in merged.items()
                ),
            )

    def rate_limits(self, batch_id: int) -> dict[str, LimitsSeen]:
        """The rate-limit figures Hex last sent per request kind in this batch."""
        rows = self._read(
            "SELECT kind, seen FROM rate_limits WHERE batch_id = ? ORDER BY kind", (batch_id,)
        )
        return {str(kind): LimitsSeen.from_json(json.loads(seen)) for kind, seen in rows}

    def requests(self, batch_id: int) -> dict[str, int]:
        """The batch's request totals per kind."""
        rows = self._read(
            "SELECT kind, count FROM requests WHERE batch_id = ? ORDER BY kind", (batch_id,)
        )
        return {str(kind): int(count) for kind, count in rows}

    def report(self, batch_id: int) -> BatchReport:
        """The batch's report from its stored records, finished or not.

        An unfinished batch ends, for the report, when its last driver stopped, else (a
        driver that died) at the latest moment it recorded.
        """
        info = self.batch(batch_id)
        return batch_report(
            info.manifest,
            info.started_at,
            [run.to_outcome() for run in self.runs(batch_id)],
            finished_at=info.finished_at,
            stopped_at=info.stopped_at,
            requests=self.requests(batch_id),
            rate_limits=self.rate_limits(batch_id),
        )

    def durations(self, keys: Iterable[str]) -> dict[str, float]:
        """Seconds each of the run ``keys`` took in its last COMPLETED attempt, in any batch.

        A run key names a project and its parameters, whatever the manifest, so any
        batch's run of it counts. The newest batch wins; an attempt without a recorded
        elapsed time is measured from its trigger to its end (one with neither is
        passed over). Each key is one walk down the run key index from its newest
        attempt, so years of nightly runs of the same keys cost nothing.
        """
        durations: dict[str, float] = {}
        for chunk in _chunks(sorted(set(keys))):
            rows = self._read(
                # Only fixed subqueries and placeholders are formatted in.
                "SELECT w.column1, "  # noqa: S608
                + ", ".join(_NEWEST_COMPLETED.format(column=column) for column in _TIMINGS)
                + f" FROM (VALUES {', '.join(['(?)'] * len(chunk))}) AS w",
                [COMPLETED] * len(_TIMINGS) + chunk,
            )
            for key, elapsed_ms, triggered_at, finished_at in rows:
                if elapsed_ms is not None:
                    durations[key] = float(elapsed_ms) / 1000
                elif triggered_at is not None and finished_at is not None:
                    span = _required_moment(finished_at) - _required_moment(triggered_at)
                    durations[key] = span.total_seconds()
        return durations

    def completed_before(self, keys: Iterable[str], batch_id: int) -> dict[str, int]:
        """For each of the run ``keys`` that COMPLETED in a batch older than ``batch_id``,
        the newest such batch (run keys are the same across manifests)."""
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(set(keys))):
            rows = self._read(
                "SELECT key, MAX(batch_id) FROM attempts"  # noqa: S608 - placeholders only
                f" WHERE status = ? AND batch_id < ? AND key IN ({_marks(len(chunk))})"
                " GROUP BY key",
                [COMPLETED, batch_id, *chunk],
            )
            found.update({str(key): int(batch) for key, batch in rows})
        return found

    def batches(
        self, *, limit: int | None = None, before_id: int | None = None
    ) -> list[BatchSummary]:
        """Batches with their counts per status, oldest first: every batch, or the
        ``limit`` latest ones, of those older than batch ``before_id`` when given.

        Only the listed batches' runs are counted, so a page of history costs the
        same however many batches the store keeps.
        """
        sql = _SELECT_BATCHES
        params: list[Any] = []
        if before_id is not None:
            sql += " WHERE id < ?"
            params.append(before_id)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        infos = [_batch_info(row) for row in reversed(self._read(sql, params))]
        counts = self._counts([info.id for info in infos])
        return [
            BatchSummary(
                id=info.id,
                manifest=info.manifest,
                started_at=info.started_at,
                finished_at=info.finished_at,
                counts=_ordered_counts(counts.get(info.id, {})),
            )
            for info in infos
        ]

    def batch_count(self, *, before_id: int | None = None) -> int:
        """How many batches the store keeps (older than batch ``before_id`` when given)."""
        if before_id is None:
            rows = self._read("SELECT COUNT(*) FROM batches")
        else:
            rows = self._read("SELECT COUNT(*) FROM batches WHERE id < ?", (before_id,))
        return int(rows[0][0])

    def _counts(self, batch_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Runs per status of each of the batches ``batch_ids``."""
        counts: dict[int, dict[str, int]] = {}
        for chunk in _chunks(batch_ids):
            for batch_id, status, count in self._read(
                # The last attempt's status; one without run id nor status is a trigger
                # whose outcome is not settled yet, which reads UNKNOWN, and a run never
                # triggered reads SKIPPED when the batch stopped first (as StoredRun.status
                # does). Only placeholders are formatted in.
                "SELECT r.batch_id, COALESCE(r.final_status,"  # noqa: S608
                " (SELECT CASE WHEN a.status IS NULL AND a.run_id IS NULL THEN ? ELSE a.status"
                "  END FROM attempts AS a WHERE a.batch_id = r.batch_id"
                "  AND a.key = r.key ORDER BY a.attempt DESC LIMIT 1),"
                " CASE WHEN r.error IS NULL THEN ? ELSE ? END), COUNT(*)"
                f" FROM runs AS r WHERE r.batch_id IN ({_marks(len(chunk))}) GROUP BY 1, 2",
                (UNKNOWN, PLANNED, SKIPPED, *chunk),
            ):
                counts.setdefault(int(batch_id), {})[status] = int(count)
        return counts


_T = TypeVar("_T")

# How many values one statement asks about: far below SQLite's 32,766 parameters.
_CHUNK: Final = 500

# What a duration is computed from, and how the newest COMPLETED attempt of the key in
# ``w.column1`` that has it is found: down the run key index, newest batch first.
_TIMINGS: Final = ("elapsed_ms", "triggered_at", "finished_at")
_NEWEST_COMPLETED: Final = (
    "(SELECT a.{column} FROM attempts AS a WHERE a.key = w.column1 AND a.status = ?"
    " AND (a.elapsed_ms IS NOT NULL OR (a.triggered_at IS NOT NULL AND a.finished_at IS NOT NULL))"
    " ORDER BY a.batch_id DESC, a.attempt DESC LIMIT 1)"
)


def _chunks(values: Sequence[_T]) -> Iterator[list[_T]]:
    """``values`` in lists short enough for one statement each."""
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


def _marks(count: int) -> str:
    """``count`` placeholders for an ``IN (...)`` list."""
    return ", ".join(["?"] * count)


def _dump(params: Mapping[str, Any]) -> str:
    # default=str keeps dates and other scalars a manifest may produce readable.
    return json.dumps(dict(params), separators=(",", ":"), default=str)


def _events(text: str | None) -> StateEvents | None:
    """Stored state events (a JSON array written by :meth:`StateStore.record_status`)."""
    if text is None:
        return None
    try:
        return parse_state_events(json.loads(text))
    except ValueError:
        return None


def _insert_batch(
    session: Session, header: Sequence[Any], selection: str | None, runs: Iterable[PlannedRun]
) -> int:
    """Insert a batch's header and plan in ``session``; return the new batch's id."""
    batch_id = int(
        session.fetch(
            "INSERT INTO batches (name, manifest, manifest_hash, plan_hash, base_url,"
            " token_env, hexbatch_version, started_at, as_of)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            header,
        )[0][0]
    )
    if selection is not None:
        session.execute("UPDATE batches SET selection = ? WHERE id = ?", (selection, batch_id))
    session.executemany(
        "INSERT INTO runs (batch_id, key, position, project_id, project, params)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            (batch_id, run.key, run.index, run.project_id, run.project, _dump(run.params))
            for run in runs
        ),
    )
    return batch_id


def _attempt(row: Sequence[Any]) -> Attempt:
    """One row of :data:`_SELECT_ATTEMPTS` as an attempt, under the number it was recorded."""
    (_, intent_at, run_id, run_url, triggered_at, status, finished_at, elapsed, error) = row[:9]
    return Attempt(
        # Until Hex's answer is recorded, the attempt was triggered when its intent was.
        triggered_at=_to_moment(triggered_at) or _to_moment(intent_at),
        run_id=run_id,
        run_url=run_url,
        status=status,
        finished_at=_to_moment(finished_at),
        elapsed_ms=elapsed,
        error=error,
        seen_before=None if row[10] is None else frozenset(json.loads(row[10])),
        started_at=_to_moment(row[11]),
        project_version=row[12],
        state_events=_events(row[13]),
        quota_wait_ms=row[14],
        number=int(row[15]),
    )


def _batch_info(row: Sequence[Any]) -> BatchInfo:
    return BatchInfo(
        id=int(row[0]),
        manifest=row[1],
        manifest_hash=row[2],
        plan_hash=row[3],
        base_url=row[4],
        token_env=row[5],
        hexbatch_version=row[6],
        started_at=_required_moment(row[7]),
        finished_at=_to_moment(row[8]),
        name=row[9],
        as_of=None if row[10] is None else date.fromisoformat(row[10]),
        stopped_at=_to_moment(row[11]),
    )


def _ordered_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Statuses in report order (failures first), then any others alphabetically."""
    known = [status for status in REPORT_ORDER if status in counts]
    others = sorted(set(counts) - set(known))
    return {status: counts[status] for status in [*known, *others]}
