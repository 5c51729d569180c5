"""Every prompt of the app, parsed here and nowhere else: the probe's and the slot editor's little command
language (turned into scenario steps), goto and breakpoints.

Pure functions of the text typed (plus the scenario's names and symbols): no Textual, unit-tested.
Syntax only: every value is then checked by the scenario loader's own parsers, so a prompt and a scenario
file accept and refuse exactly the same things (units like 1M, host names, symbols), with the same
messages; nothing typed raises anything but CommandError.
"""

from __future__ import annotations

import errno
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine.addresses import PAGE_SHIFT, U64_MAX
from ..engine.records import StepRecord
from ..engine.vocabulary import Outcome
from ..scenario import ScenarioError, StepSpec
from ..scenario.loader import parse_slot_entry, parse_step, parse_value
from ..scenario.yamlsafe import short

SymbolLookup = Callable[[str], "int | None"]

PROBE_HELP = (
    "r ADDR [SIZE] · w ADDR [SIZE] VALUE · f ADDR [SIZE] · slot N gpa=.. host=.. [size=..] [flags=readonly,log_dirty_pages] · "
    "delete N · dirty N · cap NAME · mprotect HOST PROT [SIZE] · munmap|madvise|evict|poison HOST [SIZE] · hostwrite HOST HEX · "
    "gmem NAME SIZE [flags=mmap,init_shared] · enable CAP ARG · clear N FIRST NUM · harvest [VCPU] · reset"
)
EDIT_HELP = "add N gpa=.. host=.. [size=..] [flags=..] · move N gpa=.. · flags N readonly,log_dirty_pages|- · delete N"


class CommandError(ValueError):
    """Bad input typed into the probe or the editor: the message is shown inline."""


def _num(token: str) -> int | str:
    if len(token) > 40:
        return token  # the loader refuses it by its length, before int() spends time on its digits
    try:
        return int(token.replace("_", ""), 0)
    except ValueError:
        return token  # sizes like 4K, or junk: the loader says which


def _addr(token: str, symbols: SymbolLookup | None) -> int | str:
    """An address: a number or size, or a symbol of the scenario's ELF images (as goto takes them)."""
    value = _num(token)
    if isinstance(value, str) and symbols is not None:
        found = symbols(token)
        if found is not None:
            return found
    return value


def _keyvals(tokens: list[str], allowed: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for t in tokens:
        key, eq, value = t.partition("=")
        if not eq or key not in allowed:
            raise CommandError(f"expected key=value with key one of {', '.join(allowed)}, got {short(t)}")
        if key == "flags":
            out[key] = [] if value in ("", "-", "none") else value.split(",")
        elif key in ("host", "guest_memfd"):
            out[key] = value
        else:
            out[key] = _num(value)
    return out


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as e:
        raise CommandError(str(e)) from None


def _need(args: list[str], counts: tuple[int, ...], usage: str) -> None:
    """The probe's arguments come in one of these counts, else its usage is the message."""
    if len(args) not in counts:
        raise CommandError("usage: " + usage)


def _at_least(args: list[str], n: int, usage: str) -> None:
    if len(args) < n:
        raise CommandError("usage: " + usage)


def _probe_access(cmd: str, args: list[str], symbols: SymbolLookup | None) -> dict[str, Any]:
    op = "read" if cmd in ("r", "read") else "fetch"
    _need(args, (1, 2), f"{cmd} ADDR [SIZE]")
    m: dict[str, Any] = {op: _addr(args[0], symbols)}
    if len(args) == 2:
        m["size"] = _num(args[1])
    return m


def _probe_write(cmd: str, args: list[str], symbols: SymbolLookup | None) -> dict[str, Any]:
    _need(args, (2, 3), "w ADDR [SIZE] VALUE")
    m: dict[str, Any] = {"write": _addr(args[0], symbols), "value": _num(args[-1])}
    if len(args) == 3:
        m["size"] = _num(args[1])
    return m


def _probe_slot(cmd: str, args: list[str], symbols: SymbolLookup | None) -> dict[str, Any]:
    _at_least(args, 1, "slot N gpa=.. host=.. [size=..] [flags=..]")
    return {"set_memory_region": {"slot": _num(args[0]), **_keyvals(args[1:], ("gpa", "host", "size", "flags", "guest_memfd", "ioctl"))}}


def _probe_slot_id(cmd: str, args: list[str], symbols: SymbolLookup | None) -> dict[str, Any]:
    _need(args, (1,), f"{cmd} N")
    return {"delete_slot" if cmd == "delete" else "get_dirty_log": _num(args[0])}


def _probe_cap(cmd: str, args: list[str], symbols: SymbolLookup | None) -> dict[str, Any]:
    _need(args, (1,), "cap KVM_CAP_NAME")
    return {"check_extension": _num(args[0])}


def _probe_gmem(cmd: str, args: list[str], symbols: SymbolLookup | None) -> dict[str, Any]:
    """Today's memory API (scenario-format.md, last section)."""
    _at_least(args, 2, "gmem NAME SIZE [flags=mmap,init_shared]")
    return {"create_guest_memfd": {"name": args[0], "size": _num(args[1]), **_keyvals(args[2:], ("flags",))}}


def _probe_enable(cmd: str, args: list[str], symbols: SymbolLookup | None) -> dict[str, Any]:
    _need(args, (2,), "enable KVM_CAP_NAME ARG")
    return {"enable_cap": {"cap": _num(args[0]), "args": _num(args[1])}}


def _probe_clear(cmd: str, args: list[str], symbols: SymbolLookup | None) -> dict[str, Any]:
    _need(args, (3,), "clear SLOT FIRST_PAGE NUM_PAGES")
    return {"clear_dirty_log": {"slot": _num(args[0]), "first_page": _num(args[1]), "num_pages": _num(args[2])}}


def _probe_harvest(cmd: str, args: list[str], symbols: SymbolLookup | None) -> dict[str, Any]:
    _need(args, (0, 1), "harvest [VCPU]")
    return {"harvest_dirty_ring": {"vcpu": _num(args[0])} if args else None}


def _probe_reset(cmd: str, args: list[str], symbols: SymbolLookup | None) -> dict[str, Any]:
    _need(args, (0,), "reset")
    return {"reset_dirty_rings": None}


_HOST_OPS = {"mprotect": "mprotect", "munmap": "munmap", "madvise": "madvise_dontneed", "evict": "evict", "poison": "poison",
             "hostwrite": "host_write"}


def _probe_host(cmd: str, args: list[str], symbols: SymbolLookup | None) -> dict[str, Any]:
    """mprotect HOST PROT [SIZE] · hostwrite HOST HEXBYTES · munmap|madvise|evict|poison HOST [SIZE]"""
    _at_least(args, 1, f"{cmd} HOST{' PROT' if cmd == 'mprotect' else ''} ...")
    hm: dict[str, Any] = {"host": args[0]}
    rest = args[1:]
    if cmd == "mprotect":
        _at_least(rest, 1, "mprotect HOST PROT [SIZE]")
        hm["prot"], rest = rest[0], rest[1:]
    elif cmd == "hostwrite":
        _at_least(rest, 1, "hostwrite HOST HEXBYTES")
        hm["data"], rest = " ".join(rest), []
    if rest:
        hm["size"] = _num(rest[0])
    return {_HOST_OPS[cmd]: hm}


ProbeParser = Callable[[str, list[str], "SymbolLookup | None"], dict[str, Any]]
PROBES: dict[str, ProbeParser] = {
    "r": _probe_access, "read": _probe_access, "f": _probe_access, "fetch": _probe_access,
    "w": _probe_write, "write": _probe_write,
    "slot": _probe_slot, "delete": _probe_slot_id, "dirty": _probe_slot_id, "cap": _probe_cap,
    "gmem": _probe_gmem, "enable": _probe_enable, "clear": _probe_clear, "harvest": _probe_harvest, "reset": _probe_reset,
    **dict.fromkeys(_HOST_OPS, _probe_host),
}


def parse_probe(text: str, host_names: tuple[str, ...], symbols: SymbolLookup | None = None) -> StepSpec:
    """A probe command as the scenario step it stands for (checked by the loader's own step parser)."""
    words = _split(text)
    if not words:
        raise CommandError("type a command: " + PROBE_HELP)
    cmd, args = words[0].lower(), words[1:]
    parser = PROBES.get(cmd)
    if parser is None:
        raise CommandError(f"unknown command {short(cmd)}: " + PROBE_HELP)
    try:
        return parse_step(parser(cmd, args, symbols), host_names)
    except ScenarioError as e:
        raise CommandError(e.message) from None


def parse_edit(text: str, host_names: tuple[str, ...]) -> tuple[str, int, dict[str, Any]]:
    """An editor command: (verb, slot id, the fields it sets). Checked as a `slots:` entry would be; gpa
    comes back as a number (whatever unit was typed), size as typed (4K stays 4K in the file)."""
    words = _split(text)
    if len(words) < 2:
        raise CommandError("usage: " + EDIT_HELP)
    verb, slot_word, rest = words[0].lower(), words[1], words[2:]
    try:
        slot = parse_value(_num(slot_word), "slot id", sizes=False, limit=0xFFFFFFFF)
    except ScenarioError as e:
        raise CommandError(e.message) from None
    if verb == "add":
        fields = _keyvals(rest, ("gpa", "host", "size", "flags"))
        try:
            spec = parse_slot_entry({"slot": slot, **fields}, host_names)
        except ScenarioError as e:
            raise CommandError(e.message) from None
        fields["gpa"] = spec.params["gpa"]
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
        raise CommandError(f"unknown edit {short(verb)}: " + EDIT_HELP)
    if verb in ("move", "flags"):
        if not host_names:
            raise CommandError("the scenario has no host mappings")
        try:  # check the values the way a slots: entry would be checked
            spec = parse_slot_entry({"slot": slot, "gpa": fields.get("gpa", 0), "host": host_names[0], **fields}, host_names)
        except ScenarioError as e:
            raise CommandError(e.message) from None
        if "gpa" in fields:
            fields["gpa"] = spec.params["gpa"]
    return verb, slot, fields


# -- goto -------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GotoStep:
    index: int  # 0-based


@dataclass(frozen=True, slots=True)
class GotoAddress:
    gpa: int


GOTO_HELP = "a guest address (0xfffe0000, 1G), an ELF symbol, or step N"


def parse_goto(text: str, steps: int, symbols: SymbolLookup | None = None) -> GotoStep | GotoAddress:
    """`step N` (1-based, within the run) or an address below 2^64 (number, size or symbol)."""
    words = text.split()
    if not words:
        raise CommandError("type " + GOTO_HELP)
    if words[0].lower() == "step":
        if len(words) != 2:
            raise CommandError("usage: step N")
        try:
            n = parse_value(_num(words[1]), "step number", sizes=False)
        except ScenarioError as e:
            raise CommandError(e.message) from None
        if not 1 <= n <= steps:
            raise CommandError(f"step {n} is out of range (1 to {steps})")
        return GotoStep(n - 1)
    if len(words) != 1:
        raise CommandError(f"{short(text)}: write {GOTO_HELP}")
    value = _addr(words[0], symbols)
    if isinstance(value, str) and not any(c.isdigit() for c in value[:1]):
        raise CommandError(f"{short(value)} is not an address (write 0x1000, 4096 or 4K), a symbol, or 'step N'")
    try:
        return GotoAddress(parse_value(value, "address", limit=U64_MAX))
    except ScenarioError as e:
        raise CommandError(e.message) from None


# -- breakpoints ------------------------------------------------------------------------------------------
OUTCOME_NAMES: tuple[Outcome, ...] = tuple(Outcome)
BREAKPOINT_HELP = "gpa ADDR · gfn N · slot N · outcome NAME · clear"


@dataclass(frozen=True, slots=True)
class Breakpoint:
    kind: str  # gpa, gfn, slot, outcome
    value: int | str  # outcome names are kept as the records spell them (lower case, errnos upper case)

    def describe(self) -> str:
        return f"{self.kind} {self.value:#x}" if isinstance(self.value, int) and self.kind in ("gpa", "gfn") else f"{self.kind} {self.value}"

    def hit(self, rec: StepRecord) -> bool:
        """Whether this step stops here: its outcome (any case), the slot it used or changed, or an access
        whose bytes cover the gpa / touch the gfn."""
        a = rec.args
        if self.kind == "outcome":
            return str(rec.outcome).lower() == str(self.value).lower()
        if self.kind == "slot":
            return rec.slot == self.value or (not rec.is_access and a.get("slot") == self.value)
        if self.kind in ("gpa", "gfn") and rec.is_access:
            lo, hi = a["gpa"], a["gpa"] + a["size"]
            if self.kind == "gpa":
                return lo <= int(self.value) < hi
            return lo >> PAGE_SHIFT <= int(self.value) <= (hi - 1) >> PAGE_SHIFT
        return False


def breakpoint_hit(breakpoints: list[Breakpoint], rec: StepRecord) -> str | None:
    """The first breakpoint the step hits, as the status line names it; None when it runs on."""
    return next((bp.describe() for bp in breakpoints if bp.hit(rec)), None)


def outcome_name(text: str) -> str:
    """A record outcome typed in any case: an access outcome (efault, mmio...) or an errno name (EINVAL)."""
    low = text.lower()
    if low in OUTCOME_NAMES:
        return low
    up = text.upper()
    if up in errno.errorcode.values():
        return up
    raise CommandError(f"outcome {short(text)} is not known (one of {', '.join(OUTCOME_NAMES)}, or an errno name like EINVAL)")


def parse_breakpoint(text: str, symbols: SymbolLookup | None = None) -> Breakpoint | None:
    """A breakpoint, or None for `clear`."""
    words = text.split()
    if [w.lower() for w in words] == ["clear"]:
        return None
    if len(words) != 2:
        raise CommandError("write " + BREAKPOINT_HELP)
    kind = words[0].lower()
    if kind == "outcome":
        return Breakpoint("outcome", outcome_name(words[1]))
    limits = {"gpa": U64_MAX, "gfn": U64_MAX >> PAGE_SHIFT, "slot": 0xFFFFFFFF}
    if kind not in limits:
        raise CommandError(f"unknown breakpoint {short(words[0])}: write " + BREAKPOINT_HELP)
    value = _addr(words[1], symbols) if kind == "gpa" else _num(words[1])
    try:
        return Breakpoint(kind, parse_value(value, kind, sizes=kind == "gpa", limit=limits[kind]))
    except ScenarioError as e:
        raise CommandError(e.message) from None
