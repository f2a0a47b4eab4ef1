"""The promise at its edges: interrupts, other clients' runs, budget waits and read outages.

Each test drives a batch against the simulator, with the fault that once broke
"nothing lost, nothing twice": over loopback HTTP, or in process (in virtual time)
where only the engine's decision is in question.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from hexbatch import status
from hexbatch.api.client import HexClient
from hexbatch.batch import BatchOptions, BatchRun
from hexbatch.engine import Control
from hexbatch.outcome import BatchReport
from hexbatch.simulator import Scenario, SimulatorHandle, run_simulator
from hexbatch.state import StateStore
from tests.engine.conftest import (
    P1,
    P2,
    Harness,
    HarnessFactory,
    InProcessHarness,
    fast_settings,
    manifest,
    project,
    scenario,
)


async def _when(condition: Any, action: Any, after: float = 0.0) -> None:
    """Call ``action`` ``after`` seconds once ``condition`` holds (checked every 10 ms)."""
    with anyio.fail_after(20):
        while not condition():  # noqa: ASYNC110 - the simulator offers no event to wait on
            await anyio.sleep(0.01)
    await anyio.sleep(after)
    action()


async def _foreign_run_ids(sim: SimulatorHandle, project_id: str) -> set[str]:
    async with HexClient(sim.base_url, sim.token) as client:
        return {run.run_id for run in await client.list_runs(project_id)}


def _run_states(sim: SimulatorHandle, project_id: str) -> dict[str, str]:
    return {
        entry["run_id"]: entry["status"]
        for entry in sim.ledger.snapshot()["runs"]
        if entry["project_id"] == project_id
    }


# -- another client's runs are never adopted ------------------------------------------


async def test_a_foreign_pending_run_of_any_age_is_never_adopted(tmp_path: Path) -> None:
    """Our trigger's 502 left its outcome open; another client's old queued run is not ours."""
    sim_data = scenario(
        [project(pending=1000, duration=1)],
        preexisting_runs=[{"project": P1, "status": "PENDING", "age": "10m", "params": {"o": 1}}],
        faults=[{"operation": "RunProject", "kind": "error", "status": 502, "max_times": 1,
                 "every_nth": 1}],
    )  # fmt: skip
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}], defaults={"timeout": "1s"})
    async with run_simulator(Scenario.from_mapping(sim_data)) as sim:
        foreign = await _foreign_run_ids(sim, P1)
        report = await _run(path, sim)
        (foreign_id,) = foreign
        async with HexClient(sim.base_url, sim.token) as client:
            foreign_now = await client.get_run_status(P1, foreign_id)

    (run,) = report.runs
    assert run.run_id != foreign_id  # our own retriggered run, not the foreign one
    assert run.status == status.TIMED_OUT
    assert foreign_now.status == status.PENDING  # never adopted, so never cancelled
    # The 502 created nothing; the retrigger created ours, once.
    assert len(sim.ledger.runs_for(P1, {"n": 1})) == 1


async def test_without_a_snapshot_an_unclaimed_run_ends_unknown_and_is_left_alone(
    tmp_path: Path,
) -> None:
    """When the runs could not be listed before the trigger, no run can be proven ours."""
    faults = [
        # Every try of the snapshot read fails; later reads succeed.
        {"operation": "GetProjectRuns", "kind": "error", "status": 500, "every_nth": 1,
         "max_times": 4},
        {"operation": "RunProject", "kind": "reset", "every_nth": 1, "max_times": 1},
    ]  # fmt: skip
    sim_data = scenario([project(duration=20)], faults=faults)
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])
    async with run_simulator(Scenario.from_mapping(sim_data)) as sim:
        report = await _run(path, sim)
        await anyio.sleep(0.5)
        states = _run_states(sim, P1)

    (run,) = report.runs
    assert run.status == status.UNKNOWN
    assert "another client's" in (run.error or "")
    assert list(states.values()) == [status.COMPLETED]  # found, not cancelled, not retriggered


# -- an interrupt never loses a run -----------------------------------------------------


def _interrupt_scenario(**extra: Any) -> dict[str, Any]:
    return scenario([project(pending=0.5, duration=20, **extra)])


async def test_an_interrupt_while_settling_a_retry_leaves_it_unresolved_then_resume_finds_it(
    tmp_path: Path,
) -> None:
    """A second Ctrl-C during reconciliation of attempt 2: never attempt 1's status; the
    batch stays unfinished; the next run adopts the run Hex created and reports it once."""
    sim_data = _interrupt_scenario(
        outcome={"rules": [{"when": {}, "status": "UNABLE_TO_ALLOCATE_KERNEL",
                            "first_attempts": 1}]}
    )  # fmt: skip
    sim_data["faults"] = [
        {"operation": "RunProject", "kind": "reset", "every_nth": 2, "max_times": 1},
        # The list hides new runs for 2 s (real), so reconciliation is still busy.
        {"operation": "GetProjectRuns", "kind": "list_lag", "delay": 200, "every_nth": 1},
    ]
    path = manifest(
        tmp_path,
        [{"id": P1, "runs": [{"n": 1}]}],
        defaults={"retries": {"attempts": 2, "on": ["UNABLE_TO_ALLOCATE_KERNEL"]}},
    )
    state = tmp_path / "state.db"
    control = Control()
    async with run_simulator(Scenario.from_mapping(sim_data)) as sim:
        async with anyio.create_task_group() as group:
            group.start_soon(
                _when,
                lambda: sim.ledger.requests["RunProject"] >= 2,
                lambda: control.cancel_live("SIGINT received"),
                0.3,
            )
            first = await _run(path, sim, state=state, control=control, window=30.0)
        with StateStore(state) as store:
            (stored,) = store.runs(1)
            finished = store.batch(1).finished
        second = await _run(path, sim, state=state, window=30.0)

    (run,) = first.runs
    assert run.status == status.UNKNOWN
    assert not run.settled
    assert [a.status for a in run.attempts] == [status.UNABLE_TO_ALLOCATE_KERNEL, None]
    assert stored.final_status is None
    assert stored.unresolved
    assert not finished
    (resumed,) = second.runs
    assert resumed.status == status.COMPLETED
    assert len(sim.ledger.runs) == 2  # attempt 1 and attempt 2: nothing triggered twice
    assert resumed.attempts[1].run_id == sim.ledger.runs[1].run_id


async def test_an_interrupt_while_settling_cancels_the_run_when_one_last_look_finds_it(
    tmp_path: Path,
) -> None:
    """The shielded last look finds the created run: it is cancelled in Hex, not left live."""
    sim_data = _interrupt_scenario()
    sim_data["faults"] = [
        {"operation": "RunProject", "kind": "reset", "every_nth": 1, "max_times": 1},
        # The snapshot is read 1st; reconciliation's first read hangs for 3 s.
        {"operation": "GetProjectRuns", "kind": "latency", "delay": 300, "every_nth": 2,
         "max_times": 1},
    ]  # fmt: skip
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])
    control = Control()
    async with run_simulator(Scenario.from_mapping(sim_data)) as sim:
        async with anyio.create_task_group() as group:
            group.start_soon(
                _when,
                lambda: sim.ledger.requests["GetProjectRuns"] >= 2,
                lambda: control.cancel_live("SIGINT received"),
                0.1,
            )
            with anyio.fail_after(15):
                report = await _run(path, sim, control=control)
        states = _run_states(sim, P1)

    (run,) = report.runs
    assert run.status == status.CANCELLED
    assert run.run_id in states
    assert states[run.run_id] == status.KILLED


# -- waits are bounded, visible and interruptible ---------------------------------------


async def test_the_first_interrupt_ends_triggers_waiting_an_hour_for_their_budget(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """A stop reaches triggers waiting for a 1-per-hour budget at once, not an hour later."""
    path = manifest(
        tmp_path,
        [{"id": P1, "runs": [{"n": n} for n in range(3)]}],
        limits={"requests": {"count": 1000, "per": "1m"}, "triggers": {"count": 1, "per": "1h"}},
    )
    harness: Harness = harness_factory(scenario([project(duration=5)]))

    with anyio.fail_after(15):  # an hour-long wait that the stop did not end fails here
        async with anyio.create_task_group() as group:
            group.start_soon(
                _when,
                lambda: harness.ledger and harness.ledger.runs,
                lambda: harness.control.stop("SIGINT received"),
                0.5,
            )
            report = await harness.run(path)

    assert report.counts() == {status.COMPLETED: 1, status.SKIPPED: 2}
    assert all(not run.settled for run in report.runs if run.status == status.SKIPPED)


async def test_fail_fast_ends_triggers_waiting_for_their_budget(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """--fail-fast after a failure does not wait an hour for the next trigger slot."""
    sim_data = scenario([project(duration=5, outcome={"default": "ERRORED"})])
    path = manifest(
        tmp_path,
        [{"id": P1, "runs": [{"n": n} for n in range(3)]}],
        limits={"requests": {"count": 1000, "per": "1m"}, "triggers": {"count": 1, "per": "1h"}},
    )
    harness: Harness = harness_factory(sim_data)

    with anyio.fail_after(15):
        report = await harness.run(path, fail_fast=True)

    assert report.counts() == {status.ERRORED: 1, status.SKIPPED: 2}


async def test_a_trigger_refused_with_429_leaves_no_intent_when_the_batch_stops(
    tmp_path: Path,
) -> None:
    """A 429 provably created nothing: its intent is withdrawn, so the stopped run reads
    as never triggered in the store, not as a trigger whose outcome is open."""
    sim_data = scenario(
        [project(duration=5)],
        limits={
            "requests": {"count": 100000, "per": 60},
            "run_project": {"count": 1, "per": "1000h"},
        },
    )
    path = manifest(
        tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}], defaults={"timeout": "2000h"}
    )
    state = tmp_path / "state.db"
    control = Control()
    async with run_simulator(Scenario.from_mapping(sim_data)) as sim:
        with anyio.fail_after(15):
            async with anyio.create_task_group() as group:
                group.start_soon(
                    _when,
                    lambda: sim.ledger.throttled["RunProject"] >= 1,
                    lambda: control.stop("SIGINT received"),
                    0.3,
                )
                report = await _run(path, sim, state=state, control=control)
    with StateStore(state) as store:
        stored = {run.key: run for run in store.runs(1)}

    first, second = report.runs
    assert first.status == status.COMPLETED
    assert second.status == status.SKIPPED
    assert stored[second.key].attempts == []
    assert not stored[second.key].unresolved


async def test_a_retry_after_longer_than_the_timeout_fails_the_trigger_and_names_the_wait(
    tmp_path: Path, harness_factory: HarnessFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hex asks for a wait of hours: the trigger ends TRIGGER_FAILED at once, saying so."""
    sim_data = scenario(
        [project(duration=5)],
        limits={
            "requests": {"count": 100000, "per": 60},
            "run_project": {"count": 1, "per": "1000h"},
        },
    )
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}, {"n": 2}]}])
    harness: Harness = harness_factory(sim_data)

    with anyio.fail_after(20):
        report = await harness.run(path)

    first, second = report.runs
    assert first.status == status.COMPLETED
    assert second.status == status.TRIGGER_FAILED
    assert "Retry-After" in (second.error or "")
    assert "longer than the run's timeout of 30s" in (second.error or "")


async def test_a_read_blocked_by_a_429_never_waits_past_the_run_deadline(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """Reads throttled for an hour: the run times out at its deadline, it does not hang."""
    sim_data = scenario(
        [project(pending=0.5, duration=1000)],
        limits={"requests": {"count": 4, "per": "1000h"}, "run_project": {"count": 100, "per": 60}},
    )  # fmt: skip
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}], defaults={"timeout": "2s"})
    harness: Harness = harness_factory(sim_data)

    with anyio.fail_after(20):
        report = await harness.run(path, settings=fast_settings(cancel_grace=1.0))

    (run,) = report.runs
    assert run.status == status.TIMED_OUT


# -- read outages are ridden out --------------------------------------------------------


async def test_a_known_run_is_followed_through_a_long_read_outage(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """48 failed status requests in a row (12 reads with their retries): still COMPLETED."""
    outage = [{"operation": "GetRunStatus", "kind": "error", "status": 502, "every_nth": 1,
               "max_times": 48}]  # fmt: skip
    fast_poll = {"poll": {"initial": "10ms", "max": "20ms"}}
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}], defaults=fast_poll)
    harness: Harness = harness_factory(scenario([project(pending=0.2, duration=3)], faults=outage))

    report = await harness.run(path)

    (run,) = report.runs
    assert run.status == status.COMPLETED
    assert report.requests["status"] > 48


async def test_a_404_right_after_creation_is_lag_not_the_end(tmp_path: Path) -> None:
    """Status reads 404 while the run is young (read-after-write lag): it still completes."""
    lag = [{"operation": "GetRunStatus", "kind": "not_found", "delay": 30, "every_nth": 1}]
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])
    harness = InProcessHarness(scenario([project(pending=0.2, duration=50)], faults=lag))

    report = await harness.run(path, settings=fast_settings(lost_after=5.0))

    (run,) = report.runs
    assert run.status == status.COMPLETED


async def test_only_a_persistent_404_ends_a_run_unknown(
    tmp_path: Path, harness_factory: HarnessFactory
) -> None:
    """Several 404s in a row over the lost_after span: UNKNOWN, and the reason says so."""
    gone = [{"operation": "GetRunStatus", "kind": "not_found", "every_nth": 1}]
    path = manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])
    harness: Harness = harness_factory(scenario([project(duration=1000)], faults=gone))

    report = await harness.run(path, settings=fast_settings(lost_after=0.5))

    (run,) = report.runs
    assert run.status == status.UNKNOWN
    assert "404" in (run.error or "")
    assert run.attempts[0].error == run.error


# -- budgets are exact ----------------------------------------------------------------


async def test_triggers_never_bunch_into_one_server_window(tmp_path: Path) -> None:
    """With the server's exact limits in the manifest, no trigger is ever throttled."""
    p3 = "33333333-3333-4333-8333-333333333333"
    limits = {"requests": {"count": 3, "per": "1s"}, "run_project": {"count": 2, "per": "1s"}}
    sim_data = scenario(
        [project(pid, pending=0.1, duration=0.5) for pid in (P1, P2, p3)], limits=limits
    )
    sim_data["time_scale"] = 1
    path = manifest(
        tmp_path,
        [{"id": pid, "runs": [{"n": 1}]} for pid in (P1, P2, p3)],
        defaults={"poll": {"initial": "2s", "max": "5s"}},
        limits={"requests": {"count": 3, "per": "1s"}, "triggers": {"count": 2, "per": "1s"}},
    )
    async with run_simulator(Scenario.from_mapping(sim_data)) as sim:
        report = await _run(path, sim)

    assert report.counts() == {status.COMPLETED: 3}
    assert sim.ledger.throttled["RunProject"] == 0


async def _run(
    path: Path,
    sim: SimulatorHandle,
    *,
    state: Path | None = None,
    control: Control | None = None,
    window: float = 1.0,
) -> BatchReport:
    run = BatchRun(
        path,
        BatchOptions(
            base_url=sim.base_url,
            env={"HEX_API_TOKEN": sim.token},
            state=state,
            stateless=state is None,
        ),
        fast_settings(reconcile_window=window),
        control or Control(),
    )
    return await run.execute()
