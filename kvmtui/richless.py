"""What Rich would print for a piece of text, without importing Rich when the text holds nothing Rich changes.

A piped `kvmtui trace` table is plain text laid out as Rich lays it out; importing Rich (and its Unicode
width tables, compiled at each cold start) costs more than writing a small table. Text without console
markup, emoji codes or control codes Rich strips is printed by Rich as it is, and a character below is one
cell wide in every Unicode version Rich knows (tests/test_richless.py holds both to Rich itself); anything
else is handed to Rich, so the output never differs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import IO, Any

# A Rich markup tag (rich.markup.RE_TAGS), an escaped bracket, an emoji code (rich._emoji_replace), or a control code
# Rich strips (rich.control.STRIP_CONTROL_CODES): text holding none of these renders as itself.
RICH_CHANGES = re.compile(r"\[[a-z#/@]|\\\[|:\S*?:|[\x07\x08\x0b\x0c\x0d]")
PLAIN_WIDTH = 400  # a piped table is laid out this wide, never wrapped
BIG_TABLE = 1000  # rows: on a terminal, Rich lays a table out at ~2 ms a row (a 34,764-row trace: 200 s)
# Printable ASCII and the symbols kvmtui's tables use: one cell each.
_SYMBOLS = "→←◆▸✓✗…·–—×≥≤"
NARROW = frozenset(map(chr, range(0x20, 0x7F))) | frozenset(_SYMBOLS)
_NOT_NARROW = re.compile(rf"[^\x20-\x7e{re.escape(_SYMBOLS)}]")  # a character not in NARROW


def plain(text: str, render: Callable[[str], str]) -> str:
    """`text` as Rich renders it with markup and emoji on; `render` (Rich's) is called only when needed."""
    return render(text) if RICH_CHANGES.search(text) else text


def cell_len(text: str) -> int:
    """Terminal cells `text` takes, as rich.cells.cell_len counts them."""
    if NARROW.issuperset(text):
        return len(text)
    from rich.cells import cell_len as rich_cell_len

    return rich_cell_len(text)


def _narrow(text: str) -> bool:
    """Every character of text is in NARROW. Printable ASCII (0x20-0x7e, all in NARROW) is said so by two C
    scans without hashing a character; other text (→, ▸ ...) by one regular expression scan (a set lookup per
    character took ~6 ms for the columns of a 34,764-row table)."""
    return (text.isascii() and text.isprintable()) or _NOT_NARROW.search(text) is None


Paint = Callable[[int, int, str], str]  # (row, column, cell text) -> the text with ANSI styles around it


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int, paint: Paint | None = None,
                head_style: str = "", columns: Sequence[Sequence[str]] | None = None) -> str | None:
    """plain_table_lines' table as one text, each line ending in a newline."""
    lines = plain_table_lines(headers, rows, width, paint, head_style, columns)
    if lines is None:
        return None
    lines.append("")  # the last line's newline: joined with the rest, not a second copy of the whole table
    return "\n".join(lines)


def plain_table_lines(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int, paint: Paint | None = None,
                      head_style: str = "", columns: Sequence[Sequence[str]] | None = None) -> list[str] | None:
    """The lines (without their newlines) of a table as Rich prints it piped (box=None, no edge, columns as
    wide as their widest cell, two spaces apart, cells left-aligned: Rich ignores right-justify for
    overflow="ignore" columns), from cells already as printed. Rich takes minutes for this on 100,000 rows. None when wider than `width`: Rich then decides
    how to squeeze it. On a terminal, `paint` styles cells and `head_style` (an SGR code, "1" bold) the header
    line; padding is added outside the styles. `columns`: the rows' cells by column, when the caller has
    them already (a transpose of a 34,764-row table is ~6 ms)."""
    if columns is None:
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in headers]
    # A column of narrow characters only (NARROW: one cell each, one code point each) is as wide as its
    # longest cell in code points, and str.format pads it exactly as cell_len would: one check per column
    # in C instead of cell_len per cell. The others are measured cell by cell.
    narrow = [_narrow("".join(col)) for col in columns]
    widths = [max(cell_len(h), max(map(len if ok else cell_len, col), default=0)) for h, col, ok in zip(headers, columns, narrow, strict=True)]
    if sum(widths) + 2 * (len(widths) - 1) > width:
        return None
    out = ["  ".join(h + " " * (w - cell_len(h)) for h, w in zip(headers, widths, strict=True))]
    if head_style:
        out[0] = f"\x1b[{head_style}m{out[0]}\x1b[0m"
    if paint is not None:
        out += ["  ".join(paint(i, j, c) + " " * (w - (len(c) if ok else cell_len(c)))
                          for j, (c, w, ok) in enumerate(zip(cells, widths, narrow, strict=True)))
                for i, cells in enumerate(rows)]
    elif all(narrow):
        # printf-style padding ("%-Ns", by code points as str.format's "{:<N}") at half the cost per row
        fmt = "  ".join(f"%-{w}s" for w in widths)
        out += [fmt % (cells if type(cells) is tuple else tuple(cells)) for cells in rows]
    else:
        out += ["  ".join(c + " " * (w - (len(c) if ok else cell_len(c))) for c, w, ok in zip(cells, widths, narrow, strict=True))
                for cells in rows]
    return out


SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "magenta": "35", "cyan": "36", "bold magenta": "1;35",
       "bold red": "1;31", "bold green": "1;32"}


def styled(text: str, style: str) -> str:
    """text in a named style as a terminal shows it (the few styles kvmtui's big tables use)."""
    return f"\x1b[{SGR[style]}m{text}\x1b[0m" if style and text else text


def rich_console(file: IO[str], terminal: bool) -> Any:
    """The Rich console kvmtui's tables print through: a terminal's own width and colours, or piped plain
    text PLAIN_WIDTH wide, never wrapped."""
    from rich.console import Console

    return Console(file=file, force_terminal=terminal, color_system="auto" if terminal else None,
                   width=None if terminal else PLAIN_WIDTH, highlight=False, soft_wrap=not terminal)


class LazyRender:
    """Console markup as the piped console prints it; that console is made only when a text holds markup, an
    emoji code or a control code."""

    def __init__(self, file: IO[str]) -> None:
        self.file = file
        self._console: Any = None

    def render(self, text: str) -> str:
        if self._console is None:
            self._console = rich_console(self.file, False)
        return str(self._console.render_str(text).plain)
