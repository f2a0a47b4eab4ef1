"""One function resolves configuration: flags > environment > manifest > defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hexbatch.config import Config, Flags, resolve_config
from hexbatch.manifest import Manifest, load_manifest
from hexbatch.state.location import PostgresLocation

P1 = "11111111-1111-1111-1111-111111111111"
HEX = "https://app.hex.tech/api/v1"
WRITTEN = "https://written.example/api/v1"
FROM_ENV = "https://from-env.example/api/v1"
FLAG = "https://flag.example/api/v1"
FOLDER = Path("/batches/nightly")
TOKEN = "hxtp_not_kept"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """A manifest that sets everything it can (loaded without any environment)."""
    path = tmp_path_factory.mktemp("config") / "nightly.yaml"
    path.write_text(
        f"version: 1\nhex:\n  base_url: {WRITTEN}\n  token_env: NIGHTLY_TOKEN\n"
        "state: store/nightly.db\nlease_ttl: 2m\npriority: low\n"
        f"defaults:\n  max_in_flight: 3\nprojects:\n  - id: {P1}\n",
        encoding="utf-8",
    )
    return load_manifest(path, env={})


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """A manifest that sets nothing but its project."""
    path = tmp_path_factory.mktemp("config") / "plain.yaml"
    path.write_text(f"version: 1\nprojects:\n  - id: {P1}\n", encoding="utf-8")
    return load_manifest(path, env={})


def _resolve(
    which: str | None,
    written: Manifest,
    plain: Manifest,
    env: dict[str, str] | None = None,
    **flags: Any,
) -> Config:
    manifest = {"written": written, "plain": plain, None: None}[which]
    return resolve_config(Flags(**flags), env or {}, manifest, folder=FOLDER)


@pytest.mark.parametrize(
    ("flag", "env", "manifest", "expected"),
    [
        (FLAG, FROM_ENV, "written", FLAG),
        (None, FROM_ENV + "/", "written", FROM_ENV),  # the variable's trailing / dropped
        (None, "", "written", WRITTEN),  # an empty variable is no variable
        (None, None, "written", WRITTEN),
        (None, None, "plain", HEX),
        (None, FROM_ENV, None, FROM_ENV),
        (None, None, None, HEX),
    ],
)
def test_base_url(
    written: Manifest,
    plain: Manifest,
    flag: str | None,
    env: str | None,
    manifest: str | None,
    expected: str,
) -> None:
    """--base-url > HEX_API_BASE_URL > hex.base_url > Hex's API."""
    variables = {} if env is None else {"HEX_API_BASE_URL": env}

    assert _resolve(manifest, written, plain, variables, base_url=flag).base_url == expected


@pytest.mark.parametrize(
    ("flag", "manifest", "env", "expected", "present"),
    [
        ("MINE", "written", {"MINE": TOKEN}, "MINE", True),
        (None, "written", {"NIGHTLY_TOKEN": TOKEN, "HEX_API_TOKEN": TOKEN}, "NIGHTLY_TOKEN", True),
        (None, "written", {"HEX_API_TOKEN": TOKEN}, "NIGHTLY_TOKEN", False),
        (None, "plain", {"HEX_API_TOKEN": TOKEN}, "HEX_API_TOKEN", True),
        (None, "plain", {"HEX_API_TOKEN": "  "}, "HEX_API_TOKEN", False),  # blank is no token
        (None, None, {}, "HEX_API_TOKEN", False),
    ],
)
def test_token_variable(
    written: Manifest,
    plain: Manifest,
    flag: str | None,
    manifest: str | None,
    env: dict[str, str],
    expected: str,
    present: bool,
) -> None:
    """--token-env > hex.token_env > HEX_API_TOKEN; only whether it holds a token is kept."""
    config = _resolve(manifest, written, plain, env, token_env=flag)

    assert (config.token_env, config.token_present) == (expected, present)
    assert TOKEN not in {str(value) for value in _fields(config)}


def _fields(config: Config) -> list[object]:
    """Every field of ``config`` (a slotted dataclass)."""
    return [getattr(config, name) for name in config.__slots__]


@pytest.mark.parametrize(
    ("flags", "env", "manifest", "expected"),
    [
        ({"state": "flag.db"}, {"HEXBATCH_STATE": "/env.db"}, "written", Path("flag.db")),
        ({}, {"HEXBATCH_STATE": "/env.db"}, "written", Path("/env.db")),
        ({}, {}, "written", FOLDER / "store" / "nightly.db"),  # relative to the manifest
        ({}, {}, "plain", FOLDER / ".hexbatch" / "state.db"),
        ({}, {"HEXBATCH_STATE": "postgresql://h/db"}, None, PostgresLocation("postgresql://h/db")),
        ({}, {}, None, None),  # no manifest, nothing named: no store
        ({"keeps_state": False, "state": "flag.db"}, {}, "written", None),  # stateless, dry run
        ({"simulate": True}, {"HEXBATCH_STATE": "/env.db"}, "written", None),
        ({"simulate": True, "state": "flag.db"}, {}, "written", Path("flag.db")),
    ],
)
def test_state_store(
    written: Manifest,
    plain: Manifest,
    flags: dict[str, Any],
    env: dict[str, str],
    manifest: str | None,
    expected: object,
) -> None:
    """--state > HEXBATCH_STATE > state: > .hexbatch/state.db beside the manifest; none for a
    batch that keeps no state, nor for a simulated one not given --state."""
    assert _resolve(manifest, written, plain, env, **flags).state == expected


@pytest.mark.parametrize(
    ("flags", "manifest", "expected"),
    [
        ({"max_in_flight": 7, "lease_ttl": 45.0, "priority": "high"}, "written", (7, 45.0, "high")),
        ({}, "written", (3, 120.0, "low")),
        ({}, "plain", (10, 30.0, "normal")),
        ({}, None, (None, 30.0, "normal")),
    ],
)
def test_runs_in_flight_lease_and_priority(
    written: Manifest,
    plain: Manifest,
    flags: dict[str, Any],
    manifest: str | None,
    expected: tuple[int | None, float, str],
) -> None:
    """The flag > the manifest > the default, for each of them."""
    config = _resolve(manifest, written, plain, **flags)

    assert (config.max_in_flight, config.lease_ttl_s, config.priority) == expected


def test_limits_and_switches_pass_through(written: Manifest) -> None:
    """The manifest's limits are kept; simulate and plain http come from the flags only."""
    config = resolve_config(
        Flags(simulate=True, allow_insecure_http=True), {}, written, folder=FOLDER
    )

    assert config.limits == written.limits
    assert (config.simulate, config.allow_insecure_http) == (True, True)
    assert resolve_config(Flags(), {}, None).limits is None
