"""The history, report and cancel commands, driven through click's CliRunner."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from hexbatch.cli.state import cancel, history, report
from hexbatch.state import SCHEMA_VERSION, PlannedRun, StateStore
from tests.state.conftest import MANIFEST, at, new_batch
from tests.state.simulated import QUICK, SLOW, TOKEN, serve, status, trigger


def invoke(command: click.Command, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run a command with separate stdout and stderr."""
    return CliRunner(env=env).invoke(command, list(args))


def finished_batch(store: StateStore) -> int:
    """A finished batch: k0 completed, k1 errored, k2 skipped."""
    batch = new_batch(store)
    store.record_triggered(batch.id, "k0", 1, "r0", "https://hex/r0", at(1))
    store.record_status(batch.id, "k0", 1, "COMPLETED", finished_at=at(61), elapsed_ms=60000.0)
    store.record_final(batch.id, "k0", "COMPLETED")
    store.record_final(batch.id, "k1", "ERRORED", "bad input")
    store.record_final(batch.id, "k2", "SKIPPED")
    store.finish_batch(batch.id, at(65))
    return batch.id


# -- history ---------------------------------------------------------------------------


def test_history_one_line_per_batch(store: StateStore, state: str) -> None:
    """history prints each batch's id, start, duration, counts and manifest on one line."""
    first = finished_batch(store)
    second = new_batch(store, started_at=at(100)).id
    result = invoke(history, state)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:4] == [str(first), "2025-03-01", "12:00:00", "1m05s"]
    assert "ERRORED=1 SKIPPED=1 COMPLETED=1" in lines[0]
    assert lines[0].endswith(MANIFEST)
    assert lines[1].split()[0] == str(second)
    assert "unfinished" in lines[1]
    assert "PLANNED=3" in lines[1]


def test_history_json(store: StateStore, state: str) -> None:
    """history --json lists the batches as objects with counts and duration."""
    finished_batch(store)
    result = invoke(history, state, "--json")
    assert result.exit_code == 0
    (entry,) = json.loads(result.stdout)
    assert entry["counts"] == {"ERRORED": 1, "SKIPPED": 1, "COMPLETED": 1}
    assert (entry["duration_s"], entry["runs"], entry["manifest"]) == (65.0, 3, MANIFEST)
    assert entry["finished_at"] == "2025-03-01T12:01:05.000Z"


def test_history_of_empty_store(store: StateStore, state: str) -> None:
    """history says so when the store holds no batches."""
    result = invoke(history, state)
    assert result.exit_code == 0
    assert "no batches" in result.stdout


def _batches(store: StateStore, count: int) -> list[int]:
    return [new_batch(store, started_at=at(60 * n)).id for n in range(count)]


def test_history_shows_the_latest_twenty_and_says_how_to_see_more(
    store: StateStore, state: str
) -> None:
    """With more than 20 batches, history lists the latest 20 oldest first, and says on
    stderr how many older ones there are and how to see them."""
    ids = _batches(store, 23)

    result = invoke(history, state)

    assert result.exit_code == 0
    assert [int(line.split()[0]) for line in result.stdout.splitlines()] == ids[3:]
    assert result.stderr == (
        f"3 older batches not shown: --before {ids[3]} pages back, --all shows every batch\n"
    )


def test_history_pages_back_with_limit_and_before(store: StateStore, state: str) -> None:
    """--limit N shows N batches; --before ID the ones older than ID; the last page says
    nothing more."""
    ids = _batches(store, 5)

    latest = invoke(history, state, "--limit", "2")
    older = invoke(history, state, "--limit", "2", "--before", str(ids[3]))
    oldest = invoke(history, state, "--limit", "2", "--before", str(ids[1]))

    def shown(result: Result) -> list[int]:
        return [int(line.split()[0]) for line in result.stdout.splitlines()]

    assert (shown(latest), shown(older), shown(oldest)) == (ids[3:], ids[1:3], ids[:1])
    assert "3 older batches not shown: --before 4 pages back" in latest.stderr
    assert "1 older batch not shown: --before 2 pages back" in older.stderr
    assert oldest.stderr == ""


def test_history_all_lists_every_batch(store: StateStore, state: str) -> None:
    """--all lists every batch (older than --before ID, with it) and hints at nothing."""
    ids = _batches(store, 22)

    every = invoke(history, state, "--all")
    before = invoke(history, state, "--all", "--before", str(ids[2]))

    assert [int(line.split()[0]) for line in every.stdout.splitlines()] == ids
    assert [int(line.split()[0]) for line in before.stdout.splitlines()] == ids[:2]
    assert every.stderr == before.stderr == ""


def test_history_json_is_the_page_shown(store: StateStore, state: str) -> None:
    """--json prints the same page as a JSON list, oldest first; the hint stays on stderr."""
    ids = _batches(store, 4)

    result = invoke(history, state, "--json", "--limit", "3")

    assert [entry["id"] for entry in json.loads(result.stdout)] == ids[1:]
    assert "1 older batch not shown" in result.stderr


def test_history_before_the_first_batch(store: StateStore, state: str) -> None:
    """Paging past the oldest batch says there is nothing before it."""
    (first,) = _batches(store, 1)
    result = invoke(history, state, "--before", str(first))
    assert result.exit_code == 0
    assert result.stdout.endswith(f"holds no batches before batch {first}.\n")


def test_history_all_and_limit_are_exclusive(store: StateStore, state: str) -> None:
    """--all with --limit is a usage error (exit 2), as is a limit below one."""
    assert invoke(history, state, "--all", "--limit", "3").exit_code == 2
    assert invoke(history, state, "--limit", "0").exit_code == 2


def test_history_short_durations_in_seconds(store: StateStore, state: str) -> None:
    """A batch under a minute shows its duration in seconds."""
    batch = new_batch(store)
    store.finish_batch(batch.id, at(4.25))
    assert " 4.2s " in invoke(history, state).stdout


# -- report ----------------------------------------------------------------------------


def test_report_latest_batch_as_json(store: StateStore, state: str) -> None:
    """report prints the latest batch's hexbatch.report/1 JSON by default."""
    finished_batch(store)
    latest = new_batch(store, manifest="/latest.yaml")
    result = invoke(report, state)
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["schema"] == "hexbatch.report/1"
    assert document["manifest"] == "/latest.yaml"
    assert [run["status"] for run in document["runs"]] == ["PLANNED"] * 3
    assert latest.id == 2


def test_report_chosen_batch(store: StateStore, state: str) -> None:
    """--batch picks an older batch."""
    first = finished_batch(store)
    new_batch(store)
    document = json.loads(invoke(report, state, "--batch", str(first)).stdout)
    assert document["counts"] == {"COMPLETED": 1, "ERRORED": 1, "SKIPPED": 1}
    assert document["duration_s"] == 65.0


def test_report_markdown_to_file(store: StateStore, state: str, tmp_path: Path) -> None:
    """--format md --output writes a Markdown report to the file."""
    finished_batch(store)
    output = tmp_path / "report.md"
    result = invoke(report, state, "--format", "md", "--output", str(output))
    assert result.exit_code == 0
    assert result.stdout == ""
    text = output.read_text()
    assert "ERRORED" in text
    assert "bad input" in text


def test_report_unwritable_output(store: StateStore, state: str, tmp_path: Path) -> None:
    """An output path in a missing folder is a one-line error, exit 2."""
    finished_batch(store)
    result = invoke(report, state, "--output", str(tmp_path / "no" / "such" / "r.json"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot write")


def test_report_unknown_batch(store: StateStore, state: str) -> None:
    """An unknown --batch is a one-line error, exit 2."""
    finished_batch(store)
    result = invoke(report, state, "--batch", "77")
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("has no batch 77")


def test_report_of_empty_store(store: StateStore, state: str) -> None:
    """A store without batches has nothing to report: exit 2."""
    result = invoke(report, state)
    assert result.exit_code == 2
    assert "holds no batches" in result.stderr


# -- unusable files, for every command ---------------------------------------------------


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")


def _newer(path: Path) -> None:
    StateStore(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")


def _absent(path: Path) -> None:
    """Leave the path empty."""


@pytest.mark.parametrize("command", [history, report, cancel], ids=lambda c: c.name)
@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_absent, "does not exist"),
        (_random_bytes, "not a hexbatch state store"),
        (_foreign, "another program"),
        (_newer, "newer hexbatch"),
    ],
    ids=["absent", "random-bytes", "foreign-sqlite", "newer-schema"],
)
def test_unusable_state_file(
    command: click.Command, make: object, expected: str, tmp_path: Path
) -> None:
    """Each unusable file gives one line on stderr and exit 2, never a traceback."""
    path = tmp_path / "state.db"
    assert callable(make)
    make(path)
    result = invoke(command, str(path))
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


# -- cancel ------------------------------------------------------------------------------


def _simulated_batch(store: StateStore, base_url: str, projects: list[str]) -> int:
    runs = [
        PlannedRun(key=f"k{index}", project_id=project, project=f"p{index}", params={}, index=index)
        for index, project in enumerate(projects)
    ]
    return new_batch(store, runs, base_url=base_url).id


def _start(store: StateStore, batch_id: int, key: str, base_url: str, project: str) -> str:
    store.record_intent(batch_id, key, 1, at(1))
    run_id, run_url = trigger(base_url, project)
    store.record_triggered(batch_id, key, 1, run_id, run_url, at(2))
    store.record_status(batch_id, key, 1, "RUNNING")
    return run_id


def test_cancel_live_runs(store: StateStore, state: str, tmp_path: Path) -> None:
    """cancel kills every in-flight run in Hex and records CANCELLED finals."""
    with serve(tmp_path) as sim:
        batch_id = _simulated_batch(store, sim.base_url, [SLOW, SLOW, SLOW])
        first = _start(store, batch_id, "k0", sim.base_url, SLOW)
        second = _start(store, batch_id, "k1", sim.base_url, SLOW)
        result = invoke(cancel, state, env={"HEX_API_TOKEN": TOKEN})
        assert result.exit_code == 0, result.output
        assert status(sim.base_url, SLOW, first).status == "KILLED"
        assert status(sim.base_url, SLOW, second).status == "KILLED"
        assert len(sim.ledger.runs) == 2
    runs = store.runs(batch_id)
    assert [run.status for run in runs] == ["CANCELLED", "CANCELLED", "PLANNED"]
    assert "batch 1: 2 cancelled, 0 already finished, 0 failed." in result.stdout
    assert store.requests(batch_id)["cancel"] == 2


def test_cancel_keeps_status_of_finished_run(store: StateStore, state: str, tmp_path: Path) -> None:
    """A run that had already ended on its own keeps the status Hex reports."""
    with serve(tmp_path) as sim:
        batch_id = _simulated_batch(store, sim.base_url, [QUICK])
        _start(store, batch_id, "k0", sim.base_url, QUICK)
        result = invoke(cancel, state, env={"HEX_API_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert store.runs(batch_id)[0].final_status == "COMPLETED"
    assert "had already ended: COMPLETED" in result.stdout


def test_cancel_refused_by_hex(store: StateStore, state: str, tmp_path: Path) -> None:
    """A finished run whose cancel Hex refuses (422) is recorded with Hex's status."""
    with serve(tmp_path, cancel_finished="unprocessable") as sim:
        batch_id = _simulated_batch(store, sim.base_url, [QUICK])
        _start(store, batch_id, "k0", sim.base_url, QUICK)
        result = invoke(cancel, state, env={"HEX_API_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert store.runs(batch_id)[0].final_status == "COMPLETED"


def test_cancel_failure_exits_1(store: StateStore, state: str, tmp_path: Path) -> None:
    """A cancel Hex answers with an error is reported, left in flight, and exits 1."""
    with serve(tmp_path) as sim:
        batch_id = _simulated_batch(store, sim.base_url, [SLOW])
        _start(store, batch_id, "k0", sim.base_url, SLOW)
        result = invoke(cancel, state, env={"HEX_API_TOKEN": "hxtp_wrong"})
    assert result.exit_code == 1
    assert "FAILED" in result.stderr
    assert store.runs(batch_id)[0].in_flight is not None


def test_cancel_without_token(store: StateStore, state: str) -> None:
    """cancel exits 2 naming the variable when the token is not set."""
    batch = new_batch(store)
    store.record_triggered(batch.id, "k0", 1, "r0", None, at(1))
    result = invoke(cancel, state, env={"HEX_API_TOKEN": ""})
    assert result.exit_code == 2
    assert "HEX_API_TOKEN is not set" in result.stderr


def test_cancel_nothing_in_flight(store: StateStore, state: str) -> None:
    """A batch with nothing in flight needs no token and changes nothing."""
    finished_batch(store)
    result = invoke(cancel, state, env={"HEX_API_TOKEN": ""})
    assert result.exit_code == 0
    assert "no runs in flight" in result.stdout


def test_cancel_lists_unresolved_triggers(store: StateStore, state: str) -> None:
    """A run with an intent but no run id is named as unknown, not cancelled."""
    batch = new_batch(store)
    store.record_intent(batch.id, "k1", 1, at(1))
    result = invoke(cancel, state, env={"HEX_API_TOKEN": ""})
    assert result.exit_code == 0
    assert "unknown    k1" in result.stderr
    assert store.runs(batch.id)[1].unresolved


def test_cancel_is_refused_while_a_run_drives_the_store(
    store: StateStore, state: str, tmp_path: Path
) -> None:
    """cancel does not race the process driving the batch: it names it and says to interrupt it
    twice, and cancels nothing."""
    with serve(tmp_path) as sim:
        batch_id = _simulated_batch(store, sim.base_url, [SLOW])
        run_id = _start(store, batch_id, "k0", sim.base_url, SLOW)
        lease, _ = store.take_lease(store.batch(batch_id).name)
        result = invoke(cancel, state, env={"HEX_API_TOKEN": TOKEN})
        store.release_lease(lease)
        assert status(sim.base_url, SLOW, run_id).status in ("PENDING", "RUNNING")
    assert result.exit_code == 2
    assert f"is being driven by process {os.getpid()} on host" in result.stderr
    assert "Ctrl-C twice" in result.stderr
    assert store.runs(batch_id)[0].in_flight is not None


def _start_at(store: StateStore, batch_id: int, key: str, base_url: str, project: str) -> str:
    """Trigger a run at ``base_url`` and record it there, as the engine does."""
    store.record_intent(batch_id, key, 1, at(1), base_url=base_url)
    run_id, run_url = trigger(base_url, project)
    store.record_triggered(batch_id, key, 1, run_id, run_url, at(2), base_url=base_url)
    store.record_status(batch_id, key, 1, "RUNNING")
    return run_id


def test_cancel_sends_each_run_to_the_hex_it_was_triggered_at(
    store: StateStore, state: str, tmp_path: Path
) -> None:
    """Runs recorded at two Hex URLs are cancelled each at its own; the batch's URL, where no
    run lives, gets no request (so never the token)."""
    for name in "abc":
        (tmp_path / name).mkdir()
    with (
        serve(tmp_path / "a") as header,
        serve(tmp_path / "b") as first,
        serve(tmp_path / "c") as second,
    ):
        batch_id = _simulated_batch(store, header.base_url, [SLOW, SLOW, SLOW])
        at_first = _start_at(store, batch_id, "k0", first.base_url, SLOW)
        at_second = _start_at(store, batch_id, "k1", second.base_url, SLOW)
        store.record_intent(batch_id, "k2", 1, at(3), base_url=second.base_url)
        result = invoke(cancel, state, env={"HEX_API_TOKEN": TOKEN})
        assert status(first.base_url, SLOW, at_first).status == "KILLED"
        assert status(second.base_url, SLOW, at_second).status == "KILLED"
        assert sum(header.ledger.requests.values()) == 0
    assert result.exit_code == 0, result.output
    assert "batch 1: 2 cancelled, 0 already finished, 0 failed." in result.stdout
    assert "unknown    k2: its trigger's outcome is not settled yet" in result.stderr
    assert [run.status for run in store.runs(batch_id)] == ["CANCELLED", "CANCELLED", "UNKNOWN"]


def test_an_unsettled_trigger_reads_unknown_everywhere(store: StateStore, state: str) -> None:
    """An attempt left with an intent and nothing else (as an interrupted trigger leaves it)
    reads UNKNOWN, never PLANNED or an earlier attempt's status, in report and history."""
    batch = new_batch(store)
    store.record_triggered(batch.id, "k0", 1, "r0", None, at(1), base_url="https://h/api/v1")
    store.record_status(batch.id, "k0", 1, "UNABLE_TO_ALLOCATE_KERNEL", finished_at=at(2))
    store.record_intent(batch.id, "k0", 2, at(3), base_url="https://h/api/v1")

    document = json.loads(invoke(report, state).stdout)
    shown = invoke(history, state).stdout

    run = document["runs"][0]
    assert run["status"] == "UNKNOWN"
    assert "not settled yet" in run["error"]
    assert "next `hexbatch run` settles it" in run["error"]
    assert [a["status"] for a in run["attempts"]] == ["UNABLE_TO_ALLOCATE_KERNEL", None]
    assert "UNKNOWN=1" in shown
    assert "PLANNED=2" in shown


def test_history_long_durations_in_hours(store: StateStore, state: str) -> None:
    """A batch over an hour shows hours and minutes."""
    batch = new_batch(store)
    store.finish_batch(batch.id, at(2 * 3600 + 5 * 60))
    assert " 2h05m " in invoke(history, state).stdout
