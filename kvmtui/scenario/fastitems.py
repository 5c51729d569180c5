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
from functools import lru_cache
from typing import Any, NamedTuple

from .fastyaml import plain_scalar

PLACEHOLDER = "__kvmtui_fast_run__"
# line breaks other than "\n" (a lone CR, and NEL, LS, PS, which libyaml counts as breaks): lines here are
# counted by "\n", so a text with any of them is left to the parsers
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")
MIN_RUN_ITEMS = 64  # items read here in all, below which the YAML parser is fast enough (small files: fewer moving parts)
# A run shorter than this is left to the YAML parser (its placeholder would cost about what its items do). Runs
# are not required to be long: steps of kinds not read here (host ops, dirty logs, ...) among accesses split
# them, and a file of short runs between such steps must not fall back whole.
MIN_RUN_LEN = 3

_INT = r"0x[0-9a-fA-F]{1,16}|[1-9][0-9]{0,19}|0"  # YAML 1.2 ints, read alike by Python's int(x, 0)
_SIZE = rf"{_INT}|[1-9][0-9]{{0,12}}[KMGT]"  # or a size: text in YAML, parse_size's to the loader
# one item, its indentation in group 1: an access step, its keys in the usual order, every value a number
#   - write: 0x1000 / size: 8 / value: 0x3 / vcpu: 1 / expect: ok
# or a slots: entry, its keys in the usual order
#   - slot: 3 / gpa: 0x30000 / host: ram+0x30000 / size: 64K / flags: [readonly]
_FLAGS = rf"\[(?:[A-Za-z_]{{1,40}}(?:, [A-Za-z_]{{1,40}}){{0,3}})?\]|{_INT}"
_TEXT = r'"[ !#-\[\]-~]{0,4000}"'  # double-quoted printable ASCII without escapes: the text between the quotes
_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,79}"
# a plain one-line note of letters, digits and ` _.,()/+=-` (no `:` or `#`); its YAML reading is plain_scalar's
_NOTE = r"[A-Za-z0-9_](?:[A-Za-z0-9_ .,()/+=-]{0,4000}[A-Za-z0-9_.,()/+=-])?"
_ITEM = re.compile(
    # an access step, block style, then flow style
    rf"^( *)- (?:(read|write|fetch): ({_INT})\n(?:\1  size: ({_INT})\n)?(?:\1  value: ({_INT})\n)?"
    rf"(?:\1  vcpu: ({_INT})\n)?(?:\1  expect: ([a-z_]+)\n)?(?:\1  note: ({_TEXT}|{_NOTE})\n)?"
    rf"|\{{(read|write|fetch): ({_INT})(?:, size: ({_INT}))?(?:, value: ({_INT}))?(?:, vcpu: ({_INT}))?"
    rf"(?:, expect: ([a-z_]+))?\}}\n"
    # a slots: entry, block style, then flow style
    rf"|slot: ({_INT})\n\1  gpa: ({_INT})\n\1  host: ({_NAME})(?:\+({_SIZE}))?\n"
    rf"(?:\1  size: ({_SIZE})\n)?(?:\1  flags: ({_FLAGS})\n)?"
    rf"|\{{slot: ({_INT}), gpa: ({_INT}), host: ({_NAME})(?:\+({_SIZE}))?(?:, size: ({_SIZE}))?(?:, flags: ({_FLAGS}))?\}}\n"
    # what `kvmtui import` writes for a memslot update (importers.scenario_yaml)
    rf"|set_memory_region: \{{slot: ({_INT}), gpa: ({_INT}), host: \"({_NAME})(?:\+({_SIZE}))?\", "
    rf"size: ({_INT}), flags: ({_FLAGS})\}}\n(?:\1  note: ({_TEXT})\n)?(?:\1  expect: ([A-Za-z_][A-Za-z0-9_]{{0,40}})\n)?"
    # anything else that may be a general item (_GENERAL says whether it is one)
    rf"|(?=[a-z_{{]))",
    re.MULTILINE)
_OPS = frozenset(("read", "write", "fetch"))
_ACCESS_KEYS = {op: frozenset((op, "size", "value", "vcpu", "expect", "note")) for op in _OPS}
SLOT_KEYS = frozenset(("slot", "gpa", "host", "size", "flags", "note", "expect"))

# after an item: blank and comment lines, then the indentation of the next line with content (or the end)
_NEXT = re.compile(r"(?:[ ]*(?:#[^\n]*)?\n)*( *)(?=[^ \t\r\n]|\Z)")

# A run of block-style access steps (or slots: entries) at one indentation, the bulk of a real-size file, is
# read a stretch at a time: the stretch's lines are all of the forms such items have (_row_patterns: the first
# other line ends it), findall splits it into rows (tuples of text: no Match object per item, no call per
# item) and the loader makes the access rows StepSpecs in one call (RowsMaker; slots: rows become RawSlots
# here). An access row is op, gpa, size, value, vcpu, expect, a slot row slot, gpa, host, offset, size, flags
# ("" where absent); a row ends where the next item starts, or at the stretch's end, so when there are as many
# rows as items the rows are the stretch, item by item. Notes, comments and blank lines end a stretch (the
# items around them are read one by one, as ever).
_ROW = (r"^{ind}- (read|write|fetch): ({int})\n(?:{ind}  size: ({int})\n)?(?:{ind}  value: ({int})\n)?"
        r"(?:{ind}  vcpu: ({int})\n)?(?:{ind}  expect: ([a-z_]+)\n)?(?={ind}- |\Z)")
_SLOT_ROW = (r"^{ind}- slot: ({int})\n{ind}  gpa: ({int})\n{ind}  host: ({name})(?:\+({size}))?\n(?:{ind}  size: ({size})\n)?"
             r"(?:{ind}  flags: ({flags})\n)?(?={ind}- |\Z)")
FIRST_STRETCH = 16 << 10  # bytes looked at first; doubled while stretches end only there (bounds the work an odd item costs)


@lru_cache(maxsize=16)
def _row_patterns(ind: str, kind: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(one row, the start of a line that no row has) of block access steps ("step") or slots: entries
    ("slot") indented by `ind` (spaces)."""
    if kind == "step":
        row = _ROW.format(int=f"(?:{_INT})", ind=ind)
        other = rf"\n(?!{ind}- (?:read|write|fetch): |{ind}  (?:size|value|vcpu|expect): )"
    else:
        row = _SLOT_ROW.format(int=f"(?:{_INT})", name=_NAME, size=f"(?:{_SIZE})", flags=f"(?:{_FLAGS})", ind=ind)
        other = rf"\n(?!{ind}- slot: |{ind}  (?:gpa|host|size|flags): )"
    return re.compile(row, re.MULTILINE), re.compile(other)


# builds one access step from (op, gpa, size, value, vcpu, expect, and 0-based line and column of the mapping
# and of the expect: value, and its note's text); raises when the step is not valid (the ordinary reading then says why)
StepMaker = Callable[[str, str, "str | None", "str | None", "str | None", "str | None", int, int, int, int, "str | None"], Any]
# builds the access steps of rows (_ROW: op, gpa, size, value, vcpu, expect), or the slots: entries of slot rows
# (_SLOT_ROW), the first on the given 0-based line, every dash at the given 0-based column; raises as StepMaker does
RowsMaker = Callable[[list[tuple[str, ...]], int, int], list[Any]]


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
    # a general slots: entry's (general_items.py): its note as read, whether its host was quoted, where expect's value is
    text: str | None = None
    quoted: bool = False
    eline: int = 0
    ecol: int = 0


class Run(NamedTuple):
    kind: str  # "step" (StepSpecs built by the StepMaker, RawSlots of set_memory_region) or "slot" (RawSlots)
    items: list[Any]


class Scan(NamedTuple):
    text: str  # the text with each run replaced by its placeholder item
    runs: list[Run]


def scan(text: str, make_step: StepMaker, make_rows: RowsMaker | None = None, make_slots: RowsMaker | None = None) -> Scan | None:
    """The runs of plain items in `text` and the text with placeholders; None when there is nothing to gain.
    make_slots, when given, makes the items of slot rows (_SLOT_ROW: slot, gpa, host, offset, size, flags) as
    make_rows does access rows; without it they are RawSlots."""
    if "\r\n" in text:
        # CRLF line ends: YAML reads each as one line break and keeps none in any value (a break in a scalar is
        # a "\n" whatever its form), so the text with "\n" alone has the same meaning and every line and
        # column the same; the loader reads it in their place
        text = text.replace("\r\n", "\n")
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
        if len(cur) >= MIN_RUN_LEN:
            runs.append(Run(cur_kind, cur[:]))
            spans.append((cur_start, cur_end, cur_ind))
        cur.clear()

    search = _ITEM.search
    at = 0  # where the next item is looked for
    stretch = FIRST_STRETCH
    while (m := search(text, at)) is not None:
        start, end = m.span()
        at = end
        line += count("\n", pos, start)
        pos = start
        ind_s = m.group(1)
        ind = len(ind_s)
        if make_rows is not None and (m.group(2) is not None or m.group(15) is not None):
            # block access steps or slots: entries: a stretch of them at once
            kind = "step" if m.group(2) is not None else "slot"
            stretch_rows = _rows(text, start, ind_s, start + stretch, kind)
            if stretch_rows is not None:
                rows, at, nxt_start, cut = stretch_rows
                stretch = stretch * 2 if cut else FIRST_STRETCH
                if not (cur and start == cur_end and ind == cur_ind and cur_kind == kind):
                    close()
                    cur_start, cur_ind, cur_kind = start, ind, kind
                cur.extend(make_rows(rows, line, ind) if kind == "step" else
                           _raw_slots(rows, line, ind + 2) if make_slots is None else make_slots(rows, line, ind))
                cur_end = nxt_start
                continue
        (_, op, gpa, size, value, vcpu, expect, note, fop, fgpa, fsize, fvalue, fvcpu, fexpect,
         slot, sgpa, host, offset, ssize, flags, fslot, fsgpa, fhost, foffset, fssize, fflags,
         rslot, rgpa, rhost, roffset, rsize, rflags, rnote, rexpect) = m.groups()
        general = None
        if start + ind + 2 == end:  # none of the usual shapes: perhaps a general item
            # (general_items.py: imported by the first item of none of the usual shapes; a real-size file has none)
            from .general_items import general_res

            general = general_res().item.match(text, start)
            if general is None:
                close()
                continue
            end = general.end()
        # complete: the next line with content is no deeper than the dash (else the item goes on below)
        if startswith(ind_s + "- ", end):
            nxt_start = end
        else:
            nxt = _NEXT.match(text, end)
            if nxt is None or (len(nxt.group(1)) > ind and nxt.end() != len(text)):
                from .general_items import general_res

                general = general_res().item.match(text, start) if general is None else None  # the usual shape was its first lines
                if general is None:
                    close()
                    continue
                end = general.end()
                if startswith(ind_s + "- ", end):
                    nxt_start = end
                else:
                    nxt = _NEXT.match(text, end)
                    if nxt is None or (len(nxt.group(1)) > ind and nxt.end() != len(text)):
                        close()
                        continue
                    nxt_start = nxt.start(1)
            else:
                nxt_start = nxt.start(1)
        col = ind + 2
        item: Any
        if general is not None:
            from .general_items import general_item

            got = general_item(general, line, col, make_step)
            if got is None:
                close()
                continue
            kind, item = got
        elif op is not None:  # the expect: line is the step's last; its value starts after "expect: "
            eline = line + 1 + (size is not None) + (value is not None) + (vcpu is not None)
            if note is not None:  # after expect:, the step's last line
                note = note[1:-1] if note[0] == '"' else plain_scalar(note)
                if note is not None and not isinstance(note, str):  # `note: 12`: the loader's message, from the YAML path
                    close()
                    continue
            item = make_step(op, gpa, size, value, vcpu, expect, line, col, eline, col + 8, note)
            kind = "step"
        elif fop is not None:
            ecol = m.start(14) - start if fexpect is not None else 0
            item = make_step(fop, fgpa, fsize, fvalue, fvcpu, fexpect, line, col, line, ecol, None)
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
    if sum(len(r.items) for r in runs) < MIN_RUN_ITEMS:
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


def _rows(text: str, start: int, ind_s: str, limit: int, kind: str) -> tuple[list[tuple[str, ...]], int, int, bool] | None:
    """The rows of the complete block items of `kind` from `start` (an item indented by ind_s) on, looking no
    further than `limit`; with where their text ends, where the next line with content starts and whether
    the limit ended them. None when not even the first item is such an item."""
    row, other = _row_patterns(ind_s, kind)
    cut = limit < len(text)
    if cut:
        # the limit moved back to the start of the last item that starts before it, so that the items before it
        # are whole (a slots: entry cut after its gpa: line is no row, and a count that missed it sent the
        # whole stretch through finditer: an eighth of a layout's load); or, when the first item is all there
        # is, to a line's end (the first item's first line at least)
        item = text.rfind("\n" + ind_s + "- ", start, limit)
        limit = item + 1 if item >= 0 else max(text.rfind("\n", start, limit), text.index("\n", start)) + 1
    o = other.search(text, start, limit - cut)  # (not the limit's line break: what follows it is not looked at)
    end = limit if o is None else o.start() + 1
    cut = cut and o is None
    rows = row.findall(text, start, end)
    if len(rows) != 1 + text.count("\n" + ind_s + "- ", start, end):  # an item not in a row's form: rows up to it
        at = start
        n = 0
        for m in row.finditer(text, start, end):
            if m.start() != at:
                break
            at = m.end()
            n += 1
        if not n:
            return None
        return rows[:n], at, at, False  # (each row is followed by the next item: complete)
    nxt = _NEXT.match(text, end)
    if nxt is None or (len(nxt.group(1)) > len(ind_s) and nxt.end() != len(text)):
        # the last item goes on below (a note, a key read otherwise, a value continued): left to the per-item reading
        if len(rows) == 1:
            return None
        end = text.rfind("\n" + ind_s + "- ", start, end) + 1
        return rows[:-1], end, end, cut
    return rows, end, nxt.start(1), cut


def _raw_slots(rows: list[tuple[str, ...]], line: int, col: int) -> list[RawSlot]:
    """The RawSlots of slot rows, the first on 0-based `line`, each mapping at 0-based column `col`."""
    out: list[RawSlot] = []
    make = RawSlot._make
    for slot, gpa, host, offset, size, flags in rows:
        out.append(make((slot, gpa, host, offset or None, size or None, flags or None, line, col, None, None, None, False, 0, 0)))
        line += 3 + (size != "") + (flags != "")
    return out


def run_index(entry: Any) -> int | None:
    """The run a list entry of the parsed copy stands for, or None for an ordinary entry."""
    if isinstance(entry, dict) and len(entry) == 1 and PLACEHOLDER in entry:
        i = entry[PLACEHOLDER]
        return i if type(i) is int else -1
    return None
