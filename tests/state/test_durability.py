"""Durability: what one connection or process wrote is there for the next, even after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from hexbatch.state import StateStore
from tests.state.conftest import at, new_batch

# Writes a batch, an intent, a run id and a status, says so, then waits to be killed.
_WRITER = textwrap.dedent(
    """
    import sys
    from tests.state.conftest import at, new_batch
    from hexbatch.state import StateStore

    store = StateStore(sys.argv[1])
    store.take_lease("sweep")
    if True:
        batch = new_batch(store)
        store.record_intent(batch.id, "k0", 1, at(1))
        store.record_intent(batch.id, "k1", 1, at(2))
        store.record_triggered(batch.id, "k1", 1, "run-k1", "https://hex/run-k1", at(3))
        store.record_status(batch.id, "k1", 1, "RUNNING")
        print(batch.id, flush=True)
        sys.stdin.read()
    """
)


def test_reopen_from_fresh_connection(state: str) -> None:
    """Writes are visible to a second store opened while the first is still open."""
    writer = StateStore(state)
    try:
        batch = new_batch(writer)
        writer.record_intent(batch.id, "k0", 1, at(1))
        writer.record_triggered(batch.id, "k0", 1, "run-1", None, at(2))
        with StateStore.open_existing(state) as reader:
            attempt = reader.runs(batch.id)[0].attempts[0]
        assert attempt.run_id == "run-1"
    finally:
        writer.close()


def test_intent_survives_sigkill(state: str) -> None:
    """A process killed with SIGKILL right after writing loses none of its records."""
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, state],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert child.stdout is not None
        batch_id = int(child.stdout.readline())
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:  # pragma: no cover - only when the child failed to start
            child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()
    with StateStore.open_existing(state) as store:
        first, second, _ = store.runs(batch_id)
        # The killed writer's lease is taken over at once: its process is gone.
        lease, replaced = store.take_lease("sweep")
    assert replaced is not None
    assert (replaced.pid, lease.pid) == (child.pid, os.getpid())
    assert first.unresolved
    assert first.last_intent_at == at(1)
    assert second.in_flight is not None
    assert (second.in_flight.run_id, second.in_flight.status) == ("run-k1", "RUNNING")
