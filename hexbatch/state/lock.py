"""An exclusive, non-blocking, process-level lock on the state file itself.

``fcntl.flock`` on the database file's own inode: a symlink, a hard link or a
path through ``..`` reaches the same lock, whatever spelling each process used.
The kernel releases it when the holder exits, even on SIGKILL, so a crash never
leaves a stale lock behind. On Linux ``flock`` locks and the POSIX (``fcntl``)
locks SQLite takes on the same file are independent, so neither disturbs the other.

The descriptor stays open until the store closes: closing any descriptor of a
file drops every POSIX lock this process holds on it, SQLite's included, so it
must not be closed while SQLite's connection is still open.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class InodeLock:
    """The flock of one file's inode, taken and released without closing the descriptor."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.held = False

    def acquire(self) -> bool:
        """Take the lock; False when another open of the file (in any process) holds it."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self.held = True
        return True

    def release(self) -> None:
        """Give the lock up (the descriptor stays open until :meth:`close`)."""
        if self._fd is not None and self.held:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self.held = False

    def close(self) -> None:
        """Release the lock and close the descriptor (only after SQLite closed the file)."""
        self.release()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
