"""Writing reports to disk: a directory with every format, and GitHub's step summary."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from hexbatch.errors import HexbatchError
from hexbatch.outcome import BatchReport
from hexbatch.report.formats import FORMATS, render
from hexbatch.report.markdown import render_markdown

FILE_NAMES: Final = {
    "json": "report.json",
    "md": "report.md",
    "junit": "junit.xml",
    "html": "report.html",
}
# GitHub rejects a step summary above 1 MiB; leave room for other writers in the same step.
STEP_SUMMARY_LIMIT: Final = 1024 * 1024
# Row caps tried in turn until the Markdown fits; None means every row.
_ROW_CAPS: Final = (None, 2000, 500, 100, 20, 0)


class ReportsNotWritten(HexbatchError, OSError):
    """Some formats could not be written; the others were.

    Attributes:
        written: the path of each format that was written.
        failed: why each format that was not written failed.
    """

    def __init__(self, written: dict[str, Path], failed: dict[str, str]) -> None:
        reasons = "; ".join(f"{fmt}: {why}" for fmt, why in failed.items())
        super().__init__(f"could not write {', '.join(failed)} ({reasons})")
        self.written = written
        self.failed = failed


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` then rename, so a reader never sees half a report."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise


def write_report_dir(report: BatchReport, directory: Path) -> dict[str, Path]:
    """Write every format into ``directory`` (created if missing); return the path per format.

    Each format is written on its own: one that fails (a directory in its way, a
    full disk) leaves no partial file behind and does not stop the others.

    Raises:
        ReportsNotWritten: after writing every format it could, naming those it could not.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    failed: dict[str, str] = {}
    for fmt in FORMATS:
        path = directory / FILE_NAMES[fmt]
        try:
            _write_atomically(path, render(report, fmt))
        except OSError as error:
            failed[fmt] = f"{path}: {error.strerror or error}"
            continue
        written[fmt] = path
    if failed:
        raise ReportsNotWritten(written, failed)
    return written


def fit_markdown(report: BatchReport, budget_bytes: int) -> str:
    """The fullest Markdown summary whose UTF-8 size stays within ``budget_bytes``.

    Long failure and retry tables are cut (with a note) until it fits; if even the
    bare summary is too big, it is returned anyway and GitHub will say so.
    """
    text = ""
    for cap in _ROW_CAPS:
        text = render_markdown(report, max_rows=cap)
        if len(text.encode("utf-8")) <= budget_bytes:
            return text
    return text


def write_github_step_summary(
    report: BatchReport, env: Mapping[str, str] = os.environ
) -> Path | None:
    """Append the Markdown summary to ``$GITHUB_STEP_SUMMARY`` when it is set.

    Returns the file written, or None outside GitHub Actions. The text is cut to
    keep the file under GitHub's 1 MiB limit, counting what earlier writers left.
    """
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    already = path.stat().st_size if path.exists() else 0
    text = fit_markdown(report, STEP_SUMMARY_LIMIT - already - 1)
    with path.open("a", encoding="utf-8") as summary:
        if already:
            summary.write("\n")
        summary.write(text)
    return path
