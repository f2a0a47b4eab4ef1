"""The errors a state store raises: each message names the file and says what to do."""

from __future__ import annotations

from hexbatch.errors import HexbatchError


class StateError(HexbatchError):
    """The state file cannot be used: absent, corrupt, foreign, or written by a newer hexbatch."""


class StateLockedError(StateError):
    """Another process holds the store's lock and is driving its batches.

    Attributes:
        pid: the holder's process id, when it could be read from the lock file.
    """

    def __init__(self, message: str, *, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid
