"""Property tests: expansion counts, key stability and uniqueness, and loader robustness."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hexbatch.manifest import ManifestError, load_manifest
from hexbatch.plan import build_plan, matrix_combinations, run_key

KEYS = st.text(alphabet="abcdefgh_", min_size=1, max_size=6)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)
PROJECT_ID = "5a8591dd-4039-49df-9202-96385ba3eff8"
QUICK = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def matrices(draw: st.DrawFn) -> tuple[dict[str, list[str]], list[dict[str, str]], int]:
    """A matrix, some distinct full-combination excludes, and their count."""
    keys = draw(st.lists(KEYS, min_size=1, max_size=3, unique=True))
    matrix = {
        key: draw(
            st.lists(
                st.text("xyz0123", min_size=1, max_size=3), min_size=1, max_size=4, unique=True
            )
        )
        for key in keys
    }
    cells = [dict(zip(keys, values, strict=True)) for values in itertools.product(*matrix.values())]
    excluded = draw(st.lists(st.sampled_from(range(len(cells))), unique=True, max_size=len(cells)))
    return matrix, [cells[i] for i in excluded], len(excluded)


@QUICK
@given(matrices(), st.integers(0, 4))
def test_expansion_count_is_product_minus_excludes_plus_includes(
    drawn: tuple[dict[str, list[str]], list[dict[str, str]], int], new_includes: int
) -> None:
    """Cells = product of the value counts - excluded cells + includes that fit no cell."""
    matrix, exclude, excluded = drawn
    first = next(iter(matrix))
    # A value no matrix list holds, so each include fits no cell and becomes its own.
    include = [{first: f"new-{n}"} for n in range(new_includes)]
    cells = matrix_combinations(matrix, include, exclude)
    product = math.prod(len(values) for values in matrix.values())
    assert len(cells) == product - excluded + new_includes


@QUICK
@given(st.dictionaries(KEYS, JSON, max_size=5), st.randoms(use_true_random=False))
def test_key_ignores_dict_order(params: dict[str, Any], rng: random.Random) -> None:
    """Two dicts with the same items in any order give the same key."""
    items = list(params.items())
    rng.shuffle(items)
    assert run_key(PROJECT_ID, dict(items)) == run_key(PROJECT_ID, params)


@QUICK
@given(st.lists(st.dictionaries(KEYS, SCALARS, max_size=4), min_size=2, max_size=20))
def test_keys_are_unique_for_distinct_params(runs: list[dict[str, Any]]) -> None:
    """Different parameter sets (as JSON) never share a key."""
    import json

    distinct = {json.dumps(run, sort_keys=True): run for run in runs}
    keys = {run_key(PROJECT_ID, run) for run in distinct.values()}
    assert len(keys) == len(distinct)


def test_key_is_the_same_on_every_machine() -> None:
    """A key is a pure function of id and canonical params: pinned here as a golden value."""
    assert run_key(PROJECT_ID.upper(), {"run_date": "2025-01-01"}) == "c687738fedfa97ac3032"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file the robustness tests overwrite with each generated document."""
    return tmp_path_factory.mktemp("fuzz") / "manifest.yaml"


def _load_or_manifest_error(path: Path) -> None:
    """Load and plan ``path``; any exception other than ManifestError fails the test."""
    failure: ManifestError | None = None
    try:
        build_plan(load_manifest(path, env={"SET": "x"}))
    except ManifestError as error:
        failure = error
    if failure is not None:
        assert failure.issues
        assert all(issue.line >= 1 and issue.column >= 1 for issue in failure.issues)


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_manifest_error(scratch: Path, data: bytes) -> None:
    """Any bytes at all either load or raise ManifestError."""
    scratch.write_bytes(data)
    _load_or_manifest_error(scratch)


@FUZZ
@given(st.text(alphabet="{}[]:,-&*!|>'\"#%@`? \n\tabc01$", max_size=120))
def test_arbitrary_yaml_text_raises_only_manifest_error(scratch: Path, text: str) -> None:
    """YAML-ish punctuation soup either loads or raises ManifestError."""
    scratch.write_text(text, encoding="utf-8")
    _load_or_manifest_error(scratch)


PROJECT_KEYS = st.sampled_from(
    [
        "id",
        "name",
        "params",
        "runs",
        "matrix",
        "include",
        "exclude",
        "dates",
        "poll",
        "run",
        "retries",
        "timeout",
        "max_in_flight",
        "bogus",
    ]
)
VALUES = st.one_of(
    JSON,
    st.just(PROJECT_ID),
    st.just("${SET}"),
    st.just("${UNSET}"),
    st.just("2025-02-30"),
    st.just({"param": "d", "start": "2025-01-01", "end": "2025-01-03", "step": "1w"}),
    st.just({"a": [1, 2]}),
    st.just([{"a": 1}]),
    st.just("5m"),
)


@FUZZ
@given(
    st.lists(st.dictionaries(PROJECT_KEYS, VALUES, max_size=6), max_size=3),
    st.dictionaries(st.sampled_from(["version", "hex", "limits", "defaults", "simulate"]), VALUES),
)
def test_near_valid_manifests_raise_only_manifest_error(
    scratch: Path, projects: list[dict[str, Any]], top: dict[str, Any]
) -> None:
    """Manifests built from the right keys with random values load or raise ManifestError."""
    document = {"version": 1, **top, "projects": projects}
    scratch.write_text(yaml.safe_dump(document), encoding="utf-8")
    _load_or_manifest_error(scratch)
