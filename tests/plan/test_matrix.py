"""Matrix, include/exclude and date expansion semantics."""

from __future__ import annotations

import datetime as dt

from hexbatch.manifest import DateRange, DateStep
from hexbatch.plan import date_values, matrix_combinations


def test_product_follows_declaration_order() -> None:
    """The first key varies slowest, like GitHub Actions."""
    cells = matrix_combinations({"os": ["a", "b"], "py": [1, 2]})
    assert cells == [
        {"os": "a", "py": 1},
        {"os": "a", "py": 2},
        {"os": "b", "py": 1},
        {"os": "b", "py": 2},
    ]


def test_exclude_drops_on_partial_match() -> None:
    """An exclude naming one key drops every cell with that value."""
    cells = matrix_combinations({"os": ["a", "b"], "py": [1, 2]}, exclude=[{"py": 1}])
    assert cells == [{"os": "a", "py": 2}, {"os": "b", "py": 2}]


def test_exclude_does_not_confuse_true_with_one() -> None:
    """Values compare as JSON: 1 and true are different matrix values."""
    cells = matrix_combinations({"flag": [True, 1]}, exclude=[{"flag": 1}])
    assert cells == [{"flag": True}]


def test_include_extends_cells_it_does_not_contradict() -> None:
    """An include adds its extra keys to every cell matching its original-key values."""
    cells = matrix_combinations({"os": ["a", "b"]}, include=[{"os": "b", "extra": "x"}])
    assert cells == [{"os": "a"}, {"os": "b", "extra": "x"}]


def test_include_that_fits_no_cell_becomes_a_new_one() -> None:
    """An include contradicting every cell is appended as its own combination."""
    cells = matrix_combinations({"os": ["a"]}, include=[{"os": "z", "extra": 1}])
    assert cells == [{"os": "a"}, {"os": "z", "extra": 1}]


def test_later_include_overwrites_added_keys_only() -> None:
    """A later include may change a key an earlier include added."""
    cells = matrix_combinations(
        {"os": ["a"]}, include=[{"color": "red"}, {"os": "a", "color": "blue"}]
    )
    assert cells == [{"os": "a", "color": "blue"}]


def test_include_can_restore_an_excluded_cell() -> None:
    """Includes are processed after excludes, so an excluded cell can come back."""
    cells = matrix_combinations({"os": ["a", "b"]}, include=[{"os": "b"}], exclude=[{"os": "b"}])
    assert cells == [{"os": "a"}, {"os": "b"}]


def test_include_without_matrix_lists_the_cells() -> None:
    """Without a matrix, each include entry is one combination."""
    assert matrix_combinations(None, include=[{"a": 1}, {"a": 2}]) == [{"a": 1}, {"a": 2}]


def _dates(start: str, end: str, step: DateStep, fmt: str = "%Y-%m-%d") -> list[str]:
    return date_values(
        DateRange("d", dt.date.fromisoformat(start), dt.date.fromisoformat(end), step, fmt)
    )


def test_date_range_includes_the_end() -> None:
    """Daily ranges include both start and end."""
    assert _dates("2025-01-30", "2025-02-01", DateStep(1, "day")) == [
        "2025-01-30",
        "2025-01-31",
        "2025-02-01",
    ]


def test_week_steps_skip_seven_days() -> None:
    """A 2w step yields every other week and stops before passing the end."""
    assert _dates("2025-01-01", "2025-02-01", DateStep(2, "week")) == [
        "2025-01-01",
        "2025-01-15",
        "2025-01-29",
    ]


def test_month_steps_clamp_to_month_end_without_drifting() -> None:
    """Month steps from the 31st clamp short months but return to the 31st."""
    assert _dates("2024-01-31", "2024-04-30", DateStep(1, "month")) == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
        "2024-04-30",
    ]


def test_dates_render_with_the_given_format() -> None:
    """The strftime format decides the parameter's text."""
    assert _dates("2025-03-01", "2025-03-02", DateStep(1, "day"), "%d/%m/%Y") == [
        "01/03/2025",
        "02/03/2025",
    ]
