"""The file formats a report can be rendered in, and one entry point to pick among them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from hexbatch.outcome import BatchReport
from hexbatch.report.html import render_html
from hexbatch.report.junit import render_junit
from hexbatch.report.markdown import render_markdown

FORMATS: Final = ("json", "md", "html", "junit")


def render_json(report: BatchReport) -> str:
    """The ``hexbatch.report/1`` contract as indented JSON (the source of truth)."""
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"


def _markdown(report: BatchReport) -> str:
    """Markdown with every row (the signature the dispatch table expects)."""
    return render_markdown(report)


RENDERERS: Final[dict[str, Callable[[BatchReport], str]]] = {
    "json": render_json,
    "md": _markdown,
    "html": render_html,
    "junit": render_junit,
}


def render(report: BatchReport, fmt: str) -> str:
    """Render ``report`` in one of :data:`FORMATS`; any other name is a ValueError."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        known = ", ".join(FORMATS)
        raise ValueError(f"unknown report format {fmt!r}: choose one of {known}") from None
    return renderer(report)
