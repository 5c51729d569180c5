"""The piped table is written without Rich when no text needs it: what it writes must be what Rich prints."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len as rich_cell_len
from rich.console import Console
from rich.errors import MarkupError

from kvmtui import richless


def _rich_prints(text: str) -> str:
    out = io.StringIO()
    Console(file=out, force_terminal=False, color_system=None, width=400, highlight=False, soft_wrap=True).print(text)
    return out.getvalue()


def _render(text: str) -> str:
    return Console(file=io.StringIO(), force_terminal=False, color_system=None, highlight=False).render_str(text).plain


TRICKY = ["plain", "a [bold]b[/bold] c", "[1]", "slot [readonly]", "\\[bold] escaped", ":smile: and :nope:", "a:b:c",
          "12:30:45", "x\ry", "bell\x07", "→ ◆ ▸ ✓ ✗", "wide 漢字", "e\u0301", "tab\there", "[#ff0000]red[/]", "[@click]x[/]"]


@pytest.mark.parametrize("text", TRICKY)
def test_plain_is_what_rich_renders(text):
    assert richless.plain(text, _render) == _render(text)
    assert richless.cell_len(text) == rich_cell_len(text)


def _outcome(f, text: str) -> str:
    try:
        return f(text)
    except MarkupError as e:  # (a stray closing tag: Rich refuses it, and so does the table that asked Rich)
        return f"MarkupError: {e}"


@given(st.text(alphabet=st.sampled_from("ab :[]/#@\\\t\x07\r→◆漢é\u0301bold"), max_size=30))
def test_plain_and_width_agree_with_rich(text):
    assert _outcome(lambda t: richless.plain(t, _render), text) == _outcome(_render, text)
    assert richless.cell_len(text) == rich_cell_len(text)


@pytest.mark.parametrize("text", [t for t in TRICKY if "\t" not in t])
def test_a_printed_line_is_the_rendered_text(text):
    """print_table writes a title or note line as plain() + newline where Rich would print it."""
    assert richless.plain(text, _render) + "\n" == _rich_prints(text)


def test_narrow_symbols_are_one_cell_to_rich():
    assert all(rich_cell_len(c) == 1 for c in richless.NARROW)


@given(st.text(alphabet=st.sampled_from([*sorted(richless.NARROW)[::7], "→", "—", "≤", "\t", "\n", "\x7f", "\xa0", "é", "✔", "漢"]), max_size=12))
def test_a_narrow_text_is_one_of_narrow_characters_only(text):
    """_narrow (two C scans, or one regular expression scan) says what a lookup of every character says."""
    assert richless._narrow(text) == richless.NARROW.issuperset(text)
