"""Where a state store lives: a path, an ``sqlite:///`` URL, or a database URL.

``--state``, the ``HEXBATCH_STATE`` variable and a manifest's ``state:`` all name a
store the same way. A plain path or ``sqlite:///path`` (three slashes and a relative
path, four and an absolute one) is an SQLite file. A ``postgresql://`` URL names a
PostgreSQL database, which this version cannot use yet: it is refused with that
reason rather than mistaken for a file named ``postgresql:`` (which would start every
batch afresh on each machine). Any other URL scheme is refused too. A password in a
URL never appears in an error.
"""

from __future__ import annotations

import re
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


def sqlite_path(spec: str | Path, *, relative_to: Path | None = None) -> Path:
    """The SQLite file a state location names.

    ``relative_to`` anchors a relative path (a manifest's ``state:`` is relative to
    the manifest's folder); otherwise it stays relative to the working directory.

    Raises:
        StateError: the location is a URL of a store this version cannot use.
    """
    text = str(spec)
    if text.startswith(SQLITE_PREFIX):
        text = text[len(SQLITE_PREFIX) :]
        if not text:
            raise StateError("the state URL sqlite:/// names no file (sqlite:///path/state.db)")
    elif _URL.match(text):
        scheme = text.split(":", 1)[0].lower()
        shown = mask_password(text)
        if scheme.split("+", 1)[0] in _POSTGRES_SCHEMES:
            raise StateError(
                f"the state store {shown} is a PostgreSQL database, which this version of "
                "hexbatch cannot use yet: give an SQLite path (or sqlite:///path) instead"
            )
        raise StateError(
            f"the state store {shown} has an unknown scheme {scheme!r}: give a path, "
            "sqlite:///path or postgresql://…"
        )
    path = Path(text).expanduser()
    if relative_to is not None and not path.is_absolute():
        return relative_to / path
    return path
