"""The live terminal view of a batch: overall progress, one row per project, failures, waits.

Drawn from a :class:`BatchView`; everything fits the console's width and, on a short
terminal, project and failure rows are capped with an "… and N more" line.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.text import Text

from hexbatch.engine.viewmodel import BatchView, FailedRun, ProjectRow, WaitReason
from hexbatch.status import REPORT_ORDER
from hexbatch.terminal import escape_control

_BAR_WIDTH = 16
_NAME_WIDTH = 20
_COUNTS_END = _NAME_WIDTH + 1 + 4 * 6 + 1
"""Where a project row's bar starts."""


def span(seconds: float) -> str:
    """A duration people read at a glance: ``42s``, ``3m05s``, ``2h10m``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def eta(view: BatchView) -> str:
    """Time left at the pace so far, or a dash when unknown or done."""
    done = view.finished_count
    if not done or done >= view.total:
        return "—"
    rate = done / max(view.elapsed, 1e-9)
    return span((view.total - done) / rate)


class _Painter:
    """Styles text unless the console is told not to colour (``NO_COLOR``)."""

    def __init__(self, plain: bool) -> None:
        self.plain = plain

    def __call__(self, text: str, style: str = "") -> Text:
        # Names, params and errors come from manifests, Hex and the state store: a
        # control character in them must not move the cursor or recolour the screen.
        return Text(
            escape_control(text),
            style="" if self.plain else style,
            no_wrap=True,
            overflow="ellipsis",
        )


def _line(*parts: Text) -> Text:
    """One screen line: never wrapped, cut with an ellipsis at the console's edge."""
    line = Text.assemble(*parts)
    line.no_wrap = True
    line.overflow = "ellipsis"
    return line


def _header(view: BatchView, paint: _Painter) -> list[Text]:
    title = "batch finished" if view.done else "batch running"
    lines = [
        _line(
            paint(f"{title}  ", "bold"),
            paint(f"{view.finished_count}/{view.total} finished", "bold"),
            paint(f"  elapsed {span(view.elapsed)}  eta {eta(view)}"),
        )
    ]
    # The outcomes that need attention come first, so a narrow terminal keeps them.
    counts = [
        paint(f"{'  ' if n else ''}{name} {view.finished[name]}", _style(name))
        for n, name in enumerate(name for name in REPORT_ORDER if view.finished[name])
    ]
    if counts:
        lines.append(_line(*counts))
    return lines


def _style(status: str) -> str:
    return {"COMPLETED": "green", "SKIPPED": "dim"}.get(status, "red")


def _bar(row: ProjectRow, width: int, paint: _Painter) -> Text:
    if not row.total or width < 4:
        return paint("")
    good = row.completed * width // row.total
    bad = row.failed * width // row.total
    if row.failed and not bad:
        bad = 1  # a failure stays visible however large the project
    good = min(good, width - bad)
    return Text.assemble(
        paint("█" * good, "green"),
        paint("█" * bad, "red"),
        paint("░" * (width - good - bad), "dim"),
    )


def _project_line(row: ProjectRow, bar_width: int, paint: _Painter) -> Text:
    name = row.name if len(row.name) <= _NAME_WIDTH else row.name[: _NAME_WIDTH - 1] + "…"
    counts = f"{row.completed:>5} {row.failed:>5} {row.live:>5} {row.waiting:>5}  "
    return _line(paint(f"{name:<{_NAME_WIDTH}} "), paint(counts), _bar(row, bar_width, paint))


def _failure_line(run: FailedRun, paint: _Painter) -> Text:
    params = f" [{run.params}]" if run.params else ""
    return _line(
        paint(f"  {run.status}", "red"),
        paint(f"  {run.project}{params}"),
        paint(f"  {run.error}" if run.error else ""),
    )


def _wait_line(wait: WaitReason, paint: _Painter) -> Text:
    left = f" (about {span(wait.seconds_left)} more)" if wait.seconds_left else ""
    return _line(paint(f"waiting: {wait.reason}{left}", "yellow"))


def _more(count: int, paint: _Painter) -> Text:
    return paint(f"  … and {count} more", "dim")


def _capped(lines: list[Text], room: int, total: int, paint: _Painter) -> list[Text]:
    """At most ``room`` of ``total`` items (``lines`` may hold fewer); the last line then
    says how many were left out."""
    if total <= room and len(lines) == total:
        return lines
    keep = min(len(lines), room - 1)
    return [*lines[: max(keep, 0)], _more(total - max(keep, 0), paint)]


def render_view(view: BatchView, console: Console) -> RenderableType:
    """The whole view, sized to ``console`` (its height caps the rows shown)."""
    paint = _Painter(plain=console.no_color)
    fixed = _header(view, paint)
    fixed.extend(_wait_line(wait, paint) for wait in view.waits)
    table_head = paint(
        f"{'project':<{_NAME_WIDTH}} {'done':>5} {'fail':>5} {'live':>5} {'wait':>5}", "bold"
    )
    bar_width = min(_BAR_WIDTH, console.width - _COUNTS_END)
    projects = [_project_line(row, bar_width, paint) for row in view.projects]
    # The latest failures first: they are the news.
    failures = [_failure_line(run, paint) for run in reversed(view.failures)]
    # One line spare: a Live display taller than the terminal scrolls instead of redrawing.
    room = max(console.height - 1 - len(fixed) - 1, 1)
    failure_room = 0
    if view.failed_count:
        room -= 1  # the "failed so far" heading
        failure_room = min(view.failed_count, max(room // 2, 1))
    project_room = max(room - failure_room, 1)
    lines = [*fixed, table_head, *_capped(projects, project_room, len(projects), paint)]
    if view.failed_count:
        lines.append(paint(f"failed so far: {view.failed_count}", "bold red"))
        lines.extend(_capped(failures, failure_room, view.failed_count, paint))
    return Group(*lines)
