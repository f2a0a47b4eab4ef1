"""The simulator (aiohttp server, scenario model) is loaded only by a command that asks for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Runs the command line in a fresh interpreter, then says whether the simulator was loaded.
_PROBE = """
import sys
from hexbatch.cli.main import cli
try:
    cli.main(sys.argv[1:], prog_name="hexbatch")
except SystemExit as stop:
    print("exit", stop.code, file=sys.stderr)
print("loaded" if "hexbatch.simulator" in sys.modules else "not loaded")
"""

_MANIFEST = """\
version: 1
projects:
  - id: 11111111-1111-1111-1111-111111111111
    params: {region: [eu, us]}
"""


def _loads_simulator(tmp_path: Path, *words: str) -> bool:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *words],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    answer = done.stdout.strip().splitlines()[-1]
    assert answer in {"loaded", "not loaded"}, done.stdout + done.stderr
    return answer == "loaded"


@pytest.mark.parametrize(
    "words",
    [
        ["plan", "m.yaml"],
        ["validate", "m.yaml"],
        ["run", "m.yaml", "--no-progress"],  # stops at the missing token
    ],
)
def test_commands_without_simulate_do_not_load_the_simulator(
    tmp_path: Path, words: list[str]
) -> None:
    """run, plan and validate without --simulate never import the simulator."""
    (tmp_path / "m.yaml").write_text(_MANIFEST, encoding="utf-8")

    assert not _loads_simulator(tmp_path, *words)


def test_a_simulate_section_is_checked_with_the_simulator(tmp_path: Path) -> None:
    """validate checks a manifest's simulate: section, which needs the simulator."""
    (tmp_path / "s.yaml").write_text(_MANIFEST + "simulate:\n  projects: []\n", encoding="utf-8")

    assert _loads_simulator(tmp_path, "validate", "s.yaml")
