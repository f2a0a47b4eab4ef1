"""The exclusive lock: one process drives a store; others are refused with the holder's pid."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hexbatch.state import StateLockedError, StateStore
from hexbatch.state.lock import lock_path_for

# Takes the lock, says so, and holds it until its stdin closes.
_HOLDER = textwrap.dedent(
    """
    import sys
    from hexbatch.state import StateStore

    with StateStore(sys.argv[1]) as store, store.lock():
        print("locked", flush=True)
        sys.stdin.read()
    """
)


def test_lock_is_reentrant_after_release(store: StateStore) -> None:
    """The lock can be taken again once released."""
    with store.lock():
        pass
    with store.lock():
        pass


def test_holder_pid_written(store: StateStore, state_path: Path) -> None:
    """While held, the lock file names the holder's pid."""
    with store.lock():
        assert lock_path_for(state_path).read_text().strip() == str(os.getpid())


def test_second_store_in_process_is_refused(store: StateStore, state_path: Path) -> None:
    """A second store on the same file cannot take the lock while the first holds it."""
    with (
        store.lock(),
        StateStore(state_path) as other,
        pytest.raises(StateLockedError, match=f"process {os.getpid()}") as caught,
        other.lock(),
    ):
        pass
    assert caught.value.pid == os.getpid()


def test_other_process_holds_lock(store: StateStore, state_path: Path) -> None:
    """A lock held by another process is refused with that process's pid, then freed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(state_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StateLockedError) as caught, store.lock():
            pass
        assert caught.value.pid == holder.pid
        assert str(holder.pid) in str(caught.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    with store.lock():
        pass


def test_lock_without_pid(store: StateStore, state_path: Path) -> None:
    """When the holder's pid cannot be read, the error still says the store is in use."""
    with store.lock():
        lock_path_for(state_path).write_text("")
        with (
            StateStore(state_path) as other,
            pytest.raises(StateLockedError) as caught,
            other.lock(),
        ):
            pass
    assert caught.value.pid is None
    assert "another process" in str(caught.value)
