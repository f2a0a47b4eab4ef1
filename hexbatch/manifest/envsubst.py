"""``${VAR}`` and ``${VAR:-default}`` expansion in manifest string values.

Only string values are expanded (never keys), so a manifest can take its
region, date range or base URL from the environment while its structure stays
fixed. ``$${`` writes a literal ``${``. An unset variable without a default is
an error located at the value, instead of silently becoming an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hexbatch.manifest.yamlpos import ScalarProblem

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """Expand every ``${VAR}`` / ``${VAR:-default}`` in ``text``; raise ScalarProblem if unset."""
    if "$" not in text:  # the common case, kept cheap for manifests with many values
        return text

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        body = match.group(1)
        name, has_default, default = body.partition(":-")
        if not _NAME.fullmatch(name):
            raise ScalarProblem(
                f"${{{body}}} is not a variable reference (write ${{NAME}} or ${{NAME:-default}})"
            )
        value = env.get(name)
        if has_default and not value:  # like the shell: unset or empty takes the default
            return default
        if value is None:
            raise ScalarProblem(
                f"environment variable {name} is not set (export it, or write ${{{name}:-default}})"
            )
        return value

    return _REFERENCE.sub(replace, text)
