"""One error family: every exception hexbatch defines is a HexbatchError, and one table
says which exit code each means."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import hexbatch
from hexbatch.batch import BatchRun, PreflightError
from hexbatch.cli.main import cli
from hexbatch.errors import (
    AuthenticationError,
    ConfigurationError,
    HexbatchError,
    MalformedResponseError,
    OutcomeUnknownError,
)
from hexbatch.exits import EXIT_CODES, EXIT_OK, EXIT_USAGE, exit_code
from hexbatch.manifest import ManifestError
from hexbatch.outcome import BatchReport
from hexbatch.report.writer import ReportsNotWritten
from hexbatch.resume import NothingToRerun
from hexbatch.simulator import ScenarioError
from hexbatch.state import StateError
from hexbatch.state.leases import LeaseHeldError
from tests.engine.conftest import P1, manifest, project, scenario


def _package_modules() -> list[str]:
    """Every module of the package but the entry points (importing them runs the command
    line) and the integrations (they need optional extras)."""
    return [
        module.name
        for module in pkgutil.walk_packages(hexbatch.__path__, "hexbatch.")
        if not module.name.startswith("hexbatch.integrations")
        and not module.name.endswith(".__main__")
    ]


def _exception_classes() -> list[type[BaseException]]:
    """Every exception class defined in the package, each once, by where it is defined."""
    found: dict[str, type[BaseException]] = {}
    for name in _package_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


EXCEPTIONS = _exception_classes()


def _bare(kind: type[HexbatchError]) -> HexbatchError:
    """An instance of ``kind`` without its constructor's arguments: the table looks at the
    type only."""
    return kind.__new__(kind)


def test_the_walk_finds_the_errors_outside_hexbatch_errors() -> None:
    """The walk reaches the subpackages, so the family test below covers them."""
    names = {kind.__name__ for kind in EXCEPTIONS}
    assert {"ManifestError", "ScenarioError", "StateError", "ReportsNotWritten"} <= names
    assert {"LoadFailed", "ScalarProblem", "Undelivered", "BadRequest"} <= names


@pytest.mark.parametrize("kind", EXCEPTIONS, ids=lambda kind: kind.__qualname__)
def test_every_exception_descends_from_hexbatch_error(kind: type[BaseException]) -> None:
    """A caller of run_batch (a scheduler's task, a script) catches one base type."""
    assert issubclass(kind, HexbatchError)


def test_extra_bases_kept_for_callers_that_catch_them() -> None:
    """A scenario problem is still a ValueError, reports not written still an OSError."""
    assert issubclass(ScenarioError, ValueError)
    assert issubclass(ReportsNotWritten, OSError)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (NothingToRerun, EXIT_OK),
        (ManifestError, EXIT_USAGE),
        (ScenarioError, EXIT_USAGE),
        (ConfigurationError, EXIT_USAGE),
        (PreflightError, EXIT_USAGE),
        (StateError, EXIT_USAGE),
        (LeaseHeldError, EXIT_USAGE),
        (AuthenticationError, EXIT_USAGE),
        (OutcomeUnknownError, EXIT_USAGE),
        (HexbatchError, EXIT_USAGE),
    ],
)
def test_exit_code_of_each_kind(kind: type[HexbatchError], code: int) -> None:
    """Nothing to rerun ends well (0); every other error stops a command with 2."""
    assert exit_code(_bare(kind)) == code


@pytest.mark.parametrize(
    "kind",
    [kind for kind in EXCEPTIONS if issubclass(kind, HexbatchError)],
    ids=lambda kind: kind.__qualname__,
)
def test_every_family_member_has_an_exit_code(kind: type[HexbatchError]) -> None:
    """The table ends with the family's base, so no error of the family goes unmapped."""
    assert exit_code(_bare(kind)) in {EXIT_OK, EXIT_USAGE}


def test_no_row_of_the_table_is_shadowed_by_an_earlier_one() -> None:
    """A row after a row for one of its base classes would never decide anything."""
    for position, (kind, _) in enumerate(EXIT_CODES):
        earlier = [base for base, _ in EXIT_CODES[:position]]
        assert not any(issubclass(kind, base) for base in earlier), kind
    assert EXIT_CODES[-1][0] is HexbatchError


def test_run_maps_any_error_of_the_family_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error of the family the command has no words of its own for still ends with the
    table's code and its message, not a traceback."""

    async def refused(self: BatchRun) -> BatchReport:
        raise MalformedResponseError("Hex answered with a page, not JSON", operation="GetProject")

    monkeypatch.setattr(BatchRun, "execute", refused)
    path = manifest(tmp_path, [{"id": P1}], sim=scenario([project()]))

    result = CliRunner().invoke(
        cli, ["run", str(path), "--simulate", "--no-progress"], env={"GITHUB_STEP_SUMMARY": ""}
    )

    assert result.exit_code == EXIT_USAGE, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "error: Hex answered with a page, not JSON [GetProject]" in result.stderr
