"""What Rich would print for a piece of text, without importing Rich when the text holds nothing Rich changes.

A piped `kvmtui trace` table is plain text laid out as Rich lays it out; importing Rich (and its Unicode
width tables, compiled at each cold start) costs more than writing a small table. Text without console
markup, emoji codes or control codes Rich strips is printed by Rich as it is, and a character below is one
cell wide in every Unicode version Rich knows (tests/test_richless.py holds both to Rich itself); anything
else is handed to Rich, so the output never differs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# A Rich markup tag (rich.markup.RE_TAGS), an escaped bracket, an emoji code (rich._emoji_replace), or a control code
# Rich strips (rich.control.STRIP_CONTROL_CODES): text holding none of these renders as itself.
RICH_CHANGES = re.compile(r"\[[a-z#/@]|\\\[|:\S*?:|[\x07\x08\x0b\x0c\x0d]")
# Printable ASCII and the symbols kvmtui's tables use: one cell each.
NARROW = frozenset(map(chr, range(0x20, 0x7F))) | frozenset("→←◆▸✓✗…·–—×≥≤")


def plain(text: str, render: Callable[[str], str]) -> str:
    """`text` as Rich renders it with markup and emoji on; `render` (Rich's) is called only when needed."""
    return render(text) if RICH_CHANGES.search(text) else text


def cell_len(text: str) -> int:
    """Terminal cells `text` takes, as rich.cells.cell_len counts them."""
    if NARROW.issuperset(text):
        return len(text)
    from rich.cells import cell_len as rich_cell_len

    return rich_cell_len(text)
