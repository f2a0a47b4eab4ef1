"""Safe YAML loading that remembers where every value came from.

The document is composed into PyYAML's node tree (which carries line and column
marks) and turned into plain Python data. Plain scalars are typed by the YAML 1.2
core schema, not PyYAML's YAML 1.1 rules, so that a country code ``NO`` stays the
text ``"NO"`` instead of becoming ``false``:

* only ``true``/``True``/``TRUE`` and ``false``/``False``/``FALSE`` are booleans
  (``yes``, ``no``, ``on``, ``off``, ``y``, ``n`` are text);
* ``null``/``Null``/``NULL``/``~`` and an empty value are null;
* integers are decimal (``0777`` is 777), ``0o`` octal or ``0x`` hexadecimal;
  ``1_000`` and ``1:20`` are text;
* floats are ``1.5``, ``.5``, ``1e3``, ``.inf``, ``-.inf``, ``.nan``;
* there is no timestamp type: ``2025-01-01`` is the text ``"2025-01-01"``, which
  the date fields validate (``2025-02-30`` gets a precise error).

Three more deliberate differences from ``safe_load``:

* mapping keys are always the text the user wrote (``on:`` stays ``"on"``);
* duplicate keys are errors instead of silently keeping the last one;
* a number whose text is not how it will be sent (``1.10`` is sent as ``1.1``,
  ``0123`` as ``123``) is remembered, so the plan can tell the user to quote it.

Aliases are converted once and shared, and the expanded size is capped, so an
alias bomb cannot exhaust memory. Every problem becomes a :class:`ManifestIssue`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hexbatch.errors import HexbatchError
from hexbatch.manifest.errors import KeyPath, ManifestIssue, format_path

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
# Values (after alias expansion) a manifest may hold; far above any real manifest.
MAX_EXPANDED_NODES = 5_000_000

# The C parser is several times faster on big manifests and keeps the same marks; PyYAML
# built without libyaml falls back to the Python one.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), exactly.
_CORE_NULL = re.compile(r"null|Null|NULL|~|")
_CORE_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_CORE_DECIMAL = re.compile(r"[-+]?[0-9]+")
_CORE_OCTAL = re.compile(r"0o[0-7]+")
_CORE_HEX = re.compile(r"0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_CORE_INFINITY = re.compile(r"[-+]?(\.inf|\.Inf|\.INF)")
_CORE_NAN = re.compile(r"\.nan|\.NaN|\.NAN")
_CORE_RESOLVERS = (
    (_NULL_TAG, _CORE_NULL, ["~", "n", "N", ""]),
    (_BOOL_TAG, _CORE_BOOL, list("tTfF")),
    (_INT_TAG, re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"), list("-+0123456789")),
    (
        _FLOAT_TAG,
        re.compile(
            f"{_CORE_FLOAT.pattern}|{_CORE_INFINITY.pattern}|{_CORE_NAN.pattern}",
        ),
        list("-+.0123456789"),
    ),
    (_MERGE_TAG, re.compile(r"<<"), ["<"]),  # merge keys stay supported
)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """The safe (C) loader with the YAML 1.2 core schema's implicit types instead of YAML 1.1's."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, re.Pattern[str]]]]] = {}


for _tag, _pattern, _first in _CORE_RESOLVERS:
    # A resolver matches with re.match: anchor it so "1_000" is not an int followed by text.
    _Loader.add_implicit_resolver(_tag, re.compile(f"(?:{_pattern.pattern})\\Z"), _first)


def core_value(tag: str, text: str) -> Any:
    """Build the value of a core-schema scalar; raise ValueError if ``text`` does not fit ``tag``.

    Explicit tags (``!!int 12``) come here too, so they follow the same rules.
    """
    if tag == _NULL_TAG and _CORE_NULL.fullmatch(text):
        return None
    if tag == _BOOL_TAG and _CORE_BOOL.fullmatch(text):
        return text.lower() == "true"
    number: int | float | None = _core_int(text) if tag == _INT_TAG else None
    if number is None and tag == _FLOAT_TAG:
        number = _core_float(text)
    if number is not None:
        return number
    kind = tag.rsplit(":", 1)[-1]
    raise ValueError(f"{text!r} is not a YAML 1.2 {kind} (quote it to keep it as text)")


def _core_int(text: str) -> int | None:
    """A core-schema integer (decimal, 0o octal, 0x hex), or None."""
    if _CORE_DECIMAL.fullmatch(text):
        return int(text, 10)
    if _CORE_OCTAL.fullmatch(text):
        return int(text[2:], 8)
    if _CORE_HEX.fullmatch(text):
        return int(text[2:], 16)
    return None


def _core_float(text: str) -> float | None:
    """A core-schema float (an integer's text too, .inf, .nan), or None."""
    if _CORE_FLOAT.fullmatch(text) or _CORE_DECIMAL.fullmatch(text):
        return float(text)
    if _CORE_INFINITY.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _CORE_NAN.fullmatch(text):
        return math.nan
    return None


def _rewritten(value: Any, text: str) -> bool:
    """Tell whether a number would reach Hex as something other than the text written."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False  # refused later anyway: JSON cannot carry it
    return json.dumps(value) != text


@dataclass(frozen=True, slots=True)
class RewrittenNumber:
    """A number whose text differs from the value sent (``1.10`` is sent as ``1.1``)."""

    path: KeyPath
    line: int
    text: str
    value: int | float


class ScalarProblem(HexbatchError):
    """Raised by a string hook to report a problem with one string value."""


StringHook = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """Plain data loaded from YAML plus the node tree to find positions in."""

    file: str
    data: Any
    root: Node | None
    value_issues: tuple[ManifestIssue, ...] = ()
    """Problems with single values (such as an unset ``${VAR}``); the rest still loaded."""
    rewritten: tuple[RewrittenNumber, ...] = ()
    """Numbers whose text is not the value sent, in file order (for a quoting hint)."""

    def _walk(self, path: KeyPath) -> tuple[KeyPath, Node | None, Node | None]:
        """Follow ``path`` as far as the file goes: (path as written, deepest node, its key node).

        An index into a mapping is dropped from the path, because the
        validator wraps a single mapping into a list (``requests: {count: 60, per: 1m}``).
        """
        node, key_node = self.root, None
        written: list[str | int] = []
        for position, part in enumerate(path):
            if node is None:
                break
            if isinstance(part, int) and isinstance(node, MappingNode):
                continue
            found = _child(node, part)
            if found is None:
                written.extend(path[position:])
                break
            key_node, node = found
            written.append(part)
        return tuple(written), node, key_node

    def position(self, path: KeyPath, *, at_key: bool = False) -> tuple[int, int]:
        """Return the 1-based (line, column) of the deepest node along ``path`` that exists.

        With ``at_key``, point at the key of that entry instead of its value.
        """
        _, node, key_node = self._walk(path)
        target = key_node if at_key and key_node is not None else node
        if target is None:
            return (1, 1)
        return (target.start_mark.line + 1, target.start_mark.column + 1)

    def issue(self, path: KeyPath, message: str, *, at_key: bool = False) -> ManifestIssue:
        """Build an issue located at ``path`` (or its nearest existing ancestor)."""
        written, node, key_node = self._walk(path)
        target = key_node if at_key and key_node is not None else node
        line, column = (
            (target.start_mark.line + 1, target.start_mark.column + 1) if target else (1, 1)
        )
        return ManifestIssue(self.file, line, column, format_path(written), message)


def _child(node: Node, part: str | int) -> tuple[Node | None, Node] | None:
    """Find (key node, value node) under ``part`` (a key or an index), following merge keys."""
    if isinstance(node, SequenceNode) and isinstance(part, int):
        return (None, node.value[part]) if 0 <= part < len(node.value) else None
    if isinstance(node, MappingNode) and isinstance(part, str):
        merged: list[Node] = []
        for key, value in node.value:
            if key.tag == _MERGE_TAG:
                merged.extend(value.value if isinstance(value, SequenceNode) else [value])
            elif isinstance(key, ScalarNode) and key.value == part:
                return (key, value)
        for source in merged:
            found = _child(source, part)
            if found is not None:
                return found
    return None


class _Converter:
    """Turns a node tree into plain data, collecting issues instead of stopping at the first."""

    def __init__(self, file: str, on_string: StringHook | None) -> None:
        self.file = file
        self.on_string = on_string
        self.issues: list[ManifestIssue] = []
        self.constructor = SafeConstructor()
        self.done: dict[int, tuple[Any, int]] = {}  # id(node) -> (value, expanded size)
        self.active: set[int] = set()
        self.total = 0
        self.rewritten: list[RewrittenNumber] = []

    def fail(self, node: Node, path: KeyPath, message: str) -> None:
        mark = node.start_mark
        self.issues.append(
            ManifestIssue(self.file, mark.line + 1, mark.column + 1, format_path(path), message)
        )

    def convert(self, node: Node, path: KeyPath) -> tuple[Any, int]:
        key = id(node)
        if key in self.done:  # an alias: share the value, count its size again
            value, size = self.done[key]
        elif key in self.active:
            self.fail(node, path, "an alias refers to itself (recursive YAML is not allowed)")
            return None, 1
        else:
            self.active.add(key)
            value, size = self._convert_new(node, path)
            self.active.discard(key)
            self.done[key] = (value, size)
        self.total += size
        if self.total > MAX_EXPANDED_NODES:
            raise _TooLarge(node)
        return value, size

    def _convert_new(self, node: Node, path: KeyPath) -> tuple[Any, int]:
        if isinstance(node, ScalarNode):
            return self._scalar(node, path), 1
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                self.fail(node, path, f"unsupported YAML tag {node.tag}")
                return None, 1
            items, size = [], 1
            for index, item in enumerate(node.value):
                value, item_size = self.convert(item, (*path, index))
                items.append(value)
                size += item_size
            return items, size
        if isinstance(node, MappingNode):
            if node.tag != _MAP_TAG:
                self.fail(node, path, f"unsupported YAML tag {node.tag}")
                return None, 1
            return self._mapping(node, path)
        self.fail(node, path, "unsupported YAML node")  # pragma: no cover - only 3 node kinds
        return None, 1  # pragma: no cover

    def _scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        if node.tag == _STR_TAG:
            return self._string(node, path)
        if node.tag in (_TIMESTAMP_TAG, _MERGE_TAG):
            # Dates are validated (and rendered) by the manifest model; "<<" merges only as a key.
            return node.value
        if node.tag in (_NULL_TAG, _BOOL_TAG, _INT_TAG, _FLOAT_TAG):
            try:
                value = core_value(node.tag, str(node.value))
            except ValueError as error:
                self.fail(node, path, f"cannot read this value: {error}")
                return None
            if _rewritten(value, str(node.value)):
                line = node.start_mark.line + 1
                self.rewritten.append(RewrittenNumber(path, line, str(node.value), value))
            return value
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ConstructorError, ValueError, TypeError, OverflowError) as error:
            problem = getattr(error, "problem", None) or str(error)
            self.fail(node, path, f"cannot read this value: {problem}")
            return None

    def _string(self, node: ScalarNode, path: KeyPath) -> str:
        text = str(node.value)
        if self.on_string is None:
            return text
        try:
            return self.on_string(text)
        except ScalarProblem as problem:
            self.fail(node, path, str(problem))
            return text

    def _mapping(self, node: MappingNode, path: KeyPath) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        seen: dict[str, int] = {}
        size = 1
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                size += self._merge(value_node, path, merged)
                continue
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, path, "mapping keys must be plain text")
                continue
            key = str(key_node.value)
            if key in seen:
                self.fail(key_node, (*path, key), f"duplicate key (first at line {seen[key]})")
                continue
            seen[key] = key_node.start_mark.line + 1
            result[key], value_size = self.convert(value_node, (*path, key))
            size += value_size
        if merged:  # explicit keys win over merged ones, merged keys keep their place first
            result = {**merged, **result}
        return result, size

    def _merge(self, value_node: Node, path: KeyPath, into: dict[str, Any]) -> int:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        size = 0
        for source in sources:
            value, source_size = self.convert(source, path)
            size += source_size
            if not isinstance(value, dict):
                self.fail(source, path, "a merge key (<<) needs a mapping or a list of mappings")
                continue
            for key, item in value.items():
                into.setdefault(key, item)  # the first source that names a key wins
        return size


class _TooLarge(HexbatchError):
    """The document expands to more values than a manifest may hold."""

    def __init__(self, node: Node) -> None:
        super().__init__("too large")
        self.node = node


def load_yaml(text: str, file: str, on_string: StringHook | None = None) -> YamlDocument:
    """Parse one YAML document into plain data; raise ManifestError-ready issues via ``LoadFailed``.

    ``on_string`` transforms every string value (not keys); it may raise
    :class:`ScalarProblem` to report a problem located at that value.
    """
    try:
        root = yaml.compose(text, Loader=_Loader)  # a safe loader: no arbitrary objects
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(part for part in (error.context, error.problem) if part)
        raise LoadFailed(
            [ManifestIssue(file, line, column, "", f"invalid YAML: {reason}")]
        ) from None
    except yaml.YAMLError as error:
        raise LoadFailed([ManifestIssue(file, 1, 1, "", f"invalid YAML: {error}")]) from None
    except RecursionError:
        raise LoadFailed(
            [ManifestIssue(file, 1, 1, "", "invalid YAML: nested too deeply")]
        ) from None
    if root is None:
        return YamlDocument(file, None, None)
    converter = _Converter(file, on_string)
    try:
        data, _ = converter.convert(root, ())
    except _TooLarge as error:
        mark = error.node.start_mark
        message = f"the document expands to more than {MAX_EXPANDED_NODES:,} values (alias bomb?)"
        raise LoadFailed(
            [ManifestIssue(file, mark.line + 1, mark.column + 1, "", message)]
        ) from None
    except RecursionError:
        raise LoadFailed(
            [ManifestIssue(file, 1, 1, "", "invalid YAML: nested too deeply")]
        ) from None
    # Value problems do not stop loading: validation goes on, so every error is listed.
    return YamlDocument(file, data, root, tuple(converter.issues), tuple(converter.rewritten))


class LoadFailed(HexbatchError):
    """YAML could not be turned into data; carries the issues found."""

    def __init__(self, issues: list[ManifestIssue]) -> None:
        super().__init__(f"{len(issues)} issue(s)")
        self.issues = issues
