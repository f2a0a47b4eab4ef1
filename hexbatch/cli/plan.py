"""The ``validate``, ``plan`` and ``schema`` commands: see what a manifest does before it runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from hexbatch.cli.select import select_for_plan, selection_lines
from hexbatch.config import Flags, config_for
from hexbatch.errors import ScenarioError
from hexbatch.estimate import Estimate, TriggerBound, makespan_estimate, trigger_schedule
from hexbatch.exits import exit_code
from hexbatch.manifest import DateRange, ManifestError, load_manifest
from hexbatch.manifest.schema import manifest_json_schema
from hexbatch.notify import describe, shown
from hexbatch.plan import Plan, RunSpec, build_plan
from hexbatch.simulated import scenario_for
from hexbatch.state import StateError, StateStore
from hexbatch.terminal import escape_control

_WIDTH = 80
_Command = TypeVar("_Command", bound=Callable[..., Any])


def as_of_option(command: _Command) -> _Command:
    """``--as-of YYYY-MM-DD``: the day that is "today" for dates relative to today."""
    return click.option(
        "--as-of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        metavar="YYYY-MM-DD",
        help="The day that is today for dates such as today-7d (default: today).",
    )(command)


def as_date(value: dt.datetime | None) -> dt.date | None:
    """The date of a ``--as-of`` value (click gives a datetime at midnight)."""
    return None if value is None else value.date()


def _fail(error: ManifestError) -> NoReturn:
    """Print every issue to stderr and exit with the code a manifest error means."""
    for issue in error.issues:
        click.echo(str(issue), err=True)
    count = len(error.issues)
    click.echo(f"{count} problem{'s' if count != 1 else ''} found; nothing was run.", err=True)
    sys.exit(exit_code(error))


def _load_plan(manifest_path: str, as_of: dt.datetime | None) -> Plan:
    try:
        return build_plan(load_manifest(manifest_path), as_date(as_of))
    except ManifestError as error:
        _fail(error)


def _warn(plan: Plan) -> None:
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _params_text(params: dict[str, Any] | Any) -> str:
    if not params:
        return "(no inputs)"
    return escape_control(
        " ".join(
            f"{key}={value if isinstance(value, str) else json.dumps(value)}"
            for key, value in params.items()
        )
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(plan: Plan) -> Iterable[str]:
    """Yield the plan as plain text lines grouped by project, each under 80 columns."""
    groups: dict[tuple[int, str], list[RunSpec]] = {}
    for item in plan.items:
        # An entry's runs by project: a select: entry runs several.
        groups.setdefault((item.project.index, item.project.id), []).append(item)
    if plan.as_of is not None:
        yield f"dates relative to today are as of {plan.as_of}"
        yield ""
    for runs in groups.values():
        project = runs[0].project
        name = escape_control(project.name)
        title = name if project.name == project.id else f"{name}  {project.id}"
        yield _clip(f"{title}  ({_plural(len(runs), 'run')})", _WIDTH)
        dates = project.dates
        if isinstance(dates, DateRange) and dates.written is not None:
            written = dates.written
            yield _clip(
                f"  dates: {dates.start} … {dates.end} (start {written.start}, end {written.end})",
                _WIDTH,
            )
        for item in runs:
            yield _clip(f"  {item.key}  {_params_text(item.params)}", _WIDTH)
        yield ""
    projects = len({project_id for _, project_id in groups})
    runs_text, projects_text = _plural(len(plan.items), "run"), _plural(projects, "project")
    yield f"{runs_text} in {projects_text}, plan {plan.plan_hash[:12]}"


def render_notify(plan: Plan) -> Iterable[str]:
    """Yield one line per ``notify:`` entry, its URL masked: ``notify: slack https://…``."""
    for notification in plan.manifest.notify:
        when = ", ".join(describe(notification)["on"])
        yield _clip(escape_control(f"notify: {shown(notification)}  (on {when})"), _WIDTH)


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@as_of_option
def validate(manifest: str, as_of: dt.datetime | None) -> None:
    """Check MANIFEST without running anything: exit 0 if valid, 2 listing every problem."""
    plan = _load_plan(manifest, as_of)
    _warn(plan)
    if plan.manifest.simulate:
        try:
            scenario_for(plan.manifest)
        except ScenarioError as error:
            click.echo(f"{manifest}: simulate: {error}", err=True)
            sys.exit(exit_code(error))
    dated = "" if plan.as_of is None else f" (dates as of {plan.as_of})"
    selectors = len(plan.manifest.selectors)
    entries = "1 select: entry" if selectors == 1 else f"{selectors} select: entries"
    chosen_later = (
        f" and {entries} (their projects are chosen when a batch starts)" if selectors else ""
    )
    click.echo(
        f"{manifest}: valid, {_plural(len(plan.manifest.projects) - selectors, 'project')},"
        f" {_plural(len(plan.items), 'run')}{chosen_later}{dated}"
    )


@dataclass(frozen=True, slots=True)
class _History:
    """What the state store ``run`` would use knows of the plan's runs."""

    durations: Mapping[str, float] = field(default_factory=dict)
    completed: Mapping[str, int] = field(default_factory=dict)
    """Run keys that COMPLETED in a batch of the store, with the newest such batch."""


def _history(planned: Plan, state: str | None, *, completed: bool = False) -> _History:
    """Earlier durations of the plan's runs (and, with ``completed``, which of them already
    completed), from the state store ``run`` would use.

    Nothing is created or written: a store that does not exist has no history, and
    one that cannot be read (a PostgreSQL server out of reach) costs the estimate
    only, never the plan.
    """
    keys = [item.key for item in planned.items]
    try:
        location = config_for(Flags(state=state), planned.manifest).state
        if location is None or (isinstance(location, Path) and not location.exists()):
            return _History()
        with StateStore.open_existing(location, read_only=True) as store:
            done = store.completed_before(keys, sys.maxsize) if completed else {}
            return _History(store.durations(keys), done)
    except StateError as error:
        click.echo(f"note: no makespan estimate, the state store is unreadable: {error}", err=True)
        return _History()


def _estimate_json(bound: TriggerBound, estimate: Estimate | None) -> dict[str, Any]:
    return {
        **bound.as_json(),
        "makespan_s": None if estimate is None else round(estimate.makespan_s, 3),
        "runs_with_history": 0 if estimate is None else estimate.runs_with_history,
    }


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print hexbatch.plan/1 JSON for machines.")
@click.option(
    "--state",
    type=click.Path(dir_okay=False),
    help="State store whose history estimates the makespan (default: as for run).",
)
@click.option(
    "--skip-completed",
    is_flag=True,
    help="Show which runs `run --skip-completed` would skip (their key completed before).",
)
@as_of_option
@click.option("--base-url", help="Hex API base URL for select: entries (as for run).")
@click.option("--simulate", is_flag=True, help="Choose select: entries' projects in the simulator.")
def plan(
    manifest: str,
    as_json: bool,
    state: str | None,
    skip_completed: bool,
    as_of: dt.datetime | None,
    base_url: str | None,
    simulate: bool,
) -> None:
    """Print the runs MANIFEST expands to, grouped by project, and how long they need.

    Nothing is triggered: the trigger limits bound the time, and the durations of
    earlier runs in the state store (read, never written) estimate the makespan.
    The projects of select: entries are those an unfinished batch chose (run resumes
    it), else those Hex lists now: that needs the manifest's token (or --simulate).
    """
    planned = _load_plan(manifest, as_of)
    source = ""
    if planned.unselected:
        planned, source = select_for_plan(
            planned, base_url=base_url, simulate=simulate, state=state
        )
    _warn(planned)
    history = _history(planned, state, completed=skip_completed)
    to_run = planned
    if skip_completed:
        kept = tuple(item for item in planned.items if item.key not in history.completed)
        to_run = dataclasses.replace(planned, items=kept)
    windows = planned.manifest.limits.triggers
    bound = trigger_schedule(len(to_run), windows)
    estimate = makespan_estimate(
        to_run,
        history.durations,
        max_in_flight=planned.manifest.max_in_flight,
        trigger_windows=windows,
    )
    completed = history.completed if skip_completed else None
    if as_json:
        click.echo(json.dumps(_plan_json(planned, bound, estimate, completed), ensure_ascii=False))
        return
    for line in [*selection_lines(planned, source), *render_table(planned)]:
        click.echo(line)
    if completed is not None:
        click.echo(_skipped_text(planned, completed))
    click.echo(bound.text())
    if estimate is not None:
        click.echo(estimate.text())
    for line in render_notify(planned):
        click.echo(line)


def _plan_json(
    planned: Plan,
    bound: TriggerBound,
    estimate: Estimate | None,
    completed: Mapping[str, int] | None,
) -> dict[str, Any]:
    """The hexbatch.plan/1 document ``plan --json`` prints (``completed``: with
    --skip-completed, the runs it would skip)."""
    document = planned.as_json()
    document["estimate"] = _estimate_json(bound, estimate)
    if completed is not None:
        document["already_completed"] = dict(sorted(completed.items()))
    document["notify"] = [describe(notification) for notification in planned.manifest.notify]
    return document


def _skipped_text(planned: Plan, completed: Mapping[str, int]) -> str:
    skipped = sum(1 for item in planned.items if item.key in completed)
    left = len(planned) - skipped
    return (
        f"--skip-completed: {_plural(skipped, 'run')} already completed in earlier batches, "
        f"{_plural(left, 'run')} to trigger"
    )


@click.command()
def schema() -> None:
    """Print the manifest's JSON Schema (for editors such as yaml-language-server)."""
    click.echo(json.dumps(manifest_json_schema(), indent=2))
