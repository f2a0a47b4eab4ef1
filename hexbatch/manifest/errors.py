"""The one error type a manifest raises, listing every problem found with its position."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hexbatch.errors import HexbatchError

PathPart = str | int
KeyPath = tuple[PathPart, ...]


def format_path(path: Sequence[PathPart]) -> str:
    """Render a key path the way users write it: ``projects[2].dates.end``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier() or part.replace("-", "_").isidentifier():
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True, slots=True)
class ManifestIssue:
    """One problem in a manifest: where it is (file, 1-based line and column, key path) and what."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ManifestError(HexbatchError):
    """A manifest could not be read, parsed or validated; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ManifestIssue]) -> None:
        self.issues: list[ManifestIssue] = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)
