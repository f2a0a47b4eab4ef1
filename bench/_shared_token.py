"""Batches on one token in separate processes, against a simulator in a process of its own.

Every batch is a child process (spawned, as ``hexbatch run`` would be) that loads
hexbatch, says it is ready and waits for the word to go: so batches "started
together" really start within a millisecond or two, and none pays another's
interpreter start-up. The simulator runs as ``hexbatch simulate`` in its own
process and its ledger (``GET /_sim/ledger``) is the witness of what Hex saw:
every trigger, every 429, every run's timeline.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.synchronize import Event
from pathlib import Path
from queue import Empty
from typing import Any

import anyio
import anyio.to_thread
import structlog
import yaml

from hexbatch.batch import BatchOptions, run_batch
from hexbatch.engine import Control
from hexbatch.outcome import BatchReport
from hexbatch.status import COMPLETED, HEX_TERMINAL


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """One batch to run in a child process: its manifest, the shared store, its priority."""

    manifest: Path
    state: Path
    base_url: str
    token: str
    priority: str = "normal"


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a child process saw: when its batch started and ended (epoch seconds), how its
    runs ended, and how long its triggers waited for the token's quota."""

    name: str
    started: float
    finished: float
    statuses: dict[str, int]
    quota_wait_s: float

    @property
    def makespan(self) -> float:
        return self.finished - self.started


class Simulator:
    """``hexbatch simulate`` in a subprocess, serving one scenario."""

    def __init__(self, scenario: dict[str, Any], folder: Path) -> None:
        path = folder / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hexbatch", "simulate", "--port", "0", "--scenario", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.base_url = ""
        deadline = time.monotonic() + 60  # a cold start on a loaded machine can be slow
        while not self.base_url and time.monotonic() < deadline:
            line = self.process.stdout.readline() if self.process.stdout else ""
            if not line:
                break
            found = re.search(r"base URL: (\S+)", line)
            if found:
                self.base_url = found.group(1)
        if not self.base_url:
            self.stop()
            raise RuntimeError("the simulator did not start")

    def ledger(self) -> dict[str, Any]:
        """The simulator's ledger now: runs with their timelines, requests, 429s."""
        root = self.base_url.removesuffix("/api/v1")
        with urllib.request.urlopen(f"{root}/_sim/ledger", timeout=30) as answer:  # noqa: S310
            data: dict[str, Any] = json.load(answer)
        return data

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


@contextlib.contextmanager
def simulator(scenario: dict[str, Any], folder: Path) -> Iterator[Simulator]:
    """A simulator process for the length of the block."""
    served = Simulator(scenario, folder)
    try:
        yield served
    finally:
        served.stop()


def _quiet_logs() -> None:
    """Drop every log event: the child's output is not the benchmark's."""

    def drop(_logger: Any, _method: str, _event: Any) -> Any:
        raise structlog.DropEvent

    structlog.configure(processors=[drop], cache_logger_on_first_use=False)


async def _until_halted(halt: Event, control: Control) -> None:
    # A short timeout per wait: the batch's end cancels this task within 0.1 s.
    while not await anyio.to_thread.run_sync(halt.wait, 0.1):
        pass
    control.stop("the benchmark has its measurement")


async def _drive(spec: BatchSpec, options: BatchOptions, halt: Event) -> BatchReport:
    """Run the batch; told to halt, it triggers nothing more and lets its live runs end."""
    control = Control()
    async with anyio.create_task_group() as group:
        group.start_soon(_until_halted, halt, control)
        report = await run_batch(spec.manifest, options, control=control)
        group.cancel_scope.cancel()
    return report


def _run_batch(spec: BatchSpec, ready: Event, go: Event, halt: Event, results: Any) -> None:
    """A child process: load hexbatch, say ready, wait for go, run the batch, send the result."""
    _quiet_logs()
    options = BatchOptions(
        base_url=spec.base_url,
        env={"HEX_API_TOKEN": spec.token},
        state=spec.state,
        priority=spec.priority,
    )
    ready.set()
    go.wait()
    started = time.time()
    report = anyio.run(_drive, spec, options, halt)
    finished = time.time()
    waited_ms = sum(a.quota_wait_ms or 0.0 for run in report.runs for a in run.attempts)
    results.put(
        BatchResult(spec.manifest.stem, started, finished, report.counts(), waited_ms / 1000)
    )


class Batches:
    """Child processes, one per batch, each ready to start its batch when told."""

    def __init__(self, specs: Sequence[BatchSpec]) -> None:
        context = multiprocessing.get_context("spawn")
        self._results = context.Queue()
        self._go = [context.Event() for _ in specs]
        self._halt = [context.Event() for _ in specs]
        ready = [context.Event() for _ in specs]
        self._processes = [
            context.Process(
                target=_run_batch, args=(spec, up, go, halt, self._results), daemon=True
            )
            for spec, up, go, halt in zip(specs, ready, self._go, self._halt, strict=True)
        ]
        for process in self._processes:
            process.start()
        deadline = time.monotonic() + 120  # a cold start on a loaded machine can be slow
        for up, process in zip(ready, self._processes, strict=True):
            while not up.wait(timeout=0.1):
                if not process.is_alive() or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("a batch process did not get ready")

    def start(self, *which: int) -> float:
        """Let the batches numbered ``which`` (all when none) go; return that moment."""
        moment = time.time()
        for index in which or range(len(self._go)):
            self._go[index].set()
        return moment

    def results(self, timeout: float = 600, *, halt_after: str | None = None) -> list[BatchResult]:
        """Every batch's result, in the order they finished; once batch ``halt_after`` has
        finished, the others are told to trigger nothing more."""
        gathered: list[BatchResult] = []
        deadline = time.monotonic() + timeout
        while len(gathered) < len(self._processes):
            try:
                result = self._results.get(timeout=max(0.1, deadline - time.monotonic()))
            except Empty:
                raise RuntimeError("a batch process did not finish in time") from None
            gathered.append(result)
            if result.name == halt_after:
                for halt in self._halt:
                    halt.set()
        return gathered

    def close(self) -> None:
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()


def epoch(stamp: str) -> float:
    """Epoch seconds of one of the ledger's ISO 8601 stamps."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True)
class ServerRun:
    """One run as the simulator's ledger holds it."""

    params: str
    status: str
    created: float
    ended: float | None

    @property
    def lifetime(self) -> float:
        """Seconds from the trigger's arrival to the run's end (its pending time included)."""
        return (self.ended if self.ended is not None else self.created) - self.created


def server_runs(ledger: dict[str, Any]) -> list[ServerRun]:
    """Every run the simulator holds, in the order the triggers arrived."""
    runs = []
    for run in ledger["runs"]:
        # The timeline's last step is the end when the run has ended.
        last = run["timeline"][-1]
        ended = epoch(last["at"]) if last["status"] in HEX_TERMINAL else None
        params = json.dumps(run["params"], sort_keys=True)
        runs.append(ServerRun(params, run["status"], epoch(run["created_at"]), ended))
    return sorted(runs, key=lambda run: run.created)


def each_once_completed(runs: Sequence[ServerRun], planned: int) -> bool:
    """Whether Hex holds exactly ``planned`` runs, one per parameter set, all COMPLETED."""
    return (
        len(runs) == planned
        and len({run.params for run in runs}) == planned
        and all(run.status == COMPLETED for run in runs)
    )


def tightest_spans(
    runs: Sequence[ServerRun], windows: Sequence[tuple[int, float]]
) -> dict[str, float | None]:
    """Per window of ``count`` per ``per`` seconds, the shortest span in which Hex saw
    ``count + 1`` triggers arrive (when it is below ``per``, a window could have held one
    too many): how much of the limiter's stretch the way from reservation to Hex used."""
    arrived = sorted(run.created for run in runs)
    spans: dict[str, float | None] = {}
    for count, per in windows:
        gaps = [later - earlier for earlier, later in zip(arrived, arrived[count:], strict=False)]
        spans[f"{count}/{per:g}s"] = round(min(gaps), 4) if gaps else None
    return spans
