"""The manifest's notify: section: what loads, what is refused, and where."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from hexbatch.cli.main import cli
from hexbatch.manifest import ManifestError, Notification
from hexbatch.manifest.schema import manifest_json_schema
from hexbatch.manifest.yamlpos import load_yaml
from tests.manifest.conftest import LoadText, WriteManifest

PROJECT = "5a8591dd-4039-49df-9202-96385ba3eff8"
SLACK = "https://hooks.slack.com/services/T0001/B0002/s3cr3tS1ackP4th"


def _manifest(notify: str) -> str:
    return f"version: 1\nnotify:\n{notify}\nprojects:\n  - id: {PROJECT}\n"


def _problems(load_text: LoadText, notify: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_text(_manifest(notify), env)
    return [str(issue) for issue in caught.value.issues]


def test_entries_load_with_their_defaults(load_text: LoadText) -> None:
    """Each target kind loads; on defaults to finish and timeout to 10 s; a single on value
    may be written without a list."""
    manifest = load_text(
        _manifest(
            "  - slack: ${SLACK_WEBHOOK_URL}\n"
            "    on: failure\n"
            "  - {webhook: 'https://alerts.example.com/h', on: [success, failure], timeout: 30s}\n"
            "  - command: [./page-oncall.sh, --team, data]\n"
        ),
        {"SLACK_WEBHOOK_URL": SLACK},
    )

    slack, webhook, command = manifest.notify
    assert (slack.kind, slack.url, slack.on, slack.timeout) == (
        "slack",
        SLACK,
        frozenset({"failure"}),
        10.0,
    )
    assert (webhook.kind, webhook.on, webhook.timeout) == (
        "webhook",
        frozenset({"success", "failure"}),
        30.0,
    )
    assert (command.kind, command.command, command.on) == (
        "command",
        ("./page-oncall.sh", "--team", "data"),
        frozenset({"finish"}),
    )
    assert (command.index, command.location.line) == (2, 6)


def test_a_manifest_without_notify_notifies_no_one(load_text: LoadText) -> None:
    """The section is optional."""
    assert load_text(f"version: 1\nprojects:\n  - id: {PROJECT}\n").notify == ()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(
            "  - {on: [failure]}",
            ":3:5: notify[0]: needs one of webhook, slack or command",
            id="no-target",
        ),
        pytest.param(
            "  - {webhook: 'https://a.example/x', slack: 'https://b.example/y'}",
            ":3:5: notify[0]: has both webhook and slack: write each target as its own entry",
            id="two-targets",
        ),
        pytest.param(
            "  - {webhook: 'https://a.example/x', on: [sometimes]}",
            ":3:43: notify[0].on[0]: 'sometimes' is not allowed"
            " (expected 'failure', 'success' or 'finish')",
            id="bad-on",
        ),
        pytest.param(
            "  - {webhok: 'https://a.example/x'}",
            ":3:6: notify[0].webhok: unknown key 'webhok' (did you mean 'webhook'?)",
            id="typo",
        ),
        pytest.param(
            "  - {command: ./page.sh --team data}",
            ":3:15: notify[0].command: write the command as a list of words",
            id="command-as-a-string",
        ),
        pytest.param(
            "  - {command: []}",
            ":3:15: notify[0].command: write the command as a list of words",
            id="empty-command",
        ),
        pytest.param(
            "  - {webhook: 'https://a.example/x', on: []}",
            ":3:42: notify[0].on: is empty",
            id="empty-on",
        ),
        pytest.param(
            "  - {webhook: 'https://a.example/x', timeout: 0}",
            ":3:47: notify[0].timeout:",
            id="zero-timeout",
        ),
        pytest.param("  []", ":3:3: notify: is empty", id="empty-list"),
    ],
)
def test_bad_entries_are_refused_with_file_line_and_key(
    load_text: LoadText, entry: str, expected: str
) -> None:
    """Every problem names the file, line, column and key path."""
    problems = _problems(load_text, entry)

    assert len(problems) == 1, problems
    assert expected in problems[0], problems


def test_a_bad_url_from_a_secret_is_refused_without_showing_it(load_text: LoadText) -> None:
    """A value that is not an http(s) URL is refused, and never repeated: it may be a
    secret from the environment."""
    secret = "ftp://files.example/s3cr3t-t0ken"

    problems = _problems(
        load_text, "  - slack: ${SLACK_WEBHOOK_URL}", {"SLACK_WEBHOOK_URL": secret}
    )

    assert len(problems) == 1
    assert ":3:12: notify[0].slack: is not an http(s) URL" in problems[0]
    assert "s3cr3t" not in problems[0]


@pytest.mark.parametrize(
    "url", ["hooks.slack.com/services/x", "https://", "https://exa mple.com/x", "http://h:port/"]
)
def test_urls_need_a_scheme_and_a_host(load_text: LoadText, url: str) -> None:
    """Only absolute http(s) URLs with a host are accepted."""
    problems = _problems(load_text, f"  - webhook: '{url}'")

    assert "is not an http(s) URL" in problems[0]


def test_an_unset_variable_is_named(load_text: LoadText) -> None:
    """``${SLACK_WEBHOOK_URL}`` without the variable is an error at its line."""
    problems = _problems(load_text, "  - slack: ${SLACK_WEBHOOK_URL}")

    assert ":3:" in problems[0]
    assert "environment variable SLACK_WEBHOOK_URL is not set" in problems[0]


def test_the_manifest_repr_never_shows_a_url(load_text: LoadText) -> None:
    """A manifest printed in a traceback or a debugger keeps its webhook secret."""
    manifest = load_text(_manifest(f"  - slack: '{SLACK}'\n  - command: [hook, s3cr3tArg]"))

    assert "s3cr3t" not in repr(manifest)
    assert isinstance(manifest.notify[0], Notification)


def test_the_json_schema_describes_notify(write_manifest: WriteManifest) -> None:
    """The schema accepts the entries the loader accepts and refuses two targets in one
    entry or an unknown key."""
    path = write_manifest(
        _manifest(
            "  - {slack: '${SLACK_WEBHOOK_URL}', on: failure}\n"
            "  - {webhook: 'https://a.example/x', on: [finish], timeout: 5s}\n"
            "  - {command: [./hook.sh]}"
        )
    )
    data = load_yaml(path.read_text(encoding="utf-8"), str(path)).data
    validator = jsonschema.Draft202012Validator(manifest_json_schema())

    validator.validate(data)
    data["notify"][1]["slack"] = "https://b.example/y"
    assert not validator.is_valid(data)
    del data["notify"][1]["slack"]
    data["notify"][1]["url"] = "https://b.example/y"
    assert not validator.is_valid(data)


def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_plan_lists_the_notifications_masked(write_manifest: WriteManifest) -> None:
    """plan shows each notification by kind, scheme and host, with its on: the Slack
    path (its credential) appears neither in the table nor in the JSON."""
    path = write_manifest(
        _manifest(
            "  - {slack: '${SLACK_WEBHOOK_URL}', on: [failure]}\n"
            "  - {command: [./page-oncall.sh, --key, s3cr3tArg], on: [failure, success]}"
        )
    )
    env = {"SLACK_WEBHOOK_URL": SLACK}

    code, table = _cli("plan", str(path), env=env)
    json_code, text = _cli("plan", "--json", str(path), env=env)

    assert (code, json_code) == (0, 0)
    assert "notify: slack https://hooks.slack.com/…  (on failure)" in table
    assert "notify: command ./page-oncall.sh …  (on failure, success)" in table
    assert json.loads(text)["notify"] == [
        {
            "kind": "slack",
            "target": "https://hooks.slack.com/…",
            "on": ["failure"],
            "timeout_s": 10.0,
        },
        {
            "kind": "command",
            "target": "./page-oncall.sh …",
            "on": ["failure", "success"],
            "timeout_s": 10.0,
        },
    ]
    assert "s3cr3t" not in table + text


def test_validate_refuses_a_bad_entry_with_exit_2(write_manifest: WriteManifest) -> None:
    """`hexbatch validate` lists the problem with file and line."""
    path: Path = write_manifest(_manifest("  - {webhook: 'https://a.example/x', on: [always]}"))

    code, output = _cli("validate", str(path))

    assert code == 2
    assert f"{path}:3:" in output
    assert "notify[0].on[0]" in output
