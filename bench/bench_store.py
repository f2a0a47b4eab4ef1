"""A state store with years of history: open, resume, report and history each under a second.

Three years of a 1,000-run nightly sweep (see :mod:`bench._history`) are written into
an SQLite file in a temporary folder and into a throwaway PostgreSQL server (skipped,
with the reason, when PostgreSQL is not installed). Each step is then timed on a fresh
:class:`StateStore`, as a new ``hexbatch`` process would meet it:

- ``open``: connect and check the schema (what every command does first);
- ``resume``: what ``hexbatch run`` does before its first request to Hex: take the
  lease, find the latest batch by name and load its runs, read the durations of the
  runs still to drive, and ask which of a hundred listed run ids a batch claimed;
- ``report``: ``store.report`` of the latest batch; ``history``: its first page.

Every statement those steps read with is then explained (SQLite's ``EXPLAIN QUERY
PLAN``, PostgreSQL's ``EXPLAIN``) and any full scan of the attempts or runs tables is
listed. ``whole_store`` times the queries that read every batch (what these steps cost
before they were bounded) for comparison. Against the SQLite store, ``hexbatch report``
and ``hexbatch history`` are also timed end to end as processes.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import structlog

from bench._history import (
    BASE_URL,
    NAME,
    VERSION,
    Sweep,
    fill_postgres,
    fill_sqlite,
    write_manifest,
)
from hexbatch.resume import open_batch
from hexbatch.state import StateStore
from hexbatch.state.database import Database, Row
from hexbatch.status import COMPLETED

LISTED: Final = 100  # the run ids one read of a project's run list returns
SECOND: Final = 1.0  # the target for every step


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = step()
    return time.perf_counter() - began, value


class _Recorder:
    """Keeps every read a store sends to its database, to explain them afterwards."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.reads: dict[str, tuple[Any, ...]] = {}
        self._fetch = database.fetch

    def fetch(self, sql: str, params: Any = ()) -> list[Row]:
        self.reads.setdefault(sql, tuple(params))
        return self._fetch(sql, params)


@contextmanager
def _fresh(location: str, recorder: list[_Recorder]) -> Iterator[StateStore]:
    with StateStore(location) as store:
        watch = _Recorder(store.database)
        # A spy on this store's reads: the bound method of this one instance is replaced.
        store.database.fetch = watch.fetch  # type: ignore[method-assign]
        recorder.append(watch)
        yield store


def _resume(store: StateStore, sweep: Sweep, listed: list[str]) -> dict[str, float]:
    """What ``hexbatch run`` does with the store before it sends anything, then the look
    up of ``listed`` (a project's run list) that settling a lost trigger makes."""
    lease_s, (lease, _) = _timed(lambda: store.take_lease(NAME))
    try:
        opened_s, opened = _timed(
            lambda: open_batch(
                store,
                sweep.manifest,
                sweep.plan,
                base_url=BASE_URL,
                version=VERSION,
                now=store.database.now(),
            )
        )
        keys = [item.key for item in opened.work]
        durations_s, _ = _timed(lambda: store.durations(keys))
        # Ten runs of another client among the batch's own ninety.
        foreign = [str(uuid.uuid4()) for _ in range(10)]
        claimed_s, claimed = _timed(lambda: store.claimed(listed[10:] + foreign))
        assert claimed == set(listed[10:]), "the batch's runs are claimed, the others not"
    finally:
        store.release_lease(lease)
    return {
        "lease_s": lease_s,
        "open_batch_s": opened_s,
        "durations_s": durations_s,
        "claimed_s": claimed_s,
    }


def _listed_run_ids(location: str) -> list[str]:
    """A project's newest runs as Hex lists them: the latest batch's, then the night
    before's."""
    ids: list[str] = []
    with StateStore(location) as store:
        latest = store.latest_batch_id() or 0
        for batch in (latest - 1, latest):
            if batch < 1:
                continue
            ids += [
                attempt.run_id
                for run in store.runs(batch)
                for attempt in run.attempts
                if attempt.run_id is not None
            ]
    return ids[-LISTED:]


def _history(store: StateStore) -> int:
    page = store.batches(limit=20)
    return store.batch_count(before_id=page[0].id) if page else 0


def _full_scans(database: Database, sql: str, params: tuple[Any, ...]) -> list[str]:
    """How ``sql`` may read the whole attempts or runs table (nothing when it does not)."""
    if database.lock_rows == "":  # SQLite
        explained = database.fetch("EXPLAIN QUERY PLAN " + sql, params)
        lines = [str(row[-1]).strip() for row in explained]
        # SCAN passes over a whole table or index, and a SEARCH by a range (run_id>?)
        # may; a SEARCH by equality reads only the rows it names.
        return [
            line
            for line in lines
            if _names_big_table(line.replace("(", " ").split()[1:2])
            and (line.startswith("SCAN") or "<?" in line or ">?" in line)
        ]
    ((plan,),) = database.fetch("EXPLAIN (FORMAT JSON) " + sql, params)
    return list(_unbounded_nodes(plan[0]["Plan"] if isinstance(plan, list) else plan))


def _unbounded_nodes(node: dict[str, Any]) -> Iterator[str]:
    """PostgreSQL plan nodes reading attempts or runs sequentially, or through an index
    with no condition on it (only for its order)."""
    relation = node.get("Relation Name", "")
    kind = node.get("Node Type", "")
    if _names_big_table([relation]) and (
        kind == "Seq Scan" or (kind.startswith("Index") and "Index Cond" not in node)
    ):
        yield f"{kind} on {relation}"
    for child in node.get("Plans", []):
        yield from _unbounded_nodes(child)


def _names_big_table(names: list[str]) -> bool:
    """Whether the table (or its alias in the store's SQL: a, r) is attempts or runs."""
    return bool({"attempts", "runs", "a", "r"} & set(names))


def _drop(*_event: Any) -> Any:
    raise structlog.DropEvent


@contextmanager
def _quiet() -> Iterator[None]:
    """No log lines between the benchmark's JSON lines (resuming logs ``batch_resumed``)."""
    previous = structlog.get_config()
    structlog.configure(processors=[_drop], cache_logger_on_first_use=False)
    try:
        yield
    finally:
        structlog.configure(**previous)


def measure(location: str, sweep: Sweep) -> dict[str, Any]:
    """Time each step on a fresh store at ``location`` and check how each query reads."""
    with _quiet():
        return _measure(location, sweep)


def _measure(location: str, sweep: Sweep) -> dict[str, Any]:
    recorders: list[_Recorder] = []
    began = time.perf_counter()
    StateStore(location).close()
    open_s = time.perf_counter() - began
    listed = _listed_run_ids(location)
    with _fresh(location, recorders) as store:
        resume_s, parts = _timed(lambda: _resume(store, sweep, listed))
    with _fresh(location, recorders) as store:
        # As `hexbatch report STATE` does it: the latest batch of any manifest.
        report_s, report = _timed(lambda: store.report(store.latest_batch_id() or 0))
        assert len(report.runs) == len(sweep.plan.items)
    with _fresh(location, recorders) as store:
        history_s, older = _timed(lambda: _history(store))
        assert older == max(0, sweep.batches - 20)
    scans: dict[str, list[str]] = {}
    with StateStore(location) as store:
        for recorder in recorders:
            for sql, params in recorder.reads.items():
                found = _full_scans(store.database, sql, params)
                if found:
                    scans[" ".join(sql.split())[:90]] = found
        whole = _whole_store(store)
    steps = {"open_s": open_s, "resume_s": resume_s, "report_s": report_s, "history_s": history_s}
    return {
        **{name: round(seconds, 3) for name, seconds in steps.items()},
        "resume_parts_s": {name: round(seconds, 3) for name, seconds in parts.items()},
        "under_1s": all(seconds < SECOND for seconds in steps.values()),
        "full_scans": scans,
        "whole_store_s": whole,
    }


def _whole_store(store: StateStore) -> dict[str, float]:
    """The reads that covered every batch: every run id, every COMPLETED attempt's
    timings, and every batch's counts."""
    read = store.database.fetch
    queries = {
        "every_run_id": ("SELECT run_id FROM attempts WHERE run_id IS NOT NULL", ()),
        "every_duration": (
            "SELECT key, elapsed_ms, triggered_at, finished_at FROM attempts"
            " WHERE status = ? ORDER BY batch_id, attempt",
            (COMPLETED,),
        ),
        "every_batch_count": (
            "SELECT r.batch_id, COALESCE(r.final_status, (SELECT a.status FROM attempts AS a"
            " WHERE a.batch_id = r.batch_id AND a.key = r.key ORDER BY a.attempt DESC LIMIT 1),"
            " 'PLANNED'), COUNT(*) FROM runs AS r GROUP BY 1, 2",
            (),
        ),
    }
    return {
        name: round(_timed(functools.partial(read, sql, params))[0], 3)
        for name, (sql, params) in queries.items()
    }


def _cli_seconds(state: str) -> dict[str, float]:
    """``hexbatch report`` and ``hexbatch history`` as processes, Python's start included."""
    commands = {
        "report_json": ["report", state, "--format", "json"],
        "history": ["history", state],
    }
    figures = {}
    for name, args in commands.items():
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "hexbatch", *args], check=True, capture_output=True, timeout=120
        )
        figures[name] = round(time.perf_counter() - began, 3)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import hexbatch.cli.main"], check=True, timeout=120)
    figures["python_and_imports"] = round(time.perf_counter() - began, 3)
    return figures


def sqlite_figures(folder: Path, batches: int, runs: int, *, cli: bool = True) -> dict[str, Any]:
    """Generate the SQLite store in ``folder`` and measure it."""
    manifest, plan = write_manifest(folder, runs)
    path = folder / "state.db"
    generate_s, sweep = _timed(lambda: fill_sqlite(path, manifest, plan, batches))
    figures = {
        "case": "store_sqlite",
        "batches": sweep.batches,
        "runs_per_batch": len(plan.items),
        "attempts": sweep.attempts,
        "generate_s": round(generate_s, 1),
        "store_mib": round(path.stat().st_size / 2**20, 1),
        **measure(str(path), sweep),
    }
    if cli:
        figures["cli_s"] = _cli_seconds(str(path))
    return figures


def postgres_figures(folder: Path, url: str, batches: int, runs: int) -> dict[str, Any]:
    """Generate the store in the empty database at ``url`` and measure it."""
    import psycopg

    manifest, plan = write_manifest(folder, runs)
    generate_s, sweep = _timed(lambda: fill_postgres(url, manifest, plan, batches))
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    size = int(row[0]) if row else 0
    return {
        "case": "store_postgresql",
        "batches": sweep.batches,
        "runs_per_batch": len(plan.items),
        "attempts": sweep.attempts,
        "generate_s": round(generate_s, 1),
        "store_mib": round(size / 2**20, 1),
        **measure(url, sweep),
    }


def main(batches: int = 1000, runs: int = 1000) -> Iterator[dict[str, Any]]:
    """Yield the SQLite store's figures, then PostgreSQL's (or why they were skipped)."""
    with tempfile.TemporaryDirectory(prefix="hexbatch-bench-store-") as directory:
        folder = Path(directory)
        (folder / "sqlite").mkdir()
        yield sqlite_figures(folder / "sqlite", batches, runs)
    from tests.postgres_server import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer.start()
    except PostgresUnavailable as reason:
        yield {"case": "store_postgresql", "skipped": str(reason)}
        return
    try:
        with tempfile.TemporaryDirectory(prefix="hexbatch-bench-store-") as directory:
            yield postgres_figures(
                Path(directory), server.url(server.create_database()), batches, runs
            )
    finally:
        server.stop()
