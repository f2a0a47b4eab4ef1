"""What ``plan`` and ``projects`` need to show a selection of projects.

``plan`` of a manifest with ``select:`` entries shows the projects ``run`` would
run: those the latest unfinished batch pinned, when ``run`` would resume it (no
token needed), else those Hex's filters choose now, which needs the manifest's
token (or ``--simulate``). Without either it stops with exit code 2 rather than
print a plan that leaves runs out: the counts and the makespan estimate would be
wrong. ``validate`` never asks Hex anything.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import anyio
import click

from hexbatch.api.client import HexClient
from hexbatch.api.filters import ProjectFilter
from hexbatch.cli.logs import configure_logging
from hexbatch.config import Flags, config_for
from hexbatch.errors import HexbatchError, ScenarioError
from hexbatch.exits import EXIT_USAGE, exit_code
from hexbatch.manifest import Manifest
from hexbatch.manifest.errors import format_path
from hexbatch.plan import Plan, build_plan
from hexbatch.resume import pinned_selection
from hexbatch.select import resolve_selection
from hexbatch.selection import Selection
from hexbatch.simulated import simulated_hex
from hexbatch.state import StateError, StateStore
from hexbatch.terminal import escape_control

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _stop(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"error: {escape_control(message)}", err=True)
    sys.exit(code)


def _pinned(manifest: Manifest, state: str | None) -> tuple[Selection, str] | None:
    """The selection of the unfinished batch ``run`` would resume, read without writing."""
    try:
        location = config_for(Flags(state=state), manifest).state
        if location is None or (isinstance(location, Path) and not location.exists()):
            return None
        with StateStore.open_existing(location, read_only=True) as store:
            selection = pinned_selection(store, manifest)
            latest = store.latest_batch(manifest.name) if selection is not None else None
    except StateError as error:
        click.echo(f"note: not the selection of an unfinished batch: {error}", err=True)
        return None
    if selection is None or latest is None:
        return None
    note = (
        f"kept by batch {latest.id}, chosen {_when(selection)}\n"
        "  `run` resumes it with these projects (`run --new` would choose again)"
    )
    return selection, note


def _when(selection: Selection) -> str:
    return selection.selected_at.strftime("%Y-%m-%d %H:%M %Z").strip()


async def _resolve(manifest: Manifest, base_url: str, token: str) -> Selection:
    async with HexClient(base_url, token) as client:
        return await resolve_selection(client, manifest, now=datetime.now(UTC))


async def _resolve_simulated(manifest: Manifest) -> Selection:
    async with simulated_hex(manifest) as simulator:
        return await _resolve(manifest, simulator.base_url, simulator.token)


def select_for_plan(
    planned: Plan, *, base_url: str | None, simulate: bool, state: str | None
) -> tuple[Plan, str]:
    """The plan with the projects of its ``select:`` entries, and where they come from;
    exits with code 2 when they cannot be known."""
    manifest = planned.manifest
    # What the selection logs, plan prints: only warnings go to standard error.
    configure_logging("console", quiet=True)
    pinned = None if simulate else _pinned(manifest, state)
    if pinned is not None:
        selection, note = pinned
    elif simulate:
        try:
            selection = anyio.run(_resolve_simulated, manifest)
        except ScenarioError as error:
            _stop(f"{manifest.source}: simulate: {error}", exit_code(error))
        note = f"chosen now in the simulator, {_when(selection)}"
    else:
        config = config_for(Flags(base_url=base_url, keeps_state=False), manifest)
        if not config.token_present:
            entries = ", ".join(format_path(("projects", s.index)) for s in manifest.selectors)
            _stop(
                f"{entries} of {manifest.source} choose their projects through Hex's API:"
                f" set the environment variable {config.token_env} to plan them (or pass"
                " --simulate); `hexbatch validate` checks the manifest without a token"
            )
        url, token = config.base_url, os.environ[config.token_env].strip()
        try:
            selection = anyio.run(_resolve, manifest, url, token)
        except HexbatchError as error:
            _stop(
                f"could not list the projects the select: entries choose: {error}",
                exit_code(error),
            )
        note = f"chosen now by Hex's filters, {_when(selection)}"
    return build_plan(manifest, planned.as_of, selection=selection), note


def selection_lines(plan: Plan, note: str) -> Iterable[str]:
    """The selection as ``plan`` prints it above the runs."""
    if plan.selection is None:
        return
    yield from (_clip(line) for line in f"selection: {note}".splitlines())
    yield from (_clip(line) for line in plan.selection.lines(plan.manifest))
    yield ""


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def filter_options(command: _Command) -> _Command:
    """``--status``, ``--category`` (each repeatable), ``--collection``, ``--owner``,
    ``--creator`` and ``--title``: a manifest's ``select:`` filters."""
    options = [
        click.option("--status", "statuses", multiple=True, help="A workspace status (repeat)."),
        click.option("--category", "categories", multiple=True, help="A category (repeat)."),
        click.option("--collection", help="A collection id."),
        click.option("--owner", metavar="EMAIL", help="The owner's email."),
        click.option("--creator", metavar="EMAIL", help="The creator's email."),
        click.option("--title", metavar="GLOB", help="A glob the title matches (no case)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def filters_from(flags: dict[str, Any]) -> ProjectFilter:
    """The filter :func:`filter_options` parsed."""
    return ProjectFilter(
        statuses=tuple(flags["statuses"]),
        categories=tuple(flags["categories"]),
        collection=flags["collection"],
        owner=flags["owner"],
        creator=flags["creator"],
        title=flags["title"],
    )
