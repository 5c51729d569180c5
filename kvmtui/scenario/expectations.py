"""A step's `expect:` entries, read and checked: what the judge compares the step's record with. Imported by
the loader at the first step that has one (a real-size scenario has none: none of this is compiled then)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..engine.vocabulary import ACCESS_OPS, ACCESS_OUTCOMES
from .loader import ERRNO_NAMES, _close_matches, _kind
from .model import Expect, ExpectExit, Pos
from .yamlsafe import short

if TYPE_CHECKING:
    from .loader import _Loader

EXPECT_KEYS = ("outcome", "value", "exits", "dirty", "slot", "spte", "ring")
EXIT_KEYS = ("phys_addr", "len", "data", "is_write")
SPTE_STATES = ("none", "ro", "rw", "wp", "mmio")


def expect_value(ld: _Loader, value: Any, pos: Pos, op: str) -> Expect:
    """One expectation (an outcome, or a mapping of what the record must show), for a step of kind `op`."""
    if isinstance(value, str):
        return Expect(outcome=outcome(ld, value, pos, op), pos=pos, positions={"outcome": pos})
    e = ld.mapping(value, pos, "expect")
    ld.known_keys(e, EXPECT_KEYS, "expect")
    kw: dict[str, Any] = {}
    positions = {k: ld.key_pos(e, k) for k in e}
    access = op in ACCESS_OPS
    for key, allowed in (("exits", access), ("slot", access), ("spte", access), ("dirty", op == "get_dirty_log"),
                         ("value", op in ("read", "fetch", "check_extension", "enable_cap", "reset_dirty_rings")),
                         ("ring", op == "harvest_dirty_ring")):
        if key in e and not allowed:
            raise ld.error(ld.key_pos(e, key), f"expect `{key}:` does not apply to a {op} step")
    if "outcome" in e:
        kw["outcome"] = outcome(ld, e["outcome"], ld.val_pos(e, "outcome"), op)
    if "value" in e:
        kw["value"] = ld.number(e["value"], ld.val_pos(e, "value"), "expected value", sizes=False)
    if "slot" in e:
        if e["slot"] is None:
            kw["slot_none"] = True
        else:
            kw["slot"] = ld.number(e["slot"], ld.val_pos(e, "slot"), "expected slot", sizes=False)
    if "spte" in e:
        kw["spte"] = ld.choice(e["spte"], ld.val_pos(e, "spte"), "expected spte state", SPTE_STATES)
    if "dirty" in e:
        seq = ld.sequence(e["dirty"], ld.val_pos(e, "dirty"), "expected dirty pages")
        kw["dirty"] = tuple(sorted(ld.number(v, ld.item_pos(seq, i), "dirty page index", sizes=False) for i, v in enumerate(seq)))
    if "ring" in e:
        seq = ld.sequence(e["ring"], ld.val_pos(e, "ring"), "expected ring entries")
        entries = []
        for i, x in enumerate(seq):
            xpos = ld.item_pos(seq, i)
            pair = ld.sequence(x, xpos, "a ring entry ([slot, offset])")
            if len(pair) != 2:
                raise ld.error(xpos, f"a ring entry is [slot, offset], not {len(pair)} values")
            entries.append((ld.number(pair[0], xpos, "ring entry slot", sizes=False), ld.number(pair[1], xpos, "ring entry offset", sizes=False)))
        kw["ring"] = tuple(entries)
    if "exits" in e:
        seq = ld.sequence(e["exits"], ld.val_pos(e, "exits"), "expected exits")
        exits = []
        for i, x in enumerate(seq):
            xpos = ld.item_pos(seq, i)
            xm = ld.mapping(x, xpos, "an expected exit")
            ld.known_keys(xm, EXIT_KEYS, "an expected exit")
            phys = ld.number(ld.required(xm, "phys_addr", "an expected exit"), ld.val_pos(xm, "phys_addr"), "phys_addr")
            data = ld.hexbytes(ld.required(xm, "data", "an expected exit"), ld.val_pos(xm, "data"), "data")
            length = ld.number(xm["len"], ld.val_pos(xm, "len"), "len", sizes=False, limit=8) if "len" in xm else len(data)
            is_write = xm.get("is_write", False)
            if not isinstance(is_write, bool):
                raise ld.error(ld.val_pos(xm, "is_write"), f"is_write must be true or false, not {_kind(is_write)}")
            if len(data) != length:
                raise ld.error(ld.val_pos(xm, "data"), f"data has {len(data)} bytes but len is {length}")
            exits.append(ExpectExit(phys, length, data, is_write))
        kw["exits"] = tuple(exits)
    return Expect(pos=pos, positions=positions, **kw)


def outcome(ld: _Loader, value: Any, pos: Pos, op: str) -> str:
    """An expected outcome: an access outcome for an access, else `ok`, `unsupported` or an errno name."""
    text = str(value) if isinstance(value, str) else None
    if op in ACCESS_OPS:
        if text not in ACCESS_OUTCOMES:
            raise ld.error(pos, f"expected outcome {short(value)} is not an access outcome ({', '.join(ACCESS_OUTCOMES)})")
    elif text not in ("ok", "unsupported") and text not in ERRNO_NAMES:
        hint = _close_matches(str(value), ["ok", "EINVAL", "EEXIST", "ENOENT", "ENOMEM", "EFAULT"], n=1, cutoff=0.5)
        did = f"did you mean {short(hint[0])}? " if hint else ""
        raise ld.error(pos, f"expected outcome {short(value)} is not `ok` or an errno name ({did}e.g. EINVAL, EEXIST, ENOENT)")
    return text
