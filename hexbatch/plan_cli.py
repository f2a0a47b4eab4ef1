"""The ``validate``, ``plan`` and ``schema`` commands: see what a manifest does before it runs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

import click

from hexbatch.manifest import ManifestError, load_manifest
from hexbatch.manifest.schema import manifest_json_schema
from hexbatch.plan import Plan, RunSpec, build_plan
from hexbatch.terminal import escape_control

EXIT_MANIFEST_ERROR = 2
_WIDTH = 80


def _fail(error: ManifestError) -> NoReturn:
    """Print every issue to stderr and exit with the manifest-error code."""
    for issue in error.issues:
        click.echo(str(issue), err=True)
    count = len(error.issues)
    click.echo(f"{count} problem{'s' if count != 1 else ''} found; nothing was run.", err=True)
    sys.exit(EXIT_MANIFEST_ERROR)


def _load_plan(manifest_path: str) -> Plan:
    try:
        return build_plan(load_manifest(manifest_path))
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
    groups: dict[int, list[RunSpec]] = {}
    for item in plan.items:
        groups.setdefault(item.project.index, []).append(item)
    for runs in groups.values():
        project = runs[0].project
        name = escape_control(project.name)
        title = name if project.name == project.id else f"{name}  {project.id}"
        yield _clip(f"{title}  ({_plural(len(runs), 'run')})", _WIDTH)
        for item in runs:
            yield _clip(f"  {item.key}  {_params_text(item.params)}", _WIDTH)
        yield ""
    runs_text, projects_text = _plural(len(plan.items), "run"), _plural(len(groups), "project")
    yield f"{runs_text} in {projects_text}, plan {plan.plan_hash[:12]}"


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
def validate(manifest: str) -> None:
    """Check MANIFEST without running anything: exit 0 if valid, 2 listing every problem."""
    plan = _load_plan(manifest)
    _warn(plan)
    if plan.manifest.simulate:
        # Imported here: only a manifest with a simulate: section needs the simulator.
        from hexbatch.batch import scenario_for
        from hexbatch.simulator import ScenarioError

        try:
            scenario_for(plan.manifest)
        except ScenarioError as error:
            click.echo(f"{manifest}: simulate: {error}", err=True)
            sys.exit(EXIT_MANIFEST_ERROR)
    click.echo(
        f"{manifest}: valid, {_plural(len(plan.manifest.projects), 'project')},"
        f" {_plural(len(plan.items), 'run')}"
    )


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print hexbatch.plan/1 JSON for machines.")
def plan(manifest: str, as_json: bool) -> None:
    """Print the runs MANIFEST expands to, grouped by project (no network)."""
    planned = _load_plan(manifest)
    _warn(planned)
    if as_json:
        click.echo(json.dumps(planned.as_json(), ensure_ascii=False))
        return
    for line in render_table(planned):
        click.echo(line)


@click.command()
def schema() -> None:
    """Print the manifest's JSON Schema (for editors such as yaml-language-server)."""
    click.echo(json.dumps(manifest_json_schema(), indent=2))
