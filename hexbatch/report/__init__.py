"""Reports drawn from one batch's outcome records: JSON, Markdown, JUnit, HTML and console.

The ``hexbatch.report/1`` JSON (:func:`render_json`) is the source of truth; the
other formats are views of the same :class:`~hexbatch.outcome.BatchReport`.
"""

from __future__ import annotations

from hexbatch.report.console import render_console
from hexbatch.report.formats import FORMATS, render, render_json
from hexbatch.report.html import render_html
from hexbatch.report.junit import render_junit
from hexbatch.report.markdown import render_markdown
from hexbatch.report.writer import write_github_step_summary, write_report_dir

__all__ = [
    "FORMATS",
    "render",
    "render_console",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "write_github_step_summary",
    "write_report_dir",
]
