"""The state store's files on disk: private modes, hard links, and how to open a read-only one.

A store records params (which may be sensitive) and the run ids a batch claimed,
so what hexbatch creates is private whatever the umask: folders 0700, the
database 0600 (SQLite gives the WAL and shared-memory files the database's
mode). A folder that already exists is the user's and is left as it is.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Final
from urllib.parse import quote

from hexbatch.state.errors import StateError

FOLDER_MODE: Final = 0o700
FILE_MODE: Final = 0o600
# The default folder's name: hexbatch writes a .gitignore into it when it creates it.
DEFAULT_FOLDER: Final = ".hexbatch"

READ_WRITE: Final = "rw"
READ_ONLY: Final = "ro"
IMMUTABLE: Final = "immutable"


def make_private_folders(folder: Path) -> None:
    """Create ``folder`` and any missing parent 0700; leave existing ones alone."""
    missing: list[Path] = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # another process made it first: not ours to change
        except OSError as error:
            raise StateError(f"cannot create the state folder {path}: {error.strerror}") from None
        os.chmod(path, FOLDER_MODE)  # mkdir's mode is filtered by the umask
        if path.name == DEFAULT_FOLDER:
            _write_private(
                path / ".gitignore", "# Written by hexbatch: keep its state out of git.\n*\n"
            )


def _create_private(path: Path) -> int:
    """Create ``path`` 0600 (not there yet) and return its open descriptor.

    Raises:
        FileExistsError: it is there already.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # O_CREAT's mode is filtered by the umask
    except OSError:
        os.close(fd)
        raise
    return fd


def _write_private(path: Path, text: str) -> None:
    fd = _create_private(path)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def create_private_file(path: Path, shown: Path) -> None:
    """Create an empty database file 0600 when there is none (SQLite fills it in)."""
    try:
        fd = _create_private(path)
    except FileExistsError:
        return
    except OSError as error:
        raise StateError(f"cannot create the state store {shown}: {error.strerror}") from None
    os.close(fd)


def refuse_hard_links(path: Path, shown: Path) -> None:
    """Refuse a store file with more than one name.

    SQLite names the WAL after the path it opened: after a crash, opening the store
    through another name would not see the writes still in the first name's WAL,
    and the claimed run ids among them could be triggered again.
    """
    try:
        found = path.stat()
    except OSError:
        return
    if stat.S_ISDIR(found.st_mode):
        raise StateError(f"{shown} cannot be opened: it is a directory, not a state store")
    links = found.st_nlink
    if links > 1:
        raise StateError(
            f"{shown} has {links} hard links: hexbatch keeps its journal beside the name a "
            "store is opened by, so a second name can lose recorded triggers after a crash. "
            "Keep one name (remove the other links; a symlink is fine) and use it as --state"
        )


def _writable(path: Path) -> bool:
    # access() answers EROFS on read-only media even for root.
    return os.access(path, os.W_OK)


def open_mode(path: Path, writable: Callable[[Path], bool] | None = None) -> str:
    """How to open an existing store: read-write, read-only, or immutable.

    A store whose file or folder cannot be written is opened read-only. In a folder
    that cannot be written SQLite cannot create the shared-memory file a WAL store
    needs, so such a store is opened immutable (no locks, no shared memory) unless
    its WAL holds writes not yet copied into the file: those are only seen through
    a plain read-only open, which then needs the shared-memory file to exist.
    """
    writable = writable or _writable
    folder_writable = writable(path.parent)
    if folder_writable and (not path.exists() or writable(path)):
        return READ_WRITE
    if folder_writable:
        return READ_ONLY
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return READ_ONLY
    return IMMUTABLE


def why_read_only(path: Path) -> str:
    """Say why a store cannot be written, for a message."""
    try:
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return "it is on read-only media"
    except OSError:
        pass
    if not _writable(path.parent):
        return "its folder is not writable"
    return "the file is not writable"


def sqlite_uri(path: Path, mode: str) -> str:
    """The URI SQLite opens the store by in ``mode``."""
    query = {READ_WRITE: "mode=rw", READ_ONLY: "mode=ro", IMMUTABLE: "mode=ro&immutable=1"}[mode]
    return f"file:{quote(str(path))}?{query}"
