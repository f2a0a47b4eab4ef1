"""The command line: parses arguments, wires the parts together, maps errors to exit codes.

Exit codes (contract): 0 every run completed; 1 some run did not complete;
2 usage, manifest or authentication error (nothing triggered); 130 interrupted.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from hexbatch import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hexbatch")
def cli() -> None:
    """Run Hex projects many times as one batch: sweeps, backfills, bulk refreshes."""


class _Deferred(click.Command):
    """A command whose module is imported only once the command is parsed, run or described.

    ``hexbatch simulate`` lives in :mod:`hexbatch.simulator` (aiohttp and the scenario
    model): every other command starts without loading it.
    """

    def __init__(self, name: str, target: str) -> None:
        super().__init__(name)
        self._target = target

    def _real(self) -> click.Command:
        module, attribute = self._target.split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return self._real().get_params(ctx)

    def get_short_help_str(self, limit: int = 45) -> str:
        return self._real().get_short_help_str(limit)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._real().format_help_text(ctx, formatter)

    def invoke(self, ctx: click.Context) -> Any:
        return self._real().invoke(ctx)


def _register() -> None:
    # Imported here so `hexbatch --version` stays fast and import cycles stay impossible.
    from hexbatch.cli.plan import plan, schema, validate
    from hexbatch.cli.projects import projects
    from hexbatch.cli.run import run_command
    from hexbatch.cli.state import cancel, history, report, status

    for command in (
        run_command,
        plan,
        validate,
        schema,
        projects,
        _Deferred("simulate", "hexbatch.simulator.cli:simulate"),
        report,
        cancel,
        history,
        status,
    ):
        cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="hexbatch")
