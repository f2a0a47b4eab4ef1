"""``${VAR}`` and ``${VAR:-default}`` expansion in manifest string values.

Only string values are expanded (never keys), so a manifest can take its
region, date range or base URL from the environment while its structure stays
fixed. ``$${`` writes a literal ``${``. An unset variable without a default is
an error located at the value, instead of silently becoming an empty string.

Defaults nest like the shell's: ``${A:-${B:-x}}`` is A if set and not empty,
else B if set and not empty, else ``x``. A default is only looked at when it is
used, so ``${A:-${B}}`` with A set does not need B; when it is used, every
variable in it without a default of its own must be set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hexbatch.manifest.yamlpos import ScalarProblem

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HINT = "write ${NAME} or ${NAME:-default}; $${ for a literal ${"


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """Expand every ``${VAR}`` / ``${VAR:-default}`` in ``text``; raise ScalarProblem if unset."""
    if "$" not in text:  # the common case, kept cheap for manifests with many values
        return text
    expanded, _ = _Expansion(text, env).run(0, inside=False, needed=True)
    return expanded


class _Expansion:
    """A recursive-descent reading of one string: text, ``$${`` and ``${...}`` references."""

    def __init__(self, text: str, env: Mapping[str, str]) -> None:
        self.text = text
        self.env = env

    def run(self, position: int, *, inside: bool, needed: bool) -> tuple[str, int]:
        """Expand from ``position``; inside a default, stop after its closing brace.

        ``needed`` is false while reading a default that is not used: its syntax
        is still checked, but its unset variables are not errors.
        """
        text = self.text
        parts: list[str] = []
        start = position
        while position < len(text):
            if text.startswith("$${", position):
                parts.append(text[start:position] + "${")
                position = start = position + 3
            elif text.startswith("${", position):
                parts.append(text[start:position])
                value, position = self.reference(position, needed=needed)
                parts.append(value)
                start = position
            elif inside and text[position] == "}":
                parts.append(text[start:position])
                return "".join(parts), position + 1
            else:
                position += 1
        if inside:
            raise ScalarProblem(f"a ${{ is not closed with }} ({_HINT})")
        parts.append(text[start:])
        return "".join(parts), position

    def reference(self, position: int, *, needed: bool) -> tuple[str, int]:
        """Expand the ``${...}`` starting at ``position``; return its value and where it ends."""
        text = self.text
        name_match = _NAME.match(text, position + 2)
        after = name_match.end() if name_match else position + 2
        if name_match is None or not text.startswith(("}", ":-"), after):
            closing = text.find("}", position)
            shown = text[position : closing + 1] if closing >= 0 else text[position:]
            raise ScalarProblem(f"{shown} is not a variable reference ({_HINT})")
        name = name_match.group(0)
        value = self.env.get(name)
        if text.startswith("}", after):
            if value is None and needed:
                raise ScalarProblem(
                    f"environment variable {name} is not set"
                    f" (export it, or write ${{{name}:-default}})"
                )
            return value or "", after + 1
        # Like the shell: an unset or empty variable takes the default.
        default, end = self.run(after + 2, inside=True, needed=needed and not value)
        return (value if value else default), end
