"""Runs of plain block-style list items read by one regular expression, not by the YAML parser.

A real-size scenario is a short header and then tens or hundreds of thousands of list items of one shape:

    steps:                    slots:
      - write: 0x15018          - slot: 3
        size: 8                   gpa: 0x30000
        value: 0x3                host: ram+0x30000
                                  flags: [readonly]

Through libyaml each such item costs some ten events, each a Python object with two marks, then the
builder's work per event, then the loader's per key; here a whole item is one match of a compiled
expression (C speed): an access step becomes its StepSpec at once (loader.fast_step), a slots: entry a
RawSlot the loader finishes with the host names it knows. The grammar is deliberately narrow: the keys in
the usual order, one per line two columns in from the dash, every value a YAML 1.2 int (`0x` hex or
decimal without leading zeros: what Python's int(x, 0) reads the same way) or, where the loader takes
text, a size (`64K`), a mapping name (`ram+0x1000`), an outcome word or a one-line flow list of flag
names; no comments or trailing spaces on an item's lines, no tabs, `\n` line ends. Such text has exactly
one YAML reading. Anything else is left to the YAML parser, item by item.

Where the items sit is not decided here: each run of items is replaced, in a copy of the text, by one
placeholder item on the run's first line (the run's other lines become empty lines, so every other line
keeps its number and column) and that copy goes through the fast YAML path. The loader then takes a run
only where its placeholder turned up as an item of `steps:` or `slots:`, exactly once; anything else (a
placeholder inside a block scalar or a quoted string, an alias to it, a syntax or validation error
anywhere) makes the loader read the original text the ordinary way, so messages come from one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

PLACEHOLDER = "__kvmtui_fast_run__"
# line breaks other than "\n" (a lone CR, and NEL, LS, PS, which libyaml counts as breaks): lines here are
# counted by "\n", so a text with any of them is left to the parsers
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")
MIN_RUN_ITEMS = 64  # below this the YAML parser is fast enough; fewer moving parts for small files

_INT = r"0x[0-9a-fA-F]{1,16}|[1-9][0-9]{0,19}|0"  # YAML 1.2 ints, read alike by Python's int(x, 0)
_SIZE = rf"{_INT}|[1-9][0-9]{{0,12}}[KMGT]"  # or a size: text in YAML, parse_size's to the loader
# one item, its indentation in group 1: an access step, its keys in the usual order, every value a number
#   - write: 0x1000 / size: 8 / value: 0x3 / vcpu: 1 / expect: ok
# or a slots: entry, its keys in the usual order
#   - slot: 3 / gpa: 0x30000 / host: ram+0x30000 / size: 64K / flags: [readonly]
_FLAGS = rf"\[(?:[A-Za-z_]{{1,40}}(?:, [A-Za-z_]{{1,40}}){{0,3}})?\]|{_INT}"
_TEXT = r'"[ !#-\[\]-~]{0,4000}"'  # double-quoted printable ASCII without escapes: the text between the quotes
_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,79}"
_ITEM = re.compile(
    # an access step, block style, then flow style
    rf"^( *)- (?:(read|write|fetch): ({_INT})\n(?:\1  size: ({_INT})\n)?(?:\1  value: ({_INT})\n)?"
    rf"(?:\1  vcpu: ({_INT})\n)?(?:\1  expect: ([a-z_]+)\n)?"
    rf"|\{{(read|write|fetch): ({_INT})(?:, size: ({_INT}))?(?:, value: ({_INT}))?(?:, vcpu: ({_INT}))?"
    rf"(?:, expect: ([a-z_]+))?\}}\n"
    # a slots: entry, block style, then flow style
    rf"|slot: ({_INT})\n\1  gpa: ({_INT})\n\1  host: ({_NAME})(?:\+({_SIZE}))?\n"
    rf"(?:\1  size: ({_SIZE})\n)?(?:\1  flags: ({_FLAGS})\n)?"
    rf"|\{{slot: ({_INT}), gpa: ({_INT}), host: ({_NAME})(?:\+({_SIZE}))?(?:, size: ({_SIZE}))?(?:, flags: ({_FLAGS}))?\}}\n"
    # what `kvmtui import` writes for a memslot update (importers.scenario_yaml)
    rf"|set_memory_region: \{{slot: ({_INT}), gpa: ({_INT}), host: \"({_NAME})(?:\+({_SIZE}))?\", "
    rf"size: ({_INT}), flags: ({_FLAGS})\}}\n(?:\1  note: ({_TEXT})\n)?(?:\1  expect: ([A-Za-z_][A-Za-z0-9_]{{0,40}})\n)?)",
    re.MULTILINE)
# after an item: blank and comment lines, then the indentation of the next line with content (or the end)
_NEXT = re.compile(r"(?:[ ]*(?:#[^\n]*)?\n)*( *)(?=[^ \t\r\n]|\Z)")

# builds one access step from (op, gpa, size, value, vcpu, expect, and 0-based line and column of the mapping
# and of the expect: value); raises when the step is not valid (the ordinary reading then says why)
StepMaker = Callable[[str, str, "str | None", "str | None", "str | None", "str | None", int, int, int, int], Any]


class RawSlot(NamedTuple):
    """A slots: entry, or a set_memory_region step, as written (the host names it needs are known only to
    the loader)."""

    slot: str
    gpa: str
    host: str
    offset: str | None
    size: str | None
    flags: str | None
    line: int  # 0-based, of `slot:` (of `set_memory_region:`)
    col: int  # 0-based, of `slot:` (of `set_memory_region:`)
    note: str | None = None  # a set_memory_region step's, its quotes still on
    expect: str | None = None  # a set_memory_region step's outcome word


class Run(NamedTuple):
    kind: str  # "step" (StepSpecs built by the StepMaker, RawSlots of set_memory_region) or "slot" (RawSlots)
    items: list[Any]


class Scan(NamedTuple):
    text: str  # the text with each run replaced by its placeholder item
    runs: list[Run]


def scan(text: str, make_step: StepMaker) -> Scan | None:
    """The runs of plain items in `text` and the text with placeholders; None when there is nothing to gain."""
    if PLACEHOLDER in text or any(c in text for c in _OTHER_BREAKS):
        return None
    runs: list[Run] = []
    spans: list[tuple[int, int, int]] = []  # (start, end, indentation) of each run in the text
    line = 0  # 0-based line of `pos`
    pos = 0
    cur: list[Any] = []
    cur_kind = ""
    cur_start = cur_end = cur_ind = -1
    count = text.count
    startswith = text.startswith

    def close() -> None:
        if len(cur) >= MIN_RUN_ITEMS:
            runs.append(Run(cur_kind, cur[:]))
            spans.append((cur_start, cur_end, cur_ind))
        cur.clear()

    for m in _ITEM.finditer(text):
        start, end = m.span()
        line += count("\n", pos, start)
        pos = start
        (ind_s, op, gpa, size, value, vcpu, expect, fop, fgpa, fsize, fvalue, fvcpu, fexpect,
         slot, sgpa, host, offset, ssize, flags, fslot, fsgpa, fhost, foffset, fssize, fflags,
         rslot, rgpa, rhost, roffset, rsize, rflags, rnote, rexpect) = m.groups()
        ind = len(ind_s)
        # complete: the next line with content is no deeper than the dash (else the item goes on below)
        if startswith(ind_s + "- ", end):
            nxt_start = end
        else:
            nxt = _NEXT.match(text, end)
            if nxt is None or (len(nxt.group(1)) > ind and nxt.end() != len(text)):
                close()
                continue
            nxt_start = nxt.start(1)
        col = ind + 2
        if op is not None:  # the expect: line is the step's last; its value starts after "expect: "
            eline = line + 1 + (size is not None) + (value is not None) + (vcpu is not None)
            item: Any = make_step(op, gpa, size, value, vcpu, expect, line, col, eline, col + 8)
            kind = "step"
        elif fop is not None:
            ecol = m.start(13) - start if fexpect is not None else 0
            item = make_step(fop, fgpa, fsize, fvalue, fvcpu, fexpect, line, col, line, ecol)
            kind = "step"
        elif slot is not None:
            item = RawSlot(slot, sgpa, host, offset, ssize, flags, line, col)
            kind = "slot"
        elif fslot is not None:
            item = RawSlot(fslot, fsgpa, fhost, foffset, fssize, fflags, line, col)
            kind = "slot"
        else:
            item = RawSlot(rslot, rgpa, rhost, roffset, rsize, rflags, line, col, rnote, rexpect)
            kind = "step"
        if not (cur and start == cur_end and ind == cur_ind and kind == cur_kind):
            close()
            cur_start, cur_ind, cur_kind = start, ind, kind
        cur.append(item)
        cur_end = nxt_start  # blank and comment lines after an item belong to its run
    close()
    if not runs:
        return None
    out: list[str] = []
    at = 0
    for i, (start, end, ind) in enumerate(spans):
        out.append(text[at:start])
        out.append(f"{' ' * ind}- {PLACEHOLDER}: {i}")
        out.append("\n" * count("\n", start, end))
        at = end
    out.append(text[at:])
    return Scan("".join(out), runs)


def run_index(entry: Any) -> int | None:
    """The run a list entry of the parsed copy stands for, or None for an ordinary entry."""
    if isinstance(entry, dict) and len(entry) == 1 and PLACEHOLDER in entry:
        i = entry[PLACEHOLDER]
        return i if type(i) is int else -1
    return None
