"""Writing reports: the report directory, format dispatch and GitHub's step summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hexbatch.report import FORMATS, render, render_json, write_github_step_summary
from hexbatch.report.writer import fit_markdown, write_report_dir
from tests.report.builders import large_report, small_report


def test_report_dir_holds_every_format(tmp_path: Path) -> None:
    """One call writes report.json, report.md, junit.xml and report.html."""
    written = write_report_dir(small_report(), tmp_path / "out")

    assert set(written) == set(FORMATS)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "junit.xml",
        "report.html",
        "report.json",
        "report.md",
    ]


def test_report_json_is_the_contract(tmp_path: Path) -> None:
    """report.json is exactly BatchReport.to_json()."""
    report = small_report()

    written = write_report_dir(report, tmp_path)

    assert json.loads(written["json"].read_text(encoding="utf-8")) == report.to_json()


def test_render_json_is_indented_contract_json() -> None:
    """render_json is pretty JSON of the contract."""
    text = render_json(small_report())

    assert text.startswith('{\n  "schema": "hexbatch.report/1"')


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_dispatches_by_format_name(fmt: str) -> None:
    """Each format name renders a non-empty document."""
    assert render(small_report(), fmt).strip()


def test_render_rejects_an_unknown_format() -> None:
    """An unknown format name is a ValueError that lists the known ones."""
    with pytest.raises(ValueError, match="json, md, html, junit"):
        render(small_report(), "pdf")


def test_step_summary_is_skipped_outside_github(tmp_path: Path) -> None:
    """Without GITHUB_STEP_SUMMARY nothing is written."""
    assert write_github_step_summary(small_report(), env={}) is None


def test_step_summary_is_appended(tmp_path: Path) -> None:
    """The Markdown is appended after what earlier steps wrote."""
    target = tmp_path / "summary.md"
    target.write_text("earlier\n", encoding="utf-8")

    assert write_github_step_summary(small_report(), env={"GITHUB_STEP_SUMMARY": str(target)})

    text = target.read_text(encoding="utf-8")
    assert text.startswith("earlier\n\n# hexbatch: ❌ failed")


def test_step_summary_stays_under_githubs_limit(tmp_path: Path) -> None:
    """A summary that would push the file past 1 MiB is cut to fit, with a note."""
    report = large_report(400, hostile=False)
    target = tmp_path / "summary.md"
    # Earlier steps left little room: the full summary no longer fits, a cut one does.
    target.write_text("x" * (1024 * 1024 - 6000), encoding="utf-8")

    write_github_step_summary(report, env={"GITHUB_STEP_SUMMARY": str(target)})

    assert target.stat().st_size <= 1024 * 1024
    assert "more not shown here" in target.read_text(encoding="utf-8")


def test_fit_markdown_keeps_every_row_when_it_fits() -> None:
    """A summary under the budget is not cut."""
    assert "not shown here" not in fit_markdown(small_report(), 1024 * 1024)


def test_one_format_failing_does_not_stop_the_others(tmp_path: Path) -> None:
    """A directory in the way of report.json: the other formats are written, no partial file
    is left behind, and the failure names the format."""
    from hexbatch.report.writer import ReportsNotWritten

    (tmp_path / "report.json").mkdir()
    with pytest.raises(ReportsNotWritten) as failed:
        write_report_dir(small_report(), tmp_path)
    assert set(failed.value.failed) == {"json"}
    assert set(failed.value.written) == {"md", "html", "junit"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "junit.xml",
        "report.html",
        "report.json",
        "report.md",
    ]
    assert "json" in str(failed.value)
