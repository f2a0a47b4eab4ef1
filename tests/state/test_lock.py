"""The exclusive lock: one process drives a store; others are refused with the holder's pid."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hexbatch.state import StateError, StateLockedError, StateStore
from hexbatch.state.lock import InodeLock

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


def _named_holder(state_path: Path) -> list[tuple[int]]:
    with StateStore(state_path) as reader:
        return list(reader._read("SELECT pid FROM holder"))


def test_holder_pid_written(store: StateStore, state_path: Path) -> None:
    """While held, the store names the holder's pid; once released, nobody."""
    with store.lock():
        assert _named_holder(state_path) == [(os.getpid(),)]
    assert _named_holder(state_path) == []
    assert not state_path.with_name(state_path.name + ".lock").exists()


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
        store._write("DELETE FROM holder", (), durable=False, doing="forget the holder")
        with (
            StateStore(state_path) as other,
            pytest.raises(StateLockedError) as caught,
            other.lock(),
        ):
            pass
    assert caught.value.pid is None
    assert "another process" in str(caught.value)


def _hold_in_child(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=10)
    if holder.stdout is not None:
        holder.stdout.close()


@pytest.mark.parametrize("spelling", ["symlink", "dotdot"])
def test_another_spelling_of_the_path_reaches_the_same_lock(tmp_path: Path, spelling: str) -> None:
    """A store reached through a symlink or `..` is refused while another process drives it."""
    real = tmp_path / "real.db"
    StateStore(real).close()
    if spelling == "symlink":
        other = tmp_path / "link.db"
        other.symlink_to(real.name)
    else:
        (tmp_path / "sub").mkdir()
        other = tmp_path / "sub" / ".." / "real.db"
    holder = _hold_in_child(real)
    try:
        with StateStore(other) as second, pytest.raises(StateLockedError) as caught, second.lock():
            pass
        assert caught.value.pid == holder.pid
        assert f"process {holder.pid}" in str(caught.value)
    finally:
        _release(holder)
    assert sorted(p.name for p in tmp_path.glob("*.lock")) == []


def test_the_lock_follows_the_inode_through_a_hard_link(tmp_path: Path) -> None:
    """Two names of one file share one lock: the file's inode, not its path, is locked."""
    real = tmp_path / "real.db"
    real.write_bytes(b"")
    link = tmp_path / "hard.db"
    os.link(real, link)
    first, second = InodeLock(real), InodeLock(link)
    try:
        assert first.acquire()
        assert not second.acquire()
        first.release()
        assert second.acquire()
    finally:
        first.close()
        second.close()


def test_a_hard_linked_store_is_refused(tmp_path: Path) -> None:
    """A store with a second name is refused, saying why, while its first user keeps going."""
    real = tmp_path / "real.db"
    with StateStore(real) as first, first.lock():
        os.link(real, tmp_path / "hard.db")
        with pytest.raises(StateError, match=r"2 hard links.*Keep one name"):
            StateStore(tmp_path / "hard.db")
        with pytest.raises(StateError, match="hard links"):
            StateStore(real)
        first.latest_batch_id()
