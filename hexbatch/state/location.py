"""Where a state store lives: a path, an ``sqlite:///`` URL, or a database URL.

``--state``, the ``HEXBATCH_STATE`` variable and a manifest's ``state:`` all name a
store the same way. A plain path or ``sqlite:///path`` (three slashes and a relative
path, four and an absolute one) is an SQLite file. A ``postgresql://`` (or
``postgres://``) URL names a PostgreSQL database, never a file named ``postgresql:``.
Any other URL scheme is refused. A password in a URL never appears in a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from hexbatch.state.errors import StateError

STATE_ENV: Final = "HEXBATCH_STATE"
SQLITE_PREFIX: Final = "sqlite:///"
_URL: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_POSTGRES_SCHEMES: Final = frozenset({"postgresql", "postgres"})


def mask_password(url: str) -> str:
    """The URL with any password replaced by ``***`` (for logs and errors)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<an unreadable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


@dataclass(frozen=True, slots=True)
class PostgresLocation:
    """A state store in a PostgreSQL database."""

    url: str
    """The URL as libpq takes it (a ``+driver`` suffix of the scheme dropped)."""

    @property
    def shown(self) -> str:
        """The URL with its password masked."""
        return mask_password(self.url)


Location = Path | PostgresLocation


def resolve_location(spec: str | Path, *, relative_to: Path | None = None) -> Location:
    """The store a state location names: an SQLite file's path, or a PostgreSQL database.

    ``relative_to`` anchors a relative path (a manifest's ``state:`` is relative to
    the manifest's folder); otherwise it stays relative to the working directory.

    Raises:
        StateError: an ``sqlite:///`` URL without a path, or a URL of another kind.
    """
    text = str(spec)
    if text.startswith(SQLITE_PREFIX):
        text = text[len(SQLITE_PREFIX) :]
        if not text:
            raise StateError("the state URL sqlite:/// names no file (sqlite:///path/state.db)")
    elif _URL.match(text):
        scheme, rest = text.split(":", 1)
        if scheme.lower().split("+", 1)[0] in _POSTGRES_SCHEMES:
            return PostgresLocation(f"postgresql:{rest}")
        raise StateError(
            f"the state store {mask_password(text)} has an unknown scheme {scheme.lower()!r}: "
            "give a path, sqlite:///path or postgresql://…"
        )
    path = Path(text).expanduser()
    if relative_to is not None and not path.is_absolute():
        return relative_to / path
    return path


def shown(location: Location) -> str:
    """A location as messages name it (a URL's password masked)."""
    return location.shown if isinstance(location, PostgresLocation) else str(location)
