"""Nested ``${A:-${B:-x}}`` defaults expand like the shell; unset variables are located errors."""

from __future__ import annotations

import pytest

from hexbatch.manifest import ManifestError
from hexbatch.manifest.envsubst import expand_env
from hexbatch.manifest.yamlpos import ScalarProblem
from tests.manifest.conftest import LoadText

ENV_MANIFEST = """
version: 1
projects:
  - id: 11111111-1111-4111-8111-111111111111
    name: "${PNAME:-${OTHER}}"
    params:
      a: "${UNSET_A:-${UNSET_B:-x}}"
      b: "$${LITERAL}"
      c: "${EMPTY:-}"
      d: "${NAME:-def}"
    timeout: 0s
"""


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A:-${B:-x}}", {}, "x"),
        ("${A:-${B:-x}}", {"B": "b"}, "b"),
        ("${A:-${B:-x}}", {"A": "a", "B": "b"}, "a"),
        ("${A:-${B:-x}}", {"A": "", "B": ""}, "x"),
        ("pre-${A:-${B:-${C:-deep}}}-post", {}, "pre-deep-post"),
        ("${A:-in ${B:-x} and ${C:-y}!}", {"C": "c"}, "in x and c!"),
        ("${A:-$${B}}", {}, "${B}"),
        ("${A:-}", {}, ""),
        ("${A:-x}}", {}, "x}"),
        ("a } b", {}, "a } b"),
        ("cost $5", {}, "cost $5"),
    ],
)
def test_nested_defaults_expand_like_the_shell(
    text: str, env: dict[str, str], expected: str
) -> None:
    """The inner default is expanded, recursively, only when the outer one is unset or empty."""
    assert expand_env(text, env) == expected


def test_a_used_default_needs_its_variables() -> None:
    """${A:-${B}} with A and B unset names B."""
    with pytest.raises(ScalarProblem, match="environment variable B is not set"):
        expand_env("${A:-${B}}", {})


def test_an_unused_default_does_not_need_its_variables() -> None:
    """${A:-${B}} with A set does not look at B, as in the shell."""
    assert expand_env("${A:-${B}}", {"A": "a"}) == "a"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${A:-${B}", "is not closed"),
        ("${A", "is not a variable reference"),
        ("${A:-${1X}}", "${1X} is not a variable reference"),
        ("${A:-${B-x}}", "is not a variable reference"),
        ("${}", "${} is not a variable reference"),
    ],
)
def test_malformed_references_are_errors(text: str, message: str) -> None:
    """Broken syntax anywhere in the chain is refused, even in a default that is not used."""
    with pytest.raises(ScalarProblem, match=message.replace("$", r"\$").replace("{", r"\{")):
        expand_env(text, {"A": "set"})


def test_unset_variables_are_listed_with_the_other_errors(load_text: LoadText) -> None:
    """The env.yaml case: OTHER is unset, named at its file, line and key beside other errors."""
    with pytest.raises(ManifestError) as raised:
        load_text(ENV_MANIFEST)
    located = [(issue.line, issue.path, issue.message) for issue in raised.value.issues]
    assert located == [
        (
            4,
            "projects[0].name",
            "environment variable OTHER is not set (export it, or write ${OTHER:-default})",
        ),
        (10, "projects[0].timeout", "must be longer than zero"),
    ]
    assert all(issue.file.endswith("manifest.yaml") for issue in raised.value.issues)


def test_unset_variable_is_listed_with_cross_key_errors(load_text: LoadText) -> None:
    """An unset variable and a rule spanning several keys are reported together."""
    with pytest.raises(ManifestError) as raised:
        load_text(
            """
            version: 1
            projects:
              - id: 11111111-1111-4111-8111-111111111111
                params: {a: "${A:-${B}}"}
                dates: {param: d, start: 2025-02-01, end: 2025-01-01}
            """
        )
    assert [(issue.line, issue.path) for issue in raised.value.issues] == [
        (4, "projects[0].params.a"),
        (5, "projects[0].dates.end"),
    ]


def test_env_manifest_expands_when_the_chain_is_set(load_text: LoadText) -> None:
    """With OTHER set the env.yaml project gets its name and nested defaults."""
    manifest = load_text(ENV_MANIFEST.replace("    timeout: 0s\n", ""), env={"OTHER": "o"})
    project = manifest.projects[0]
    assert project.name == "o"
    assert project.params == {"a": "x", "b": "${LITERAL}", "c": "", "d": "def"}
