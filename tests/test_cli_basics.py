"""The command line's shared surface: version, help, module entry point."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from hexbatch import __version__
from hexbatch.cli.main import cli


def test_version_is_printed() -> None:
    """`hexbatch --version` prints the installed version."""
    result = CliRunner().invoke(cli, ["--version"])

    assert result.exit_code == 0
    assert __version__ in result.output


def test_python_dash_m_runs_the_cli() -> None:
    """`python -m hexbatch --help` reaches the same command group."""
    done = subprocess.run(
        [sys.executable, "-m", "hexbatch", "--help"], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0
    assert "Run Hex projects many times" in done.stdout


def test_unknown_command_is_a_usage_error() -> None:
    """A mistyped command exits 2, the usage-error code."""
    result = CliRunner().invoke(cli, ["rnu"])

    assert result.exit_code == 2
