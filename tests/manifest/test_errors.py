"""Every error a manifest author can meet names the file, line, column and key path."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hexbatch.manifest import ManifestError, load_manifest
from tests.manifest.conftest import WriteManifest

HEAD = "version: 1\nprojects:\n  - id: 5a8591dd-4039-49df-9202-96385ba3eff8\n"


@dataclass(frozen=True)
class Case:
    """A manifest body and the one issue it must produce."""

    name: str
    text: str
    line: int
    column: int
    path: str
    message: str


CASES = [
    Case("unknown top key", HEAD + "projets: []\n", 4, 1, "projets", "did you mean 'projects'?"),
    Case(
        "unknown project key",
        HEAD + "    parms: {a: 1}\n",
        4,
        5,
        "projects[0].parms",
        "unknown key 'parms' (did you mean 'params'?)",
    ),
    Case(
        "unknown key without close match lists known keys",
        HEAD + "    poll: {zzz: 1}\n",
        4,
        12,
        "projects[0].poll.zzz",
        "known keys: initial, max, multiplier",
    ),
    Case(
        "bad date",
        HEAD + "    dates: {param: d, start: 2025-02-01, end: 2025-02-30}\n",
        4,
        47,
        "projects[0].dates.end",
        "2025-02-30 is not a date",
    ),
    Case(
        "end before start",
        HEAD + "    dates: {param: d, start: 2025-02-01, end: 2025-01-01}\n",
        4,
        47,
        "projects[0].dates.end",
        "2025-01-01 is before start 2025-02-01",
    ),
    Case(
        "bad step",
        HEAD + "    dates: {param: d, start: 2025-01-01, end: 2025-02-01, step: 1m}\n",
        4,
        65,
        "projects[0].dates.step",
        "months are mo",
    ),
    Case(
        "bad duration",
        HEAD + "    timeout: 5 minutes\n",
        4,
        14,
        "projects[0].timeout",
        "'5 minutes' is not a duration",
    ),
    Case(
        "zero duration", HEAD + "    timeout: 0\n", 4, 14, "projects[0].timeout", "longer than zero"
    ),
    Case(
        "bad uuid",
        "version: 1\nprojects:\n  - id: revenue\n",
        3,
        9,
        "projects[0].id",
        "'revenue' is not a project id",
    ),
    Case(
        "missing id",
        "version: 1\nprojects:\n  - name: x\n",
        3,
        5,
        "projects[0]",
        "'id' is required",
    ),
    Case("missing version", HEAD[11:], 1, 1, "", "'version' is required"),
    Case("wrong version", HEAD.replace("1", "2", 1), 1, 10, "version", "2 is not allowed"),
    Case("no projects", "version: 1\nprojects: []\n", 2, 11, "projects", "is empty"),
    Case(
        "empty matrix key",
        HEAD + "    matrix: {tier: []}\n",
        4,
        20,
        "projects[0].matrix.tier",
        "is empty",
    ),
    Case(
        "empty runs",
        HEAD + "    runs: []\n",
        4,
        11,
        "projects[0].runs",
        "is empty",
    ),
    Case(
        "integer as text",
        HEAD + "    max_in_flight: '3'\n",
        4,
        20,
        "projects[0].max_in_flight",
        "expected an integer, got '3'",
    ),
    Case(
        "list instead of mapping",
        HEAD + "    params: [a, b]\n",
        4,
        13,
        "projects[0].params",
        "expected a mapping (key: value), got a list",
    ),
    Case(
        "boolean as text",
        HEAD + "    run: {use_cached_sql_results: 'no'}\n",
        4,
        35,
        "projects[0].run.use_cached_sql_results",
        "expected true or false",
    ),
    Case(
        "too small",
        HEAD + "    max_in_flight: 0\n",
        4,
        20,
        "projects[0].max_in_flight",
        "0 is too small (minimum 1)",
    ),
    Case(
        "unknown retry status",
        HEAD + "    retries: {on: [ERORRED]}\n",
        4,
        20,
        "projects[0].retries.on[0]",
        "'ERORRED' is not a failure status",
    ),
    Case(
        "unset variable",
        HEAD + "    params: {region: '${REGION}'}\n",
        4,
        22,
        "projects[0].params.region",
        "environment variable REGION is not set",
    ),
    Case(
        "malformed reference",
        HEAD + "    params: {region: '${1X}'}\n",
        4,
        22,
        "projects[0].params.region",
        "is not a variable reference",
    ),
    Case(
        "view_id with params",
        HEAD + "    params: {a: 1}\n    run: {view_id: abc}\n",
        4,
        13,
        "projects[0].params",
        "view_id runs a saved view",
    ),
    Case(
        "update published results with params",
        HEAD + "    matrix: {a: [1, 2]}\n    run: {update_published_results: true}\n",
        4,
        13,
        "projects[0].matrix",
        "update_published_results: true cannot be combined with input parameters",
    ),
    Case(
        "exclude key not in matrix",
        HEAD + "    matrix: {tier: [a]}\n    exclude: [{teir: a}]\n",
        5,
        22,
        "projects[0].exclude[0].teir",
        "'teir' is not a key of runs or matrix (did you mean 'tier'?)",
    ),
    Case(
        "exclude without matrix",
        HEAD + "    exclude: [{tier: a}]\n",
        4,
        14,
        "projects[0].exclude",
        "exclude needs runs or a matrix",
    ),
    Case(
        "include inside matrix",
        HEAD + "    matrix: {tier: [a], include: [{tier: b}]}\n",
        4,
        34,
        "projects[0].matrix.include",
        "write include beside matrix",
    ),
    Case(
        "date param clashes with matrix",
        HEAD + "    matrix: {d: [a]}\n    dates: {param: d, start: 2025-01-01, end: 2025-01-02}\n",
        5,
        20,
        "projects[0].dates.param",
        "'d' is also a matrix key",
    ),
    Case(
        "poll initial above max",
        HEAD + "    poll: {initial: 1m, max: 10s}\n",
        4,
        11,
        "projects[0].poll",
        "initial 60s is above max 10s",
    ),
    Case(
        "not a finite number",
        HEAD + "    params: {x: .nan}\n",
        4,
        17,
        "projects[0].params.x",
        "not a finite number",
    ),
    Case(
        "plan too large",
        HEAD + "    dates: {param: d, start: 1000-01-01, end: 9000-01-01}\n",
        3,
        5,
        "projects[0]",
        "a plan holds at most",
    ),
    Case(
        "single window error has no index",
        "version: 1\nlimits: {requests: {count: 1, per: soon}}\n" + HEAD[11:],
        2,
        36,
        "limits.requests.per",
        "'soon' is not a duration",
    ),
    Case(
        "duplicate key",
        HEAD + "    name: a\n    name: b\n",
        5,
        5,
        "projects[0].name",
        "duplicate key (first at line 4)",
    ),
    Case("invalid yaml", "version: 1\nprojects: [\n", 3, 1, "", "invalid YAML"),
    Case("not a mapping", "- 1\n- 2\n", 1, 1, "", "not a mapping (list)"),
    Case("empty file", "", 1, 1, "", "the manifest is empty"),
    Case("unsupported tag", HEAD + "    name: !secret x\n", 4, 11, "projects[0].name", "tag"),
    Case(
        "bad base url",
        "hex: {base_url: app.hex.tech}\n" + HEAD,
        1,
        17,
        "hex.base_url",
        "'app.hex.tech' is not an http(s) URL",
    ),
    Case(
        "bad notification type",
        HEAD + "    run: {notifications: [{type: SOMETIMES, includeSuccessScreenshot: false}]}\n",
        4,
        34,
        "projects[0].run.notifications[0].type",
        "'SOMETIMES' is not allowed",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_error_names_file_line_column_and_path(case: Case, write_manifest: WriteManifest) -> None:
    """The manifest fails with exactly one issue at the expected place with the expected text."""
    path = write_manifest(case.text)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    issues = caught.value.issues
    assert len(issues) == 1, str(caught.value)
    issue = issues[0]
    assert (issue.file, issue.line, issue.column, issue.path) == (
        str(path),
        case.line,
        case.column,
        case.path,
    )
    assert case.message in issue.message


def test_every_problem_is_reported_not_only_the_first(write_manifest: WriteManifest) -> None:
    """Three independent mistakes give three issues, in file order."""
    path = write_manifest(
        "version: 1\ndefaults: {timout: 5m}\nprojects:\n  - id: nope\n    max_in_flight: -1\n"
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    assert [issue.line for issue in caught.value.issues] == [2, 4, 5]


def test_error_text_lists_one_issue_per_line(write_manifest: WriteManifest) -> None:
    """str(error) is `file:line:col: path: message`, one line per issue."""
    path = write_manifest(HEAD + "    dates: {param: d, start: 2025-01-01, end: 2025-02-30}\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    assert str(caught.value) == (
        f"{path}:4:47: projects[0].dates.end: 2025-02-30 is not a date (write YYYY-MM-DD)"
    )


def test_missing_file_is_a_manifest_error(tmp_path: object) -> None:
    """A path that does not exist raises ManifestError, not OSError."""
    with pytest.raises(ManifestError, match="cannot read the file"):
        load_manifest("/nonexistent/manifest.yaml", env={})


def test_binary_junk_is_a_manifest_error(write_manifest: WriteManifest) -> None:
    """Bytes that are not UTF-8 raise ManifestError."""
    path = write_manifest("")
    path.write_bytes(b"\xff\xfe\x00junk\x80")
    with pytest.raises(ManifestError, match="not UTF-8"):
        load_manifest(path, env={})


def test_alias_bomb_is_refused(write_manifest: WriteManifest) -> None:
    """Nested aliases that expand to billions of values are refused quickly."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = write_manifest("\n".join(lines) + "\n")
    with pytest.raises(ManifestError, match="alias bomb"):
        load_manifest(path, env={})


def test_recursive_alias_is_refused(write_manifest: WriteManifest) -> None:
    """A node that contains itself through an alias is an error, not a hang."""
    path = write_manifest("version: 1\nprojects: &p [*p]\n")
    with pytest.raises(ManifestError):
        load_manifest(path, env={})


def test_all_excluded_project_fails_at_plan_time(write_manifest: WriteManifest) -> None:
    """A matrix whose every cell is excluded is an error naming the project."""
    from hexbatch.plan import build_plan

    path = write_manifest(HEAD + "    matrix: {tier: [a]}\n    exclude: [{tier: a}]\n")
    with pytest.raises(ManifestError) as caught:
        build_plan(load_manifest(path, env={}))
    issue = caught.value.issues[0]
    assert (issue.line, issue.path) == (3, "projects[0]")
    assert "expands to no runs" in issue.message
