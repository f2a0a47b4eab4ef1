"""The ``simulate`` command: serves until interrupted, refuses remote hosts by default."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from hexbatch.simulator import Scenario
from hexbatch.simulator import cli as cli_module
from hexbatch.simulator.cli import _serve, is_loopback, simulate

LAUNCH = "from hexbatch.simulator.cli import simulate; simulate()"


async def _read_announcement(process: asyncio.subprocess.Process) -> dict[str, str]:
    """Collect the printed lines up to the prompt to stop."""
    assert process.stdout is not None
    found: dict[str, str] = {}
    while "stop" not in found:
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        assert line, "the command exited before announcing itself"
        label, _, value = line.strip().partition(":")
        if label in ("base URL", "token"):
            found[label] = value.strip()
        if line.startswith("Press Ctrl-C"):
            found["stop"] = line
        if "curl" in line:
            found["curl"] = line
    return found


async def test_simulate_serves_until_sigint() -> None:
    """`simulate` prints a base URL and token that work, and exits 0 on SIGINT."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, "--port", "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        found = await _read_announcement(process)
        headers = {"Authorization": f"Bearer {found['token']}"}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.get(f"{found['base URL']}/projects") as response,
        ):
            body = await response.json()
        process.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert response.status == 200
    assert len(body["values"]) == 4
    assert found["base URL"].startswith("http://127.0.0.1:")
    assert found["token"] in found["curl"]
    assert process.returncode == 0
    assert b"simulator stopped" in out


def test_refuses_non_loopback_host() -> None:
    """Binding a non-loopback address without --allow-remote is a usage error."""
    result = CliRunner().invoke(simulate, ["--host", "0.0.0.0"])  # noqa: S104

    assert result.exit_code == 2
    assert "--allow-remote" in result.output


def test_bad_scenario_is_a_usage_error(tmp_path: Path) -> None:
    """An invalid scenario file stops the command with exit code 2 and the file named."""
    path = tmp_path / "bad-scenario.yaml"
    path.write_text("seed: 1\n", encoding="utf-8")
    result = CliRunner().invoke(simulate, ["--scenario", str(path), "--port", "0"])

    assert result.exit_code == 2
    assert "bad-scenario.yaml" in result.output


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),  # noqa: S104
     ("10.1.2.3", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    """Only addresses of this machine count as loopback."""
    assert is_loopback(host) is loopback


async def test_serve_announces_and_stops_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    """In-process, the server prints its URL, token and curl line, and stops when told."""
    stop = asyncio.Event()
    task = asyncio.create_task(_serve(Scenario.default(), "127.0.0.1", 0, stop))
    printed = ""
    for _ in range(500):
        printed += capsys.readouterr().out
        if "Press Ctrl-C" in printed:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    printed += capsys.readouterr().out

    assert "token:    hxtp_simulator_demo" in printed
    assert "curl -H" in printed
    assert "simulator stopped" in printed


def test_port_in_use_is_reported() -> None:
    """A port that is already taken ends the command with a clear message."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(simulate, ["--port", str(port)])

    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_remote_host_is_served_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """With --allow-remote a non-loopback host is accepted, with a warning."""
    served: list[tuple[str, int]] = []

    async def fake_serve(scenario: Scenario, host: str, port: int) -> None:
        served.append((host, port))

    monkeypatch.setattr(cli_module, "_serve", fake_serve)
    result = CliRunner().invoke(simulate, ["--host", "0.0.0.0", "--allow-remote"])  # noqa: S104

    assert result.exit_code == 0
    assert served == [("0.0.0.0", 8765)]  # noqa: S104
    assert "WARNING" in result.output
