"""What the engine decides for a run an earlier process left behind, in virtual time.

A resumed batch hands the engine each run's recorded attempts (the state store's
part is tested in test_resume.py): a run with a run id is followed, not triggered
again; an intent without a run id is settled against Hex's run list before
anything is sent; an attempt that ended is reported as it ended.
"""

from __future__ import annotations

from pathlib import Path

from hexbatch import status
from hexbatch.outcome import Attempt
from tests.engine.conftest import P1, InProcessHarness, manifest, project, scenario


def _one_run(tmp_path: Path) -> Path:
    return manifest(tmp_path, [{"id": P1, "runs": [{"n": 1}]}])


async def test_a_run_with_a_run_id_is_followed_to_its_end_not_triggered_again(
    tmp_path: Path,
) -> None:
    harness = InProcessHarness(scenario([project()]))
    created = await harness.hex.run_project(P1, {"n": 1})
    earlier = Attempt(harness.time.now(), run_id=created.run_id, status=status.PENDING)

    report = await harness.run(_one_run(tmp_path), resumed={0: [earlier]})

    (run,) = report.runs
    assert (run.status, run.run_id, len(run.attempts)) == (
        status.COMPLETED,
        created.run_id,
        1,
    )
    assert harness.ledger.requests["RunProject"] == 1  # the earlier process's only


async def test_an_intent_whose_run_was_created_adopts_that_run(tmp_path: Path) -> None:
    """The process died between sending the trigger and recording its run id."""
    harness = InProcessHarness(scenario([project()]))
    intent = Attempt(harness.time.now(), seen_before=frozenset())
    created = await harness.hex.run_project(P1, {"n": 1})

    report = await harness.run(_one_run(tmp_path), resumed={0: [intent]})

    (run,) = report.runs
    assert (run.status, run.run_id) == (status.COMPLETED, created.run_id)
    assert harness.ledger.requests["RunProject"] == 1
    assert len(harness.ledger.runs) == 1


async def test_an_intent_that_created_nothing_is_triggered_once_its_window_passed(
    tmp_path: Path,
) -> None:
    """No run appeared until the reconcile window ended: the trigger is sent again, once."""
    harness = InProcessHarness(scenario([project()]))
    intent = Attempt(harness.time.now(), seen_before=frozenset())

    report = await harness.run(_one_run(tmp_path), resumed={0: [intent]})

    (run,) = report.runs
    assert run.status == status.COMPLETED
    assert len(run.attempts) == 1  # the withdrawn intent is not an attempt
    assert len(harness.ledger.runs) == 1
    (made,) = harness.ledger.runs
    assert made.created_at >= 1.0  # not before the one-second reconcile window ended


async def test_an_intent_beside_an_unclaimed_run_it_cannot_tell_apart_ends_unknown(
    tmp_path: Path,
) -> None:
    """Without the snapshot of the runs before the trigger, a new run may be anyone's."""
    harness = InProcessHarness(scenario([project()]))
    intent = Attempt(harness.time.now(), seen_before=None)
    await harness.hex.run_project(P1, {"n": 1})

    report = await harness.run(_one_run(tmp_path), resumed={0: [intent]})

    (run,) = report.runs
    assert run.status == status.UNKNOWN
    assert "may be another client's" in (run.error or "")
    assert len(harness.ledger.runs) == 1


async def test_an_attempt_that_ended_is_reported_as_it_ended_without_a_request(
    tmp_path: Path,
) -> None:
    harness = InProcessHarness(scenario([project()]))
    ended = Attempt(harness.time.now(), run_id="r", status=status.ERRORED, error="boom")

    report = await harness.run(_one_run(tmp_path), resumed={0: [ended]})

    (run,) = report.runs
    assert (run.status, run.error) == (status.ERRORED, "boom")
    assert sum(harness.ledger.requests.values()) == 0
