"""Every command the README shows is run here, the way a reader would run it.

The commands are read from the README's code blocks, so a command added there
without being exercised fails this test. Commands that need Hex run against the
simulator in its own process, with a scenario holding the example manifest's
projects; they run from a temporary folder holding a copy of ``configs/``, so
that state and reports land there.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.crash.conftest import Simulator

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = [
    "make demo",
    "make test",
    "export HEX_API_TOKEN=hxtp_...",
    "hexbatch projects",
    "hexbatch validate configs/nightly-sweep.yaml",
    "hexbatch plan configs/nightly-sweep.yaml",
    "hexbatch run configs/nightly-sweep.yaml --report-dir out/",
    "hexbatch history configs/.hexbatch/state.db",
    "hexbatch report configs/.hexbatch/state.db --format md --output report.md",
    "hexbatch cancel configs/.hexbatch/state.db",
    "make bench > results.jsonl",
    ".venv/bin/python -m bench._table results.jsonl",
]


def readme_commands() -> list[str]:
    """Commands in the README's indented code blocks, without their comments."""
    commands = []
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^    ((?:hexbatch|make|export|\.venv/bin/python) [^#]*)", line)
        if match:
            commands.append(match.group(1).strip())
    return commands


def test_the_readme_shows_exactly_the_commands_tested_here() -> None:
    """A new README command must be added to this test (and so be exercised)."""
    assert readme_commands() == EXPECTED


# The read limit of the simulated workspace, which the manifest states too (as a user
# with a higher limit would), so the batch stays within it.
RAISED_READS = 600


def _scenario_for(manifest: Path, target: Path) -> Path:
    projects = yaml.safe_load(manifest.read_text(encoding="utf-8"))["projects"]
    data: dict[str, Any] = {
        "seed": 1,
        "tokens": [{"value": "hxtp_readme", "name": "readme"}],
        "projects": [
            {"id": p["id"], "title": p["name"], "pending": 0.1, "duration": 0.5} for p in projects
        ],
        # A workspace above Hex's default 30 reads a minute: the commands run in real time.
        "limits": {"requests": {"count": RAISED_READS, "per": 60}},
    }
    target.write_text(yaml.safe_dump(data), encoding="utf-8")
    return target


def test_readme_commands_run_against_the_simulator(tmp_path: Path) -> None:
    """projects, validate, plan, run, history, report and cancel work as the README says."""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    sweep = tmp_path / "configs" / "nightly-sweep.yaml"
    # At Hex's default 30 requests a minute the sweep's 17 runs take over a minute of
    # real time; the simulator serves this test alone, so its request budget is raised
    # as the README says a workspace with higher limits may.
    text = sweep.read_text(encoding="utf-8")
    assert "  requests: [{count: 30, per: 1m}, {count: 1800, per: 1h}]" in text
    raised = f"{{count: {RAISED_READS}, per: 1m}}"
    sweep.write_text(text.replace("{count: 30, per: 1m}", raised), "utf-8")
    scenario = _scenario_for(sweep, tmp_path / "s.yaml")
    simulator = Simulator(scenario)
    env = dict(os.environ, HEX_API_TOKEN="hxtp_readme", HEX_API_BASE_URL=simulator.base_url)
    env.pop("GITHUB_STEP_SUMMARY", None)
    results = {}
    try:
        for command in EXPECTED:
            if not command.startswith("hexbatch "):
                continue
            words = shlex.split(command)
            done = subprocess.run(
                [sys.executable, "-m", "hexbatch", *words[1:]],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            results[words[1]] = done
    finally:
        simulator.stop()

    for name, done in results.items():
        assert done.returncode == 0, (name, done.stdout[-2000:], done.stderr[-2000:])
    assert "churn-model" in results["projects"].stdout
    assert "17 runs" in results["plan"].stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "junit.xml",
        "report.html",
        "report.json",
        "report.md",
    ]
    assert "COMPLETED" in results["history"].stdout
    assert "hexbatch" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_make_demo_runs_a_real_batch() -> None:
    """`make demo` runs the demo batch against the simulator and prints its report."""
    if not (ROOT / ".venv" / "bin" / "hexbatch").exists():  # pragma: no cover - make test made it
        raise AssertionError("run the suite through `make test`, which creates .venv")
    done = subprocess.run(
        ["make", "--no-print-directory", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "demo finished (exit code 1)" in done.stdout
    assert "run_date=2025-01-09" in done.stdout
    assert "ERRORED" in done.stdout


def test_the_benchmark_commands(tmp_path: Path) -> None:
    """`make bench` runs the benchmark runner; `bench._table` turns its lines into the table.

    The benchmarks themselves take minutes and run outside the suite; their code is
    smoke-tested at tiny sizes in tests/bench.
    """
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = tmp_path / "results.jsonl"
    lines.write_text(
        ".venv/bin/python -m bench\n"
        '{"bench": "bench_workloads", "case": "W1_hexbatch", "makespan_s": 24.3, '
        '"vs_lower_bound": 1.113, "requests_per_run": 10.2, "throttled_429": 0, '
        '"lag_mean_s": 0.024, "lag_p95_s": 0.043, "correct": true}\n',
        encoding="utf-8",
    )
    table = subprocess.run(
        [sys.executable, "-m", "bench._table", str(lines)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    assert "-m bench" in planned.stdout
    assert "| W1_hexbatch | 24.30 |" in table.stdout


def test_the_manifest_example_loads(tmp_path: Path) -> None:
    """The README's annotated manifest is a valid manifest, every key of it."""
    from hexbatch.manifest import load_manifest

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## The manifest", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yaml"
    path.write_text(block, encoding="utf-8")

    manifest = load_manifest(path, env={})

    assert (manifest.name, manifest.lease_ttl, manifest.state) == (
        "revenue-nightly",
        30.0,
        ".hexbatch/state.db",
    )
    assert manifest.priority == "normal"
    assert [(w.count, w.per) for w in manifest.limits.triggers] == [(20, 60.0), (55, 3600.0)]
