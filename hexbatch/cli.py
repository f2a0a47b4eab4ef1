"""The command line: parses arguments, wires the parts together, maps errors to exit codes.

Exit codes (contract): 0 every run completed; 1 some run did not complete;
2 usage, manifest or authentication error (nothing triggered); 130 interrupted.
"""

from __future__ import annotations

import click

from hexbatch import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hexbatch")
def cli() -> None:
    """Run Hex projects many times as one batch: sweeps, backfills, bulk refreshes."""


def _register() -> None:
    # Imported here so `hexbatch --version` stays fast and import cycles stay impossible.
    from hexbatch.plan_cli import plan, schema, validate
    from hexbatch.projects_cli import projects
    from hexbatch.run_cli import run_command
    from hexbatch.simulator.cli import simulate
    from hexbatch.state_cli import cancel, history, report, status

    for command in (
        run_command,
        plan,
        validate,
        schema,
        projects,
        simulate,
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
