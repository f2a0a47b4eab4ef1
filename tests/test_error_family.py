"""One error family: every exception hexbatch defines is a HexbatchError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import hexbatch
from hexbatch.errors import HexbatchError
from hexbatch.report.writer import ReportsNotWritten
from hexbatch.simulator import ScenarioError


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
