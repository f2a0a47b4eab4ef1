"""An exclusive, non-blocking, process-level lock beside a state file.

``fcntl.flock`` on ``<state>.lock``: the kernel releases it when the holder
exits, even on SIGKILL, so a crash never leaves a stale lock behind. The holder
writes its pid into the file so a refused process can say who holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from hexbatch.state.errors import StateLockedError


def lock_path_for(state_path: Path) -> Path:
    """The lock file that guards ``state_path``."""
    return state_path.with_name(state_path.name + ".lock")


@contextlib.contextmanager
def exclusive_lock(state_path: Path) -> Iterator[None]:
    """Hold the lock of ``state_path`` for the duration of the block.

    Raises:
        StateLockedError: another process (or another open of the lock in this
            one) holds it; the message names the holder's pid when known.
    """
    path = lock_path_for(state_path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            holder = f"process {pid}" if pid is not None else "another process"
            raise StateLockedError(
                f"{state_path} is in use by {holder}; wait for it to finish or stop it",
                pid=pid,
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    return int(text) if text.isdigit() else None
