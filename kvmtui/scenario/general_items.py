"""The general list item of fastitems: an access step or a slots: entry in none of the usual row shapes (keys
in any order, a flow mapping, quoted values, comments), still read by regular expressions rather than the YAML
parser. A module of its own, imported by fastitems.scan at the first such item: a real-size file has none, and
every module imported is compiled at a cold start."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .fastitems import _ACCESS_KEYS, _FLAGS, _INT, _NAME, _OPS, _SIZE, SLOT_KEYS, RawSlot, StepMaker
from .fastyaml import DOUBLE_QUOTED as _DQ
from .fastyaml import FLOW_PLAIN as _FPLAIN
from .fastyaml import PLAIN as _PLAIN
from .fastyaml import SINGLE_QUOTED as _SQ
from .fastyaml import plain_scalar

# The general item, tried where the shapes above do not fit (or fit only the first lines of an item): keys
# in any order, one per line two columns in from the dash (or `{k: v, k: v}` on one line), each value one
# of a few one-line forms whose YAML reading needs no parser: a double-quoted string of printable ASCII
# without escapes, a single-quoted one without quotes inside, a plain scalar of letters, digits and
# ` _.,()/+=-` (no `:` or `#`, so no comment or mapping can hide in it; its meaning is fastyaml's
# plain_scalar, as the YAML path gives it) or a one-line flow list of flag names; a `# comment` after a
# value. Which keys an item may have, and which forms each value, is decided per item in general_item().
_GLIST = r"\[(?:[A-Za-z_]{1,40}(?:, [A-Za-z_]{1,40}){0,3})?\]"
_GVALUE = rf"{_DQ}|{_SQ}|{_GLIST}|{_PLAIN}"
_GFVALUE = rf"{_DQ}|{_SQ}|{_GLIST}|{_FPLAIN}"
_GEND = r"(?: +#[^\n]*| *)\n"
_GLINE = rf"[a-z_]{{1,20}}: (?:{_GVALUE}){_GEND}"
_GENERAL = rf"^( *)- (?:({_GLINE}(?:\1  {_GLINE}){{0,15}})|\{{([a-z_]{{1,20}}: (?:{_GFVALUE})(?:, [a-z_]{{1,20}}: (?:{_GFVALUE})){{0,15}})\}}{_GEND})"


class GeneralRes:
    """The general item's expressions, compiled when a text first has an item of none of the usual shapes (a
    real-size file has none, and they are ~2 ms of a cold start): general_res()."""

    def __init__(self) -> None:
        self.item = re.compile(_GENERAL, re.MULTILINE)
        self.flow_pair = re.compile(rf"([a-z_]{{1,20}}): ({_GFVALUE})(?:, |\}})")
        self.int = re.compile(_INT)
        self.size = re.compile(_SIZE)
        self.flags = re.compile(_FLAGS)
        self.host = re.compile(rf"({_NAME})(?:\+({_SIZE}))?")
        self.word = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")


@lru_cache(maxsize=1)
def general_res() -> GeneralRes:
    return GeneralRes()


def _value(raw: str) -> Any:
    """A general item's value as the YAML path reads it (a flow list stays as written)."""
    c = raw[0]
    if c == '"' or c == "'":
        return raw[1:-1]
    if c == "[":
        return raw
    return plain_scalar(raw)


def general_item(m: re.Match[str], line: int, col: int, make_step: StepMaker) -> tuple[str, Any] | None:
    """A general item as an access step or a slots: entry, or None when it is neither in a form read here
    (the YAML path then reads it). Values the loader would refuse go to make_step / the loader, which raise."""
    block = m.group(2)
    pairs: dict[str, tuple[str, int, int]] = {}  # key -> (raw value, 0-based line and column of the value)
    op = None
    if block is not None:
        # _GENERAL has checked each line's form: `KEY: VALUE`, then spaces or ` # comment`; a quoted value holds
        # no quote of its kind, the others no `#`
        k = line
        for text in block.split("\n")[:-1]:
            key, _, v = text.lstrip(" ").partition(": ")
            if key in pairs:
                return None  # a duplicate key: the YAML path says so
            q = v[0]
            v = v[: v.index(q, 1) + 1] if q == '"' or q == "'" else v.partition(" #")[0].rstrip(" ")
            pairs[key] = (v, k, col + len(key) + 2)
            k += 1
            if key in _OPS:
                if op is not None:
                    return None
                op = key
    else:
        for pm in general_res().flow_pair.finditer(m.string, m.start(3), m.end()):
            key = pm.group(1)
            if key in pairs:
                return None
            pairs[key] = (pm.group(2), line, pm.start(2) - m.start())
            if key in _OPS:
                if op is not None:
                    return None
                op = key
    note = None
    if "note" in pairs:
        note = _value(pairs["note"][0])
        if note is not None and not isinstance(note, str):
            return None
    expect = None
    eline = ecol = 0
    if "expect" in pairs:
        expect, eline, ecol = pairs["expect"]
        expect = _value(expect)
        if not isinstance(expect, str) or not general_res().word.fullmatch(expect):
            return None
    get = pairs.get
    if op is not None:
        if not _ACCESS_KEYS[op].issuperset(pairs):
            return None
        gpa = _number(pairs[op][0], True)
        size = get("size")
        value = get("value")
        vcpu = get("vcpu")
        size_s = value_s = vcpu_s = None
        if gpa is None or (size is not None and (size_s := _number(size[0], False)) is None) or (
                value is not None and (value_s := _number(value[0], False)) is None) or (
                vcpu is not None and (vcpu_s := _number(vcpu[0], False)) is None):
            return None
        return "step", make_step(op, gpa, size_s, value_s, vcpu_s, expect, line, col, eline, ecol, note)
    if "slot" not in pairs or "gpa" not in pairs or "host" not in pairs or not SLOT_KEYS.issuperset(pairs):
        return None
    slot = _number(pairs["slot"][0], False)
    gpa = _number(pairs["gpa"][0], True)
    size = get("size")
    size_s = None
    if slot is None or gpa is None or (size is not None and (size_s := _number(size[0], True)) is None):
        return None
    host = _value(pairs["host"][0])
    res = general_res()
    hm = res.host.fullmatch(host) if isinstance(host, str) else None
    flags = pairs["flags"][0] if "flags" in pairs else None
    if hm is None or (flags is not None and not res.flags.fullmatch(flags)):
        return None
    # (the host is text as a whole, whatever its name part would read as alone: quoted for the loader)
    return "slot", RawSlot(slot, gpa, hm.group(1), hm.group(2), size_s, flags, line, col, None, expect, note, True, eline, ecol)


def _number(raw: str, sizes: bool) -> str | None:
    """A general item's number as fastitems' int text (or size text where sizes are taken): a plain int, or
    for keys that take sizes a quoted one (the loader reads text there with parse_size: the same number)."""
    res = general_res()
    if res.int.fullmatch(raw):
        return raw
    if sizes:
        if raw[0] == '"' or raw[0] == "'":
            raw = raw[1:-1]
        if res.size.fullmatch(raw):
            return raw
    return None
