"""The probe's and the slot editor's little command language, turned into scenario steps.

Syntax only: every value is then checked by the scenario loader, so the probe and a scenario file accept
and refuse exactly the same things, with the same messages.
"""

from __future__ import annotations

import shlex
from typing import Any

from ..scenario import ScenarioError, StepSpec
from ..scenario.loader import parse_slot_entry, parse_step

PROBE_HELP = (
    "r ADDR [SIZE] · w ADDR [SIZE] VALUE · f ADDR [SIZE] · slot N gpa=.. host=.. [size=..] [flags=readonly,log_dirty_pages] · "
    "delete N · dirty N · cap NAME · mprotect HOST PROT [SIZE] · munmap|madvise|evict|poison HOST [SIZE] · hostwrite HOST HEX"
)
EDIT_HELP = "add N gpa=.. host=.. [size=..] [flags=..] · move N gpa=.. · flags N readonly,log_dirty_pages|- · delete N"


class CommandError(ValueError):
    """Bad input typed into the probe or the editor: the message is shown inline."""


def _num(token: str) -> int | str:
    try:
        return int(token.replace("_", ""), 0)
    except ValueError:
        return token  # sizes like 4K, or junk: the loader says which


def _keyvals(tokens: list[str], allowed: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for t in tokens:
        key, eq, value = t.partition("=")
        if not eq or key not in allowed:
            raise CommandError(f"expected key=value with key one of {', '.join(allowed)}, got {t!r}")
        if key == "flags":
            out[key] = [] if value in ("", "-", "none") else value.split(",")
        elif key == "host":
            out[key] = value
        else:
            out[key] = _num(value)
    return out


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as e:
        raise CommandError(str(e)) from None


def parse_probe(text: str, host_names: tuple[str, ...]) -> StepSpec:
    words = _split(text)
    if not words:
        raise CommandError("type a command: " + PROBE_HELP)
    cmd, args = words[0].lower(), words[1:]
    m: dict[str, Any]
    if cmd in ("r", "read", "f", "fetch"):
        op = "read" if cmd in ("r", "read") else "fetch"
        if len(args) not in (1, 2):
            raise CommandError(f"usage: {cmd} ADDR [SIZE]")
        m = {op: _num(args[0])}
        if len(args) == 2:
            m["size"] = _num(args[1])
    elif cmd in ("w", "write"):
        if len(args) == 2:
            m = {"write": _num(args[0]), "value": _num(args[1])}
        elif len(args) == 3:
            m = {"write": _num(args[0]), "size": _num(args[1]), "value": _num(args[2])}
        else:
            raise CommandError("usage: w ADDR [SIZE] VALUE")
    elif cmd == "slot":
        if not args:
            raise CommandError("usage: slot N gpa=.. host=.. [size=..] [flags=..]")
        m = {"set_memory_region": {"slot": _num(args[0]), **_keyvals(args[1:], ("gpa", "host", "size", "flags"))}}
    elif cmd in ("delete", "dirty"):
        if len(args) != 1:
            raise CommandError(f"usage: {cmd} N")
        m = {"delete_slot" if cmd == "delete" else "get_dirty_log": _num(args[0])}
    elif cmd == "cap":
        if len(args) != 1:
            raise CommandError("usage: cap KVM_CAP_NAME")
        m = {"check_extension": _num(args[0])}
    elif cmd in ("mprotect", "munmap", "madvise", "evict", "poison", "hostwrite"):
        op = {"madvise": "madvise_dontneed", "hostwrite": "host_write"}.get(cmd, cmd)
        if not args:
            raise CommandError(f"usage: {cmd} HOST{' PROT' if cmd == 'mprotect' else ''} ...")
        hm: dict[str, Any] = {"host": args[0]}
        rest = args[1:]
        if cmd == "mprotect":
            if not rest:
                raise CommandError("usage: mprotect HOST PROT [SIZE]")
            hm["prot"], rest = rest[0], rest[1:]
        if cmd == "hostwrite":
            if not rest:
                raise CommandError("usage: hostwrite HOST HEXBYTES")
            hm["data"], rest = " ".join(rest), []
        if rest:
            hm["size"] = _num(rest[0])
        m = {op: hm}
    else:
        raise CommandError(f"unknown command {cmd!r}: " + PROBE_HELP)
    try:
        return parse_step(m, host_names)
    except ScenarioError as e:
        raise CommandError(e.message) from None


def parse_edit(text: str, host_names: tuple[str, ...]) -> tuple[str, int, dict[str, Any]]:
    """An editor command: (verb, slot id, the fields it sets). Checked as a `slots:` entry would be."""
    words = _split(text)
    if len(words) < 2:
        raise CommandError("usage: " + EDIT_HELP)
    verb, slot_word, rest = words[0].lower(), words[1], words[2:]
    slot = _num(slot_word)
    if not isinstance(slot, int):
        raise CommandError(f"slot id {slot_word!r} is not a number")
    if verb == "add":
        fields = _keyvals(rest, ("gpa", "host", "size", "flags"))
        try:
            parse_slot_entry({"slot": slot, **fields}, host_names)
        except ScenarioError as e:
            raise CommandError(e.message) from None
    elif verb == "move":
        fields = _keyvals(rest, ("gpa",))
        if "gpa" not in fields:
            raise CommandError("usage: move N gpa=ADDR")
    elif verb == "flags":
        if len(rest) != 1:
            raise CommandError("usage: flags N readonly,log_dirty_pages (or - for none)")
        fields = _keyvals([f"flags={rest[0]}"], ("flags",))
    elif verb == "delete":
        if rest:
            raise CommandError("usage: delete N")
        fields = {}
    else:
        raise CommandError(f"unknown edit {verb!r}: " + EDIT_HELP)
    if verb in ("move", "flags"):
        try:  # check the values the way a slots: entry would be checked
            parse_slot_entry({"slot": slot, "gpa": fields.get("gpa", 0), "host": host_names[0] if host_names else "?", **fields}, host_names)
        except ScenarioError as e:
            raise CommandError(e.message) from None
        except IndexError:
            raise CommandError("the scenario has no host mappings") from None
    return verb, slot, fields
