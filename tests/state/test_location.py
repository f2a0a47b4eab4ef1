"""Where a state store lives: paths, sqlite:/// URLs, HEXBATCH_STATE and a manifest's state:."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hexbatch.batch import BatchOptions
from hexbatch.cli.main import cli
from hexbatch.manifest import load_manifest
from hexbatch.state import StateError, StateStore
from hexbatch.state.location import PostgresLocation, mask_password, resolve_location

MANIFEST = """version: 1
{state}projects:
  - id: 5a8591dd-4039-49df-9202-96385ba3eff8
"""


def _manifest(folder: Path, state: str | None = None) -> Path:
    path = folder / "nightly.yaml"
    path.write_text(MANIFEST.format(state=f"state: {state}\n" if state else ""), "utf-8")
    return path


def test_paths_and_sqlite_urls_name_files(tmp_path: Path) -> None:
    """sqlite:/// takes a relative path after three slashes, an absolute one after four."""
    assert resolve_location("runs/state.db") == Path("runs/state.db")
    assert resolve_location("sqlite:///runs/state.db") == Path("runs/state.db")
    assert resolve_location("sqlite:////srv/state.db") == Path("/srv/state.db")
    assert resolve_location("state.db", relative_to=tmp_path) == tmp_path / "state.db"
    assert resolve_location("/srv/state.db", relative_to=tmp_path) == Path("/srv/state.db")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://hexbatch:s3cr3t@db.example.com:5432/hexbatch",
        "postgres://hexbatch:s3cr3t@db/hexbatch",
        "postgresql+psycopg://hexbatch:s3cr3t@db/hexbatch",
    ],
)
def test_a_postgresql_url_names_a_database_never_a_file(url: str) -> None:
    """Not a file named postgresql: (which started batches over on every machine); the
    password never shows."""
    location = resolve_location(url)

    assert isinstance(location, PostgresLocation)
    assert location.url.startswith("postgresql://hexbatch:s3cr3t@")
    assert "s3cr3t" not in location.shown
    assert "***" in location.shown


def test_other_schemes_and_an_empty_sqlite_url_are_refused() -> None:
    """A URL hexbatch does not know is an error, not a path."""
    with pytest.raises(StateError, match="unknown scheme 'mysql'"):
        resolve_location("mysql://u@h/db")
    with pytest.raises(StateError, match="names no file"):
        resolve_location("sqlite:///")
    assert mask_password("postgresql://u@h/db") == "postgresql://u@h/db"


def test_flag_beats_environment_beats_manifest(tmp_path: Path) -> None:
    """--state, then HEXBATCH_STATE, then the manifest's state: (relative to its folder)."""
    manifest = load_manifest(_manifest(tmp_path, state="store/nightly.db"), env={})
    env = {"HEXBATCH_STATE": str(tmp_path / "env.db")}

    assert BatchOptions(state="flag.db", env=env).state_location(manifest) == Path("flag.db")
    assert BatchOptions(env=env).state_location(manifest) == tmp_path / "env.db"
    assert BatchOptions(env={}).state_location(manifest) == tmp_path / "store" / "nightly.db"
    plain = load_manifest(_manifest(tmp_path / "..", state=None), env={})
    assert BatchOptions(env={}).state_location(plain) == (
        plain.source.resolve().parent / ".hexbatch" / "state.db"
    )


def test_run_with_an_unreachable_postgresql_state_exits_2_and_creates_nothing(
    tmp_path: Path,
) -> None:
    """The command refuses at once: exit 2, the reason, no file, no password."""
    path = _manifest(tmp_path)
    url = "postgresql://hexbatch:s3cr3t@127.0.0.1:1/hexbatch"

    result = CliRunner().invoke(
        cli,
        ["run", str(path), "--state", url],
        env={"HEX_API_TOKEN": "hxtp_x", "GITHUB_STEP_SUMMARY": ""},
    )

    assert result.exit_code == 2, result.output
    assert "postgresql://hexbatch:***@127.0.0.1:1/hexbatch cannot be opened" in result.output
    assert "s3cr3t" not in result.output
    assert not any(p.name.startswith("postgres") for p in Path.cwd().iterdir())
    assert not (tmp_path / ".hexbatch").exists()


def test_history_reads_a_store_named_by_an_sqlite_url(tmp_path: Path) -> None:
    """The state commands take the same locations."""
    store_path = tmp_path / "state.db"
    with StateStore(store_path):
        pass

    result = CliRunner().invoke(cli, ["history", f"sqlite:///{store_path}"])

    assert result.exit_code == 0, result.output
    assert "holds no batches yet" in result.output
