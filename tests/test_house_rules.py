"""The package's shape, checked: each layer imports only the layers below it (as
docs/architecture.md draws them), and no function grows past 50 lines (ruff's mccabe
check holds complexity to 10)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hexbatch"
MAX_FUNCTION_LINES = 50

# A module under the first folder may not import a module under any of the others.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "hexbatch.api": (
        "hexbatch.cli",
        "hexbatch.engine",
        "hexbatch.state",
        "hexbatch.manifest",
        "hexbatch.report",
        "hexbatch.batch",
        "hexbatch.simulator",
    ),
    "hexbatch.state": (
        "hexbatch.cli",
        "hexbatch.engine",
        "hexbatch.api.client",
        "hexbatch.batch",
        "hexbatch.simulator",
        "hexbatch.cancel",
    ),
    "hexbatch.engine": (
        "hexbatch.cli",
        "hexbatch.batch",
        "hexbatch.simulator",
        "hexbatch.state.store",
        "hexbatch.resume",
    ),
    "hexbatch.manifest": ("hexbatch.cli", "hexbatch.engine", "hexbatch.state", "hexbatch.batch"),
    "hexbatch.report": ("hexbatch.cli", "hexbatch.engine", "hexbatch.state", "hexbatch.batch"),
    "hexbatch.notify": ("hexbatch.cli", "hexbatch.engine", "hexbatch.state", "hexbatch.batch"),
}
# Only the command line and the module that starts it on demand load the simulator.
SIMULATOR_USERS = ("hexbatch.simulator", "hexbatch.simulated", "hexbatch.cli")


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _imports(path: Path) -> Iterator[str]:
    """Every module the file imports, at any depth (a function's lazy import counts)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_lies_below_it(layer: str) -> None:
    broken = sorted(
        f"{name} imports {imported}"
        for name, path in _modules()
        if _within(name, layer)
        for imported in _imports(path)
        if any(_within(imported, forbidden) for forbidden in FORBIDDEN[layer])
    )

    assert broken == []


def test_only_the_command_line_loads_the_simulator() -> None:
    loaders = sorted(
        name
        for name, path in _modules()
        if not any(_within(name, user) for user in SIMULATOR_USERS)
        and any(_within(imported, "hexbatch.simulator") for imported in _imports(path))
    )

    assert loaders == []


def test_nothing_below_the_command_line_imports_it() -> None:
    importers = sorted(
        name
        for name, path in _modules()
        if not _within(name, "hexbatch.cli") and name != "hexbatch.__main__"
        for imported in _imports(path)
        if _within(imported, "hexbatch.cli")
    )

    assert importers == []


def test_no_function_is_longer_than_fifty_lines() -> None:
    long = sorted(
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({length} lines)"
        for _, path in _modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_FUNCTION_LINES
    )

    assert long == []
