"""Manifest values follow the YAML 1.2 core schema, not YAML 1.1 (the Norway case)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from hexbatch.cli.plan import plan, validate
from hexbatch.manifest import ManifestError
from hexbatch.manifest.yamlpos import load_yaml
from hexbatch.plan import build_plan
from tests.manifest.conftest import LoadText

NORWAY = """
version: 1
projects:
  - id: 11111111-1111-4111-8111-111111111111
    matrix:
      country: [US, NO, SE, ON, off]
      version: [1.10, 1.2]
"""


def _value(text: str) -> Any:
    return load_yaml(f"v: {text}\n", "f.yaml").data["v"]


@pytest.mark.parametrize(
    "text", ["NO", "no", "No", "ON", "on", "off", "OFF", "yes", "Yes", "YES", "y", "Y", "n", "N"]
)
def test_yaml_1_1_booleans_stay_text(text: str) -> None:
    """Words YAML 1.1 read as booleans are text under the core schema."""
    assert _value(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("tRUE", "tRUE"),
    ],
)
def test_only_core_spellings_are_booleans(text: str, expected: object) -> None:
    """true/True/TRUE and false/False/FALSE are booleans; other casings are text."""
    assert _value(text) is expected if isinstance(expected, bool) else _value(text) == expected


@pytest.mark.parametrize("text", ["null", "Null", "NULL", "~", ""])
def test_core_nulls(text: str) -> None:
    """null, Null, NULL, ~ and an empty value are null."""
    assert _value(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("-12", -12),
        ("+7", 7),
        ("0777", 777),  # decimal in YAML 1.2 (1.1 read it as octal 511)
        ("0o17", 15),
        ("0x1F", 31),
        ("1_000", "1_000"),
        ("1:20", "1:20"),
        ("0b101", "0b101"),
        ("0o8", "0o8"),
    ],
)
def test_core_integers(text: str, expected: object) -> None:
    """Integers are decimal, 0o octal or 0x hex; underscores and sexagesimal stay text."""
    value = _value(text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.5", 1.5), (".5", 0.5), ("1.", 1.0), ("-1e3", -1000.0), ("1.10", 1.1), ("1.2.3", "1.2.3")],
)
def test_core_floats(text: str, expected: object) -> None:
    """Floats follow the core regex; anything else is text."""
    value = _value(text)
    assert value == expected
    assert type(value) is type(expected)


def test_core_infinity_and_nan() -> None:
    """.inf, -.Inf and .NaN are the special floats; .infinity is text."""
    assert _value(".inf") == math.inf
    assert _value("-.Inf") == -math.inf
    assert math.isnan(_value(".NaN"))
    assert _value(".infinity") == ".infinity"


def test_timestamps_are_not_a_core_type() -> None:
    """An unquoted date or time stays the text written."""
    assert _value("2025-01-01") == "2025-01-01"
    assert _value("2025-01-01 10:00:00") == "2025-01-01 10:00:00"


def test_explicit_tag_follows_core_rules() -> None:
    """`!!bool yes` is not a boolean in YAML 1.2: a located error, not a guess."""
    document = load_yaml("a: 1\nv: !!bool yes\n", "f.yaml")
    assert [(issue.line, issue.path) for issue in document.value_issues] == [(2, "v")]
    assert "not a YAML 1.2 bool" in document.value_issues[0].message


def test_merge_keys_still_work_and_a_merge_value_is_text() -> None:
    """`<<:` merges as before; `<<` as a value is plain text."""
    document = load_yaml("base: &b {x: 1}\nm: {<<: *b, y: 2}\nv: <<\n", "f.yaml")
    assert document.data["m"] == {"x": 1, "y": 2}
    assert document.data["v"] == "<<"
    assert document.value_issues == ()


def test_unquoted_dates_still_work_in_date_ranges(load_text: LoadText) -> None:
    """dates.start/end written unquoted are dates; a date-like param stays its text."""
    manifest = load_text(
        """
        version: 1
        projects:
          - id: 11111111-1111-4111-8111-111111111111
            params: {as_of: 2025-01-01}
            dates: {param: d, start: 2025-01-01, end: 2025-01-02}
        """
    )
    project = manifest.projects[0]
    assert project.dates is not None
    assert (project.dates.start, project.dates.end) == (dt.date(2025, 1, 1), dt.date(2025, 1, 2))
    assert project.params == {"as_of": "2025-01-01"}


def test_yes_is_not_accepted_for_a_boolean_setting(load_text: LoadText) -> None:
    """A setting that needs true/false refuses `yes` (it is text now), naming the key."""
    with pytest.raises(ManifestError) as raised:
        load_text(
            """
            version: 1
            defaults: {run: {use_cached_sql_results: yes}}
            projects:
              - id: 11111111-1111-4111-8111-111111111111
            """
        )
    (issue,) = raised.value.issues
    assert issue.path == "defaults.run.use_cached_sql_results"
    assert "expected true or false, got 'yes'" in issue.message


def test_norway_runs_are_all_distinct(load_text: LoadText) -> None:
    """NO, ON and off stay country codes: 10 runs, none collapsed."""
    planned = build_plan(load_text(NORWAY))
    countries = [item.params["country"] for item in planned.items]
    assert countries == [c for c in ("US", "NO", "SE", "ON", "off") for _ in range(2)]
    assert not any("collapsed" in warning for warning in planned.warnings)


def test_rewritten_numbers_in_inputs_warn_to_quote(load_text: LoadText) -> None:
    """1.10 in a matrix (and 0123 in params) warn with their position and the quoted form."""
    manifest = load_text(
        """
        version: 1
        defaults: {timeout: 1.50}
        projects:
          - id: 11111111-1111-4111-8111-111111111111
            params: {zip: 0123, ok: 1.5, big: 10}
            matrix: {version: [1.10, 1.2]}
        """
    )
    warnings = build_plan(manifest).warnings
    file = manifest.source
    assert warnings == (
        f'{file}:5: projects[0].params.zip: 0123 is sent as the number 123; quote it ("0123")'
        " to send the text as written",
        f"{file}:6: projects[0].matrix.version[0]: 1.10 is sent as the number 1.1;"
        ' quote it ("1.10") to send the text as written',
    )


def test_norway_manifest_through_plan_json(tmp_path: Path) -> None:
    """`hexbatch plan --json` sends NO, ON and off as text and warns about 1.10."""
    path = tmp_path / "norway.yaml"
    path.write_text(NORWAY.lstrip(), encoding="utf-8")
    cli = click.Group(commands=[plan, validate])
    result = CliRunner().invoke(cli, ["plan", "--json", str(path)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    params = [run["params"] for run in document["runs"]]
    assert len(params) == 10
    assert {p["country"] for p in params} == {"US", "NO", "SE", "ON", "off"}
    assert {p["version"] for p in params} == {1.1, 1.2}
    assert len(document["warnings"]) == 1
    assert "1.10 is sent as the number 1.1" in result.stderr
    assert "collapsed" not in result.stderr
    validated = CliRunner().invoke(cli, ["validate", str(path)])
    assert validated.exit_code == 0
    assert "10 runs" in validated.stdout
