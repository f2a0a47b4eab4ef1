"""The ``projects`` command: list the workspace's projects, to build a manifest from."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hexbatch.api.client import HexClient
from hexbatch.api.filters import ProjectFilter
from hexbatch.api.models import Project
from hexbatch.cli.select import filter_options, filters_from
from hexbatch.config import Config, Flags, config_for
from hexbatch.errors import HexbatchError
from hexbatch.exits import exit_code
from hexbatch.outcome import iso
from hexbatch.simulated import simulated_hex
from hexbatch.terminal import plain


async def _fetch(config: Config, wanted: ProjectFilter) -> list[Project]:
    if config.simulate:
        async with simulated_hex(None) as simulator:
            return await _list(simulator.base_url, simulator.token, wanted)
    if not config.token_present:
        raise click.UsageError(f"no Hex API token: set the environment variable {config.token_env}")
    token = os.environ[config.token_env].strip()
    return await _list(config.base_url, token, wanted)


async def _list(base_url: str, token: str, wanted: ProjectFilter) -> list[Project]:
    async with HexClient(base_url, token) as client:
        listed = await client.list_projects(filters=wanted.api())
    # As a select: entry chooses: the title glob, and a host that ignored a filter.
    return [project for project in listed if wanted.matches(project)]


def _as_json(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "title": project.title,
        "type": project.type,
        "published": project.published,
        "last_published_at": iso(project.last_published_at),
        "archived": project.archived,
        "status": project.status,
        "categories": list(project.categories),
        "owner": project.owner,
        "creator": project.creator,
        "schedules_enabled": project.schedules_enabled,
        "published_results_updated_at": iso(project.published_results_updated_at),
    }


def _table(projects: list[Project], wanted: ProjectFilter) -> Table:
    title = f"{len(projects)} projects"
    if not wanted.empty:
        title += f" ({wanted.describe()})"
    # A light box keeps a 36-character id and a readable title within 80 columns.
    table = Table(title=plain(title), title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("Id", no_wrap=True)
    table.add_column("Title", ratio=1)
    table.add_column("Published", no_wrap=True)
    for project in projects:
        published = iso(project.last_published_at)
        # Titles come from Hex and anyone in the workspace can set them: text, never markup.
        table.add_row(
            plain(project.id),
            plain(project.title),
            Text(published[:10] if published else "no"),
        )
    return table


@click.command("projects")
@click.option("--base-url", help="Hex API base URL (default: HEX_API_BASE_URL, else Hex's).")
@click.option(
    "--token-env",
    default="HEX_API_TOKEN",
    show_default=True,
    help="Environment variable holding the token.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--simulate", is_flag=True, help="List the built-in simulator's projects.")
@filter_options
def projects(
    base_url: str | None, token_env: str, as_json: bool, simulate: bool, **filters: Any
) -> None:
    """List the workspace's projects: id, title, published or not, last published.

    The filters are a manifest's select: keys: they preview what a select: entry
    with them chooses (among the published projects).
    """
    wanted = filters_from(filters)
    try:
        flags = Flags(base_url=base_url, token_env=token_env, simulate=simulate, keeps_state=False)
        found = anyio.run(_fetch, config_for(flags), wanted)
    except HexbatchError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(exit_code(error))
    if as_json:
        click.echo(json.dumps([_as_json(p) for p in found], indent=2))
    else:
        Console().print(_table(found, wanted))
