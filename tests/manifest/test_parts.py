"""Durations, date steps, ${VAR} expansion and positioned YAML loading."""

from __future__ import annotations

import pytest

from hexbatch.manifest.durations import DateStep, parse_date_step, parse_duration
from hexbatch.manifest.envsubst import expand_env
from hexbatch.manifest.errors import format_path
from hexbatch.manifest.yamlpos import LoadFailed, ScalarProblem, load_yaml


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("2s", 2.0), ("5m", 300.0), ("1h", 3600.0), ("1h30m", 5400.0), (1.5, 1.5)],
)
def test_durations_parse_to_seconds(text: str | float, seconds: float) -> None:
    """Each documented duration form gives the expected number of seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "", "1y", True, -1, [1]])
def test_bad_durations_are_value_errors(text: object) -> None:
    """Anything else is refused with a ValueError naming a valid form."""
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("1d", DateStep(1, "day")),
        ("2w", DateStep(2, "week")),
        ("3mo", DateStep(3, "month")),
        (7, DateStep(7, "day")),
    ],
)
def test_date_steps_parse(text: str | int, step: DateStep) -> None:
    """Steps in days, weeks and months parse to a DateStep."""
    assert parse_date_step(text) == step


def test_env_default_applies_when_empty() -> None:
    """Like the shell, ${VAR:-x} uses x when VAR is set but empty."""
    assert expand_env("${A:-x}", {"A": ""}) == "x"


def test_env_without_default_keeps_an_empty_value() -> None:
    """${VAR} expands an empty but set variable to the empty string."""
    assert expand_env("a${A}b", {"A": ""}) == "ab"


def test_env_unset_raises_scalar_problem() -> None:
    """An unset variable without a default is a ScalarProblem naming it."""
    with pytest.raises(ScalarProblem, match="B is not set"):
        expand_env("${B}", {})


def test_yaml_position_points_at_nested_values() -> None:
    """position() gives 1-based line and column of the value at a path."""
    document = load_yaml("a:\n  b: [x, {c: 1}]\n", "f.yaml")
    assert document.position(("a", "b", 1, "c")) == (2, 14)


def test_yaml_merge_keys_work_and_explicit_keys_win() -> None:
    """`<<: *base` merges a mapping; keys written beside it take precedence."""
    document = load_yaml("base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n", "f.yaml")
    assert document.data["use"] == {"x": 1, "y": 3}


def test_yaml_syntax_error_has_a_position() -> None:
    """A YAML syntax error is reported at its line."""
    with pytest.raises(LoadFailed) as caught:
        load_yaml("x: 1\ny: a: b\n", "f.yaml")
    assert caught.value.issues[0].line == 2


def test_format_path_quotes_unusual_keys() -> None:
    """Keys that are not identifiers are written in brackets."""
    assert format_path(("projects", 0, "params", "my key")) == "projects[0].params['my key']"
