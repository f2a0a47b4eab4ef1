"""Years of a nightly sweep, written straight into a state store for the store benchmark.

Three years of a 1,000-run nightly sweep is a thousand batches of the same thousand
run keys (ten projects, a hundred parameter sets each), about a million attempts.
Rows are what hexbatch itself writes: ISO times in UTC, uuid4 run ids, parameters as
compact JSON, Hex's state events, a retried attempt for one run in twenty, an ERRORED
run now and then, and request counts and rate-limit headers per batch. Every batch is
finished but the latest, which stopped half-way through (runs done, one in twenty in
flight, an unsettled trigger, the rest still planned) and is the one ``hexbatch run``
resumes.

The rows bypass the store's methods (one durable transaction per write would take
hours): SQLite gets one transaction of ``executemany``, PostgreSQL ``COPY``.
"""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from hexbatch.manifest import Manifest, load_manifest
from hexbatch.plan import Plan, build_plan
from hexbatch.state import StateStore
from hexbatch.state.postgres_schema import SCHEMA

NAME: Final = "nightly"
BASE_URL: Final = "https://app.hex.tech/api/v1"
ORIGIN: Final = "https://app.hex.tech"
VERSION: Final = "0.9.0"
FIRST_NIGHT: Final = datetime(2023, 1, 1, 2, 0, tzinfo=UTC)
PROJECTS: Final = 10
# One run in RETRIED has a first attempt that found no kernel; one in ERRORS fails.
RETRIED: Final = 20
ERRORS: Final = 50

Row = tuple[Any, ...]

ATTEMPT_COLUMNS: Final = (
    "batch_id",
    "key",
    "attempt",
    "intent_at",
    "run_id",
    "run_url",
    "triggered_at",
    "status",
    "finished_at",
    "elapsed_ms",
    "error",
    "base_url",
    "seen_before",
    "started_at",
    "project_version",
    "state_events",
)
RUN_COLUMNS: Final = (
    "batch_id",
    "key",
    "position",
    "project_id",
    "project",
    "params",
    "final_status",
    "error",
)
BATCH_COLUMNS: Final = (
    "id",
    "name",
    "manifest",
    "manifest_hash",
    "plan_hash",
    "base_url",
    "token_env",
    "hexbatch_version",
    "started_at",
    "finished_at",
)


def manifest_text(runs: int) -> str:
    """The sweep: ``runs`` runs spread over ten projects by a region x tier matrix."""
    per_project = max(1, runs // PROJECTS)
    regions = ", ".join(f"r{n:02d}" for n in range(per_project))
    lines = ["version: 1", f"name: {NAME}", "projects:"]
    for p in range(min(PROJECTS, runs)):
        lines += [
            f"  - id: {uuid.UUID(int=p + 1, version=4)}",
            f"    name: revenue-{p}",
            "    params: {model: v2}",
            f"    matrix: {{region: [{regions}]}}",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Sweep:
    """The manifest every night ran, its plan, and the generated store's size."""

    manifest: Manifest
    plan: Plan
    batches: int
    attempts: int


def write_manifest(folder: Path, runs: int) -> tuple[Manifest, Plan]:
    """The sweep's manifest file in ``folder``, loaded and planned."""
    path = folder / f"{NAME}.yaml"
    path.write_text(manifest_text(runs), encoding="utf-8")
    manifest = load_manifest(path, env={})
    return manifest, build_plan(manifest)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _events(start: datetime, began: datetime, end: datetime, final: str) -> str:
    events = [
        {"type": "STATUS", "value": value, "timestamp": moment.isoformat()}
        for value, moment in (("PENDING", start), ("RUNNING", began), (final, end))
    ]
    return json.dumps(events)


class _Night:
    """The rows of one batch."""

    def __init__(self, sweep: tuple[Manifest, Plan], batch_id: int, rng: random.Random) -> None:
        self.manifest, self.plan = sweep
        self.batch_id = batch_id
        self.rng = rng
        self.start = FIRST_NIGHT + timedelta(days=batch_id - 1)
        self.runs: list[Row] = []
        self.attempts: list[Row] = []

    def attempt(self, key: str, project_id: str, number: int, at: datetime, status: str) -> str:
        """A triggered attempt that ended (or is running, for RUNNING); its run id."""
        run_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        began = at + timedelta(seconds=self.rng.uniform(1, 20))
        took = self.rng.uniform(60, 600)
        end = began + timedelta(seconds=took)
        running = status == "RUNNING"
        self.attempts.append(
            (
                self.batch_id,
                key,
                number,
                _iso(at),
                run_id,
                f"{ORIGIN}/app/projects/{project_id}/runs/{run_id}",
                _iso(at + timedelta(milliseconds=300)),
                status,
                None if running else _iso(end),
                None if running else round(took * 1000, 1),
                "kernel allocation failed" if status == "UNABLE_TO_ALLOCATE_KERNEL" else None,
                BASE_URL,
                None,
                _iso(began),
                str(40 + self.batch_id // 100),
                None if running else _events(at, began, end, status),
            )
        )
        return run_id

    def fill(self, *, unfinished: bool) -> None:
        """Every run of the night; when ``unfinished``, half of them, then one in twenty
        running, one trigger whose answer was lost, and the rest still planned."""
        items = self.plan.items
        in_flight = max(1, len(items) // 20)
        for n, item in enumerate(items):
            at = self.start + timedelta(seconds=5 * n)
            key, project_id = item.key, item.project_id
            final: str | None
            error = None
            if unfinished and n >= len(items) // 2:
                final = None
                left = n - len(items) // 2
                if left < in_flight:
                    self.attempt(key, project_id, 1, at, "RUNNING")
                elif left == in_flight:
                    # A trigger whose answer was lost: an intent, its snapshot, no run id.
                    seen = sorted(a[4] for a in self.attempts[-100:])
                    unanswered = (None,) * 7  # run id, URL, trigger time, status, end...
                    self.attempts.append(
                        (self.batch_id, key, 1, _iso(at), *unanswered, BASE_URL, json.dumps(seen))
                        + (None,) * 3
                    )
            else:
                ended, number = "COMPLETED", 1
                if n % RETRIED == 7:
                    self.attempt(key, project_id, 1, at, "UNABLE_TO_ALLOCATE_KERNEL")
                    number = 2
                    at += timedelta(seconds=30)
                if n % ERRORS == 11:
                    ended, error = "ERRORED", "a cell raised an exception"
                self.attempt(key, project_id, number, at, ended)
                final = ended
            self.runs.append(
                (
                    self.batch_id,
                    key,
                    n,
                    project_id,
                    item.project_name,
                    json.dumps(dict(item.params), separators=(",", ":")),
                    final,
                    error,
                )
            )

    def header(self, *, unfinished: bool) -> Row:
        finished = None if unfinished else _iso(self.start + timedelta(hours=1, minutes=30))
        return (
            self.batch_id,
            NAME,
            str(self.manifest.source.resolve()),
            self.manifest.sha256,
            self.plan.plan_hash,
            BASE_URL,
            "HEX_API_TOKEN",
            VERSION,
            _iso(self.start),
            finished,
        )

    def extras(self) -> tuple[list[Row], list[Row]]:
        """The batch's request counts and the rate-limit headers Hex last sent."""
        requests = [
            (self.batch_id, "trigger", len(self.runs)),
            (self.batch_id, "status", 3 * len(self.runs)),
            (self.batch_id, "list", len(self.runs)),
        ]
        seen = json.dumps({"limit": 30, "remaining": 12, "seen_at": _iso(self.start)})
        limits = [(self.batch_id, "status", seen), (self.batch_id, "trigger", seen)]
        return requests, limits


def nights(manifest: Manifest, plan: Plan, batches: int, seed: int = 13) -> Iterator[_Night]:
    """Each batch's rows, oldest first; the latest is left unfinished."""
    rng = random.Random(seed)
    for batch_id in range(1, batches + 1):
        night = _Night((manifest, plan), batch_id, rng)
        night.fill(unfinished=batch_id == batches)
        yield night


def _marks(count: int) -> str:
    return ", ".join(["?"] * count)


def fill_sqlite(path: Path, manifest: Manifest, plan: Plan, batches: int) -> Sweep:
    """Create the store at ``path`` and write ``batches`` nights into it."""
    StateStore(path).close()  # the schema, exactly as hexbatch creates it
    connection = sqlite3.connect(path, isolation_level=None)
    attempts = 0
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = OFF")
        # Run ids are random: their index takes inserts all over, so keep it in memory.
        connection.execute("PRAGMA cache_size = -524288")
        connection.execute("BEGIN")
        for night in nights(manifest, plan, batches):
            unfinished = night.batch_id == batches
            requests, limits = night.extras()
            statements: Sequence[tuple[str, Sequence[str], list[Row]]] = (
                ("batches", BATCH_COLUMNS, [night.header(unfinished=unfinished)]),
                ("runs", RUN_COLUMNS, night.runs),
                ("attempts", ATTEMPT_COLUMNS, night.attempts),
                ("requests", ("batch_id", "kind", "count"), requests),
                ("rate_limits", ("batch_id", "kind", "seen"), limits),
            )
            for table, columns, rows in statements:
                connection.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)})"  # noqa: S608 - fixed names
                    f" VALUES ({_marks(len(columns))})",
                    rows,
                )
            attempts += len(night.attempts)
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return Sweep(manifest, plan, batches, attempts)


def fill_postgres(url: str, manifest: Manifest, plan: Plan, batches: int) -> Sweep:
    """Create the store in the database at ``url`` and COPY ``batches`` nights into it."""
    import psycopg
    from psycopg import sql

    StateStore(url).close()
    attempts = 0
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        tables = (
            ("batches", BATCH_COLUMNS),
            ("runs", RUN_COLUMNS),
            ("attempts", ATTEMPT_COLUMNS),
            ("requests", ("batch_id", "kind", "count")),
            ("rate_limits", ("batch_id", "kind", "seen")),
        )
        copies = {
            table: sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(SCHEMA, table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            for table, columns in tables
        }
        # One COPY per table holds its rows in memory: a night at a time keeps it small.
        for night in nights(manifest, plan, batches):
            unfinished = night.batch_id == batches
            requests, limits = night.extras()
            rows = {
                "batches": [night.header(unfinished=unfinished)],
                "runs": night.runs,
                "attempts": night.attempts,
                "requests": requests,
                "rate_limits": limits,
            }
            for table, _columns in tables:
                with cursor.copy(copies[table]) as copy:
                    for row in rows[table]:
                        copy.write_row(row)
            attempts += len(night.attempts)
        # The identity column was bypassed: the next batch gets the next id.
        cursor.execute(
            sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), %s)").format(
                sql.Literal(f"{SCHEMA}.batches")
            ),
            (batches,),
        )
        connection.commit()
    # What autovacuum does within a minute of a bulk load: statistics for the planner.
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(SCHEMA, "attempts")))
        for table in ("batches", "runs", "requests", "rate_limits"):
            connection.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(SCHEMA, table)))
    return Sweep(manifest, plan, batches, attempts)
