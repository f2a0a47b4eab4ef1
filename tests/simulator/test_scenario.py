"""Scenario loading and validation: clear errors naming file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from hexbatch.simulator import Scenario, ScenarioError, load_scenario
from hexbatch.simulator import scenario as scenario_module
from hexbatch.simulator.demo import DEMO_SCENARIO
from hexbatch.simulator.scenario import (
    MAX_EXPANDED_NODES,
    SpanRange,
    expanded_size,
    parse_duration,
)

REPO = Path(__file__).resolve().parents[2]
DEMO_FILE = REPO / "configs" / "demo-scenario.yaml"
PROJECT = "  - id: 5a8591dd-4039-49df-9202-96385ba3eff8\n    title: X\n"
HEAD = "tokens:\n  - value: t\nprojects:\n" + PROJECT


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("seed: 1\n", None, "tokens"),
        (HEAD + "    duration: {min: 5, max: 2}\n", 6, "projects.0.duration"),
        (HEAD + "    pending: soon\n", 6, "projects.0.pending"),
        (HEAD + "    colour: red\n", 6, "projects.0.colour"),
        (HEAD + "    outcome: {default: DONE}\n", 6, "projects.0.outcome.default"),
        ("tokens:\n  - value: t\nprojects:\n  - id: nope\n    title: X\n", 4, "projects.0.id"),
        (HEAD + "time_scale: 0\n", 6, "time_scale"),
        (HEAD + "limits:\n  kernel_limit: 0\n", 7, "limits.kernel_limit"),
        (HEAD + "limits:\n  requests: {count: 5}\n", 7, "limits.requests.0.per"),
        (HEAD + "faults:\n  - {operation: RunProject, kind: error}\n", 7, "faults.0"),
        (
            HEAD + "faults:\n  - {operation: Nope, kind: error, every_nth: 1}\n",
            7,
            "faults.0.operation",
        ),
        (HEAD + "behaviour:\n  list_runs: some\n", 7, "behaviour.list_runs"),
        (
            HEAD + "    schedules:\n      - {trigger: SCHEDULED, every: 0}\n",
            7,
            "projects.0.schedules.0.every",
        ),
        (
            HEAD + "faults:\n  - {operation: RunProject, kind: not_found, every_nth: 1}\n",
            7,
            "GetRunStatus only",
        ),
        (
            HEAD + "faults:\n  - {operation: GetProjectRuns, kind: list_lag, every_nth: 1}\n",
            7,
            "needs a delay",
        ),
        ("tokens:\n  - value: t\n  - value: t\n", None, "tokens must be unique"),
    ],
)
def test_bad_scenarios_name_file_line_and_key(
    tmp_path: Path, text: str, line: int | None, key: str
) -> None:
    """Each invalid scenario raises ScenarioError naming the file, the line and the key."""
    path = tmp_path / "bad-scenario.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    message = str(caught.value)
    assert key in message
    assert str(path) in message
    if line is not None:
        assert f"{path}:{line}:" in message


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    """A scenario file that does not exist is reported as a ScenarioError."""
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.yaml")


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    """YAML syntax errors name the line where parsing failed."""
    path = tmp_path / "broken.yaml"
    path.write_text("tokens:\n  - value: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken\.yaml:\d+: not valid YAML"):
        load_scenario(path)


def test_top_level_must_be_a_mapping() -> None:
    """A scenario that is not a mapping is refused."""
    with pytest.raises(ScenarioError, match="must be a mapping"):
        Scenario.from_mapping([1, 2], source="inline-list")


def test_inline_mapping_names_its_source() -> None:
    """Errors from an inline mapping name the given source."""
    with pytest.raises(ScenarioError, match=r"manifest\.yaml#simulate: tokens"):
        Scenario.from_mapping({}, source="manifest.yaml#simulate")


def test_scenario_error_is_a_value_error() -> None:
    """ScenarioError can be caught as ValueError."""
    assert issubclass(ScenarioError, ValueError)


@pytest.mark.parametrize(
    ("text", "seconds"), [("250ms", 0.25), ("2s", 2.0), ("5m", 300.0), ("1h", 3600.0), (7, 7.0)]
)
def test_durations_accept_units(text: str | int, seconds: float) -> None:
    """Durations are numbers of seconds or strings with ms, s, m or h."""
    assert parse_duration(text) == seconds


def test_unquoted_yaml_dates_match_string_params(tmp_path: Path) -> None:
    """An unquoted date in a rule compares equal to the string a client sends."""
    path = tmp_path / "dates.yaml"
    path.write_text(
        HEAD + "    outcome:\n      rules: [{when: {run_date: 2025-01-09}, status: ERRORED}]\n",
        encoding="utf-8",
    )
    rule = load_scenario(path).projects[0].outcome.rules[0]

    assert rule.when == {"run_date": "2025-01-09"}


def test_the_documented_example_is_a_valid_scenario() -> None:
    """The example in the scenario module's docstring loads, every documented key in it."""
    doc = scenario_module.__doc__ or ""
    example = textwrap.dedent(doc.split("Example::", 1)[1])
    scenario = Scenario.from_mapping(yaml.safe_load(example), source="docstring")
    [project] = scenario.projects

    assert [schedule.trigger for schedule in project.schedules] == ["SCHEDULED"]
    assert [entry.version for entry in project.republish] == [None, 9]
    assert scenario.behaviour.list_runs == "filtered"
    assert len(scenario.limits.requests) == 2


def test_demo_file_matches_builtin_demo() -> None:
    """configs/demo-scenario.yaml and the built-in demo scenario are the same."""
    from_file = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))

    assert load_scenario(DEMO_FILE).model_dump() == Scenario.default().model_dump()
    assert from_file == DEMO_SCENARIO


def test_demo_declares_the_manifest_projects() -> None:
    """The demo has the three published projects of the demo manifest and one draft."""
    demo = Scenario.default()
    published = {p.title: p for p in demo.projects if p.published}

    assert set(published) == {"Daily revenue", "Pricing model sweep", "Executive dashboard"}
    assert [p.title for p in demo.projects if not p.published] == ["Draft analysis"]
    assert published["Daily revenue"].id == "5a8591dd-4039-49df-9202-96385ba3eff8"
    assert published["Pricing model sweep"].id == "0b7c3f52-9d1e-4c8a-a6f4-2e5d8c1b9a70"
    assert published["Executive dashboard"].id == "9e2d4a61-3f7b-4b0c-8d5e-7a1c6f2b3e84"
    assert published["Daily revenue"].duration == SpanRange(min=20, max=90)
    assert published["Pricing model sweep"].duration == SpanRange(min=30, max=120)
    assert published["Executive dashboard"].duration == 60


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*-scenario.yaml")))
def test_every_scenario_in_configs_validates(path: Path) -> None:
    """Every scenario file shipped under configs/ loads."""
    assert load_scenario(path).tokens


def test_run_token_skips_read_only_tokens() -> None:
    """The token handed out for runs is one that may run projects."""
    scenario = Scenario.from_mapping(
        {"tokens": [{"value": "r", "read_only": True}, {"value": "w"}]}
    )

    assert scenario.run_token.value == "w"


def test_scenario_without_run_token_cannot_hand_one_out() -> None:
    """A scenario whose tokens are all read-only has no run token."""
    scenario = Scenario.from_mapping({"tokens": [{"value": "r", "read_only": True}]})
    with pytest.raises(ScenarioError, match="read_only"):
        _ = scenario.run_token


def test_range_errors_skip_the_fixed_number_branch(tmp_path: Path) -> None:
    """A bad {min, max} range is reported once, without a "valid number" complaint."""
    path = tmp_path / "range.yaml"
    path.write_text(HEAD + "    duration: {min: 5, max: 2}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert str(caught.value).count("\n") == 0
    assert "max must not be below min" in str(caught.value)


def _bomb(levels: int) -> str:
    """A scenario whose aliases expand to 9**levels strings in a few hundred bytes."""
    lines = ["seed: 1", "tokens:", "  - {value: hxtp_x_token, name: t}"]
    lines.append('x0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]')
    lines.extend(
        f"x{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]"
        for level in range(1, levels)
    )
    return "\n".join(lines) + "\n"


def test_a_scenario_alias_bomb_is_refused_before_anything_expands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alias bomb is refused with a ScenarioError naming the file; no value is expanded."""
    path = tmp_path / "bomb-scn.yaml"
    path.write_text(_bomb(12), encoding="utf-8")  # 9**12 values: expanding would never end

    def expanded(*_: object) -> None:
        raise AssertionError("the aliases were expanded")

    monkeypatch.setattr(scenario_module, "_plain", expanded)
    monkeypatch.setattr(scenario_module, "_index_lines", expanded)
    with pytest.raises(ScenarioError, match="through YAML aliases") as caught:
        load_scenario(path)

    assert str(caught.value).startswith(f"{path}: ")


def test_expanded_size_counts_every_alias_once_per_use() -> None:
    """The measure counts the nodes an expansion would build, without building them."""
    root = yaml.compose("a: &x [1, 2]\nb: [*x, *x]\n")
    bomb = yaml.compose(_bomb(7))
    assert root is not None
    assert bomb is not None

    # mapping 1 + keys a, b 2 + [1, 2] 3 + the outer list 1 + two uses of [1, 2] 6
    assert expanded_size(root) == 13
    assert expanded_size(bomb) == MAX_EXPANDED_NODES + 1


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    """An alias inside its own anchor is a ScenarioError naming file and line."""
    path = tmp_path / "loop.yaml"
    path.write_text("seed: 1\ntokens: &t [*t]\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="refers to itself") as caught:
        load_scenario(path)

    assert str(caught.value).startswith(f"{path}:2: ")


def test_a_scenario_with_a_few_anchors_still_loads(tmp_path: Path) -> None:
    """Anchors, aliases and merge keys in an ordinary scenario keep working."""
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "tokens:\n  - &runner {value: t, user: u@example.com}\n"
        "projects:\n"
        "  - &first\n"
        "    id: 5a8591dd-4039-49df-9202-96385ba3eff8\n"
        "    title: A\n"
        "    pending: 1s\n"
        "    duration: &span {min: 5, max: 9}\n"
        "  - {<<: *first, id: 11111111-2222-4333-8444-555555555555, title: B, pending: 2}\n"
        "preexisting_runs:\n"
        "  - {project: 5a8591dd-4039-49df-9202-96385ba3eff8, token: t}\n",
        encoding="utf-8",
    )
    scenario = load_scenario(path)

    first, second = scenario.projects
    assert (second.title, second.pending, second.duration) == ("B", 2.0, first.duration)
    assert first.duration == SpanRange(min=5, max=9)
    assert scenario.tokens[0].user == "u@example.com"
