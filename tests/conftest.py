"""Suite-wide test setup."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aioresponses.core
import pytest
from aiohttp import ClientResponse

from tests.postgres_server import PostgresRole, PostgresServer, throwaway_server


class _CompatibleClientResponse(ClientResponse):
    """aioresponses 0.7.x builds responses without the ``stream_writer`` that aiohttp 3.14
    requires; supply a finished writer so fake responses construct as real ones do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(*args, **kwargs)


# aioresponses uses aiohttp's ClientResponse without exporting it: the name is replaced here.
aioresponses.core.ClientResponse = _CompatibleClientResponse  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole session (see tests/postgres_server.py);
    skips when PostgreSQL is not installed, fails instead when HEXBATCH_REQUIRE_POSTGRES=1."""
    with throwaway_server() as server:
        yield server


# A test that takes ``state_location`` runs once per state-store backend.
STATE_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=STATE_BACKENDS)
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh state store's location on each backend: an SQLite path that does not
    exist yet, or the URL of a new, empty PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "state" / "state.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    database = server.create_database()
    yield server.url(database)
    server.drop_database(database)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh empty database for this test, as a URL with the superuser and its password."""
    dbname = postgres_server.create_database()
    yield postgres_server.url(dbname)
    postgres_server.drop_database(dbname)


@pytest.fixture
def postgres_role(postgres_server: PostgresServer) -> Iterator[PostgresRole]:
    """A login role other than the superuser, with its own password and a fresh database it
    owns; dropped with everything it owns after the test."""
    role = postgres_server.create_role(f"r_{secrets.token_hex(8)}", secrets.token_urlsafe(18))
    dbname = postgres_server.create_database(owner=role.name)
    yield PostgresRole(role.name, role.password, dbname)
    postgres_server.drop_role(role.name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the PostgreSQL server `postgres`, so `-m "not postgres"`
    leaves them out without each test having to say so."""
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
