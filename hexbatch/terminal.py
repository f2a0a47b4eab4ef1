"""Text from Hex or a manifest, made safe to show on a terminal.

Project titles, names, params and error messages are data, never formatting:
rich must not read ``[bold]`` or ``[link=…]`` in them as markup, and escape
sequences (``\\x1b[2J`` clears the screen, ``\\x1b]0;…\\x07`` retitles the window)
must not reach the terminal. Every such control character (C0, DEL, C1) and the
Unicode bidirectional overrides that can reorder what is shown are written out
visibly as ``\\x1b`` or ``\\u202e``. Plain spaces stay; other whitespace such as
newline and tab is shown as ``\\n`` and ``\\t``, so one value stays one line.
"""

from __future__ import annotations

import re
from typing import Final

from rich.text import Text

_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED: Final = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """Return ``text`` with every control character written out visibly (``\\x1b``)."""
    return _CONTROL.sub(_visible, text)


def plain(text: str, style: str = "") -> Text:
    """A rich Text that shows ``text`` literally: no markup, control characters escaped."""
    return Text(escape_control(text), style=style)
