"""The store's files are private, and a store that cannot be written opens read-only."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hexbatch.cli.main import cli
from hexbatch.cli.state import history, report
from hexbatch.state import StateError, StateStore, files
from hexbatch.state.sqlite import SqliteDatabase
from tests.state.conftest import new_batch
from tests.state.simulated import QUICK, TOKEN, serve


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o000, 0o022])
def test_a_new_store_is_private_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    """Store 0600, WAL and shared memory 0600, folders 0700, .hexbatch/.gitignore ignores all."""
    folder = tmp_path / "deep" / ".hexbatch"
    path = folder / "state.db"
    with _umask(mask), StateStore(path) as store:
        new_batch(store)
        wal, shm = path.with_name("state.db-wal"), path.with_name("state.db-shm")
        assert wal.exists()
        assert shm.exists()
        assert (_mode(path), _mode(wal), _mode(shm)) == (0o600, 0o600, 0o600)
    assert (_mode(folder), _mode(folder.parent)) == (0o700, 0o700)
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"


def test_an_existing_folder_is_left_as_it_is(tmp_path: Path) -> None:
    """A folder the user made keeps its mode and gets no .gitignore."""
    folder = tmp_path / "mine"
    folder.mkdir()
    folder.chmod(0o755)
    StateStore(folder / "state.db").close()
    assert _mode(folder) == 0o755
    assert not (folder / ".gitignore").exists()
    assert _mode(folder / "state.db") == 0o600


def test_the_open_mode_follows_what_can_be_written(tmp_path: Path) -> None:
    """Writable: read-write; file only read-only: ro; folder read-only: immutable unless the
    WAL holds writes, which only a plain read-only open sees."""
    path = tmp_path / "state.db"
    path.write_bytes(b"x")
    assert files.open_mode(path, lambda p: True) == files.READ_WRITE
    assert files.open_mode(path, lambda p: p != path) == files.READ_ONLY
    assert files.open_mode(path, lambda p: False) == files.IMMUTABLE
    path.with_name("state.db-wal").write_bytes(b"pending writes")
    assert files.open_mode(path, lambda p: False) == files.READ_ONLY


def _sqlite(store: StateStore) -> SqliteDatabase:
    database = store.database
    assert isinstance(database, SqliteDatabase)
    return database


def _store_with_a_batch(path: Path) -> None:
    with StateStore(path) as store:
        new_batch(store)


def test_a_store_in_an_unwritable_folder_is_read_immutable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """history and report read it and say so; run-like opens are refused, not called foreign."""
    path = tmp_path / "state.db"
    _store_with_a_batch(path)
    monkeypatch.setattr(files, "_writable", lambda p: p not in (tmp_path, path))

    with StateStore.open_existing(path, read_only=True) as store:
        assert _sqlite(store).mode == files.IMMUTABLE
        assert [b.total for b in store.batches()] == [3]
        assert "opened it read-only" in (store.note or "")
    with pytest.raises(StateError, match="cannot be written"):
        StateStore(path)
    result = CliRunner().invoke(history, [str(path)])
    assert result.exit_code == 0, result.output
    assert "note:" in result.stderr
    assert "read-only" in result.stderr
    assert "PLANNED=3" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission")
def test_a_store_in_a_read_only_folder(tmp_path: Path) -> None:
    """A chmod-ed folder: history reads the store instead of calling it foreign."""
    folder = tmp_path / "ro"
    folder.mkdir()
    _store_with_a_batch(folder / "state.db")
    folder.chmod(0o500)
    try:
        result = CliRunner().invoke(history, [str(folder / "state.db")])
    finally:
        folder.chmod(0o700)
    assert result.exit_code == 0, result.output
    assert "its folder is not writable" in result.stderr


@contextlib.contextmanager
def _tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def test_a_wal_store_on_read_only_media(tmp_path: Path) -> None:
    """A store copied with writes still in its WAL, on media remounted read-only, is read
    with those writes by history and report, with a note."""
    source = tmp_path / "src.db"
    writer = StateStore(source)
    _sqlite(writer).fetch("PRAGMA wal_autocheckpoint = 0")
    new_batch(writer)
    with _tmpfs(tmp_path / "media") as media:
        for suffix in ("", "-wal", "-shm"):
            shutil.copy(f"{source}{suffix}", media / f"state.db{suffix}")
        writer.close()
        assert (media / "state.db-wal").stat().st_size > 0
        remount = ["mount", "-o", "remount,ro", str(media)]
        if subprocess.run(remount, capture_output=True, check=False).returncode != 0:
            pytest.skip("remounting read-only is not permitted here")
        with pytest.raises(sqlite3.OperationalError):
            sqlite3.connect(f"file:{media / 'state.db'}?mode=rw", uri=True).execute(
                "CREATE TABLE probe (x)"
            )
        shown = CliRunner().invoke(history, [str(media / "state.db")])
        reported = CliRunner().invoke(report, [str(media / "state.db")])
    assert shown.exit_code == 0, shown.output
    assert "read-only media" in shown.stderr
    assert "PLANNED=3" in shown.stdout
    assert reported.exit_code == 0, reported.output
    assert '"schema": "hexbatch.report/1"' in reported.stdout


def test_the_token_is_in_no_report_and_no_state_file(tmp_path: Path) -> None:
    """A real batch with a state store and every report: the token appears in none of them."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "version: 1\n"
        "defaults: {timeout: 30s, poll: {initial: 10ms, max: 50ms}}\n"
        f"projects:\n  - {{id: {QUICK}, name: quick, runs: [{{n: 1}}, {{n: 2}}]}}\n",
        encoding="utf-8",
    )
    with serve(tmp_path) as sim:
        result = CliRunner().invoke(
            cli,
            [
                "run",
                str(manifest),
                "--base-url",
                sim.base_url,
                "--no-progress",
                "--report-dir",
                str(tmp_path / "reports"),
                "--json",
                str(tmp_path / "r.json"),
            ],
            env={"HEX_API_TOKEN": TOKEN, "GITHUB_STEP_SUMMARY": ""},
        )
    assert result.exit_code == 0, result.output
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "scenario.yaml"]
    assert {p.name for p in written} >= {"state.db", "report.json", "report.html", "r.json"}
    for path in written:
        assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in result.output
