"""Real VMM memory layouts: QEMU's kvm_set_user_memory trace and strace of the KVM ioctls, as scenarios.

Each logged KVM_SET_USER_MEMORY_REGION becomes one set_memory_region step carrying the recorded return
value as its `expect:`, so kvmtui shows where its model of the kernel disagrees with what the real
kernel answered. Lines that are not memslot updates are skipped and counted, never fatal.
"""

from __future__ import annotations

import errno
import os
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.addresses import PAGE_MASK, U64_MAX, format_size, split_slot
from ..engine.uapi import FLAG_ALIASES, KVM_CAPS, KVM_MEM_GUEST_MEMFD
from ..engine.values import fast_dataclass
from .errors import ScenarioError
from .inputfile import MAX_LOG_BYTES, MAX_MAPS_BYTES, read_text
from .model import Expect, HostRef, HostSpec, Pos, Scenario, StepSpec, new_expect, new_pos, new_step
from .sniff import RAW_REGION2 as _RAW_REGION2
from .sniff import STRACE_PREFIX, LogFormat, detect_format
from .sniff import looks_like_log as looks_like_log  # (where the app and tests find it)
from .yamlsafe import short

MERGE_GAP = 2 << 20  # userspace ranges closer than this are taken as one mmap when no maps file says otherwise

_HEX = r"0x[0-9a-fA-F]+"
_PREFIX = r"^(?:(?P<pid>\d+)@(?P<ts>\d+\.\d+):)?"
QEMU_OLD = re.compile(_PREFIX + r"kvm_set_user_memory Slot#(?P<slot>\d+) flags=(?P<flags>" + _HEX + r") gpa=(?P<gpa>" + _HEX +
                      r") size=(?P<size>" + _HEX + r") ua=(?P<ua>" + _HEX + r") ret=(?P<ret>-?\d+)\s*$")
QEMU_NEW = re.compile(_PREFIX + r"kvm_set_user_memory AddrSpace#(?P<as>\d+) Slot#(?P<slot>\d+) flags=(?P<flags>" + _HEX +
                      r") gpa=(?P<gpa>" + _HEX + r") size=(?P<size>" + _HEX + r") ua=(?P<ua>" + _HEX +
                      r") guest_memfd=(?P<gmemfd>-?\d+) guest_memfd_offset=(?P<gmemoff>" + _HEX + r") ret=(?P<ret>-?\d+)\s*$")
QEMU_FAIL = re.compile(r"KVM_SET_USER_MEMORY_REGION2? failed, slot=(?P<slot>\d+), start=(?P<gpa>" + _HEX + r"), size=(?P<size>" +
                       _HEX + r")(?:, flags=(?P<flags>" + _HEX + r"))?.*?: (?P<err>[^:]+?)\s*$")
QEMU_TRACE_ANY = re.compile(_PREFIX + r"[a-z0-9_]+ ")
STRACE_SET = re.compile(STRACE_PREFIX + r"ioctl\(\d+, (?P<ioctl>KVM_SET_USER_MEMORY_REGION2?), \{(?P<body>[^}]*)\}\)\s+=\s+(?P<ret>-?\d+)(?:\s+(?P<err>E[A-Z0-9]+))?")
STRACE_CAP = re.compile(STRACE_PREFIX + r"ioctl\(\d+, KVM_CHECK_EXTENSION, (?P<cap>KVM_CAP_[A-Z0-9_]+|\d+)\)\s+=\s+(?P<ret>-?\d+)")
# Today's memory API (strace decodes some of these structures; an undecoded pointer is read as "unknown")
# strace 6.1 prints these two undecoded, as _IOC(...) (captured here: tests/data/import/COMMANDS.md); _RAW_REGION2 in sniff
_RAW_GMEM = r"_IOC\(_IOC_READ\|_IOC_WRITE, 0xae, 0xd4, 0x40\)"
STRACE_RAW_REGION2 = re.compile(STRACE_PREFIX + r"ioctl\(\d+, " + _RAW_REGION2 + r", \S+?\)\s+=\s+(?P<ret>-?\d+)")
STRACE_GMEM = re.compile(STRACE_PREFIX + r"ioctl\(\d+, (?:KVM_CREATE_GUEST_MEMFD|" + _RAW_GMEM + r"), (?:\{(?P<body>[^}]*)\}|\S+?)\)\s+=\s+(?P<ret>-?\d+)(?:\s+(?P<err>E[A-Z0-9]+))?")
STRACE_ENABLE_CAP = re.compile(STRACE_PREFIX + r"ioctl\(\d+, KVM_ENABLE_CAP, (?:\{(?P<body>.*)\}|\S+?)\)\s+=\s+(?P<ret>-?\d+)(?:\s+(?P<err>E[A-Z0-9]+))?")
STRACE_CLEAR = re.compile(STRACE_PREFIX + r"ioctl\(\d+, KVM_CLEAR_DIRTY_LOG, (?:\{(?P<body>[^}]*)\}|\S+?)\)\s+=\s+(?P<ret>-?\d+)(?:\s+(?P<err>E[A-Z0-9]+))?")
STRACE_RESET = re.compile(STRACE_PREFIX + r"ioctl\(\d+, KVM_RESET_DIRTY_RINGS(?:, [^)]*)?\)\s+=\s+(?P<ret>-?\d+)(?:\s+(?P<err>E[A-Z0-9]+))?")
STRACE_RUN = re.compile(STRACE_PREFIX + r"ioctl\(\d+, KVM_RUN, [^)]*\)\s+=\s+(?P<ret>-?\d+)(?:\s+(?P<err>E[A-Z]+))?(?:.*\((?P<exit>KVM_EXIT_[A-Z_0-9]+)\))?")
MAPS_LINE = re.compile(r"^(?P<lo>[0-9a-f]+)-(?P<hi>[0-9a-f]+)\s+(?P<perms>[rwxps-]{4})\s+\S+\s+\S+\s+\d+\s*(?P<path>.*)$")

_STRERROR = {os.strerror(code): name for code, name in errno.errorcode.items()}


@fast_dataclass(frozen=True, slots=True)  # a log holds up to 10^5 of them
class MemEvent:
    line: int
    slot: int  # as_id << 16 | id, as the ioctl takes it
    flags: int
    gpa: int
    size: int
    uaddr: int
    ret: str  # "ok" or an errno name
    text: str
    ioctl: int = 1  # 1 = KVM_SET_USER_MEMORY_REGION, 2 = KVM_SET_USER_MEMORY_REGION2
    gmem_fd: int = -1  # REGION2's guest_memfd and guest_memfd_offset
    gmem_offset: int = 0


@fast_dataclass(frozen=True, slots=True)  # a log holds up to 10^5 of them
class CapEvent:
    line: int
    cap: int
    name: str
    value: int


@fast_dataclass(frozen=True, slots=True)  # a log holds up to 10^5 of them
class ApiEvent:
    """One ioctl of today's memory API: KVM_CREATE_GUEST_MEMFD, KVM_ENABLE_CAP, KVM_CLEAR_DIRTY_LOG, KVM_RESET_DIRTY_RINGS."""

    line: int
    op: str  # create_guest_memfd | enable_cap | clear_dirty_log | reset_dirty_rings
    params: dict
    ret: str  # "ok" or an errno name
    value: int | None  # what the ioctl returned when it succeeded (the new fd, the count reset)
    text: str


@dataclass
class ImportedLog:
    format: LogFormat
    events: list[MemEvent | CapEvent | ApiEvent] = field(default_factory=list)
    skipped: int = 0  # lines that are neither a memslot update nor a capability check
    exits: dict[str, int] = field(default_factory=dict)  # KVM_RUN exit reasons, counted
    notes: list[str] = field(default_factory=list)

    @property
    def memslot_events(self) -> list[MemEvent]:
        return [e for e in self.events if isinstance(e, MemEvent)]


QEMU_INTERNAL = re.compile(r"KVM internal error\. Suberror: (?P<sub>\d+)")


def _errname(ret: int) -> str:
    return "ok" if ret >= 0 else errno.errorcode.get(-ret, f"E{-ret}")


class _Num:
    """Numbers read from one log line: digits counted before int(), values bounded to the kernel's types,
    and a refusal names the log's line and the field's column."""

    def __init__(self, source: str, n: int, m: re.Match[str]) -> None:
        self.source, self.n, self.m = source, n, m

    def __call__(self, group: str, what: str, limit: int = U64_MAX, default: str | None = None) -> int:
        text = self.m[group] if self.m[group] is not None else default
        col = (self.m.start(group) + 1) if self.m[group] is not None else None
        return bounded_int(text or "", what, self.source, self.n, col, limit)


_PLAIN_NUMBER = re.compile(r"0[xX][0-9a-fA-F]{1,16}|[0-9]{1,19}")  # at most 64 bits whatever the digits: no counting


def bounded_int(text: str, what: str, source: str, line: int, col: int | None, limit: int = U64_MAX, signed: bool = False) -> int:
    """int(text, 0) with its digits counted first (no 4,300-digit conversion, no 64-bit overflow)."""
    if _PLAIN_NUMBER.fullmatch(text):  # almost every number in a log: read at once
        value = int(text, 16) if text[1:2] in ("x", "X") else int(text)
        if value <= limit:
            return value
    t = text.strip()
    neg = t.startswith("-")
    body = t[1:] if neg or t.startswith("+") else t
    hexa = body[:2].lower() == "0x"
    digits = (body[2:] if hexa else body).lstrip("0")
    if not (body[2:] if hexa else body) or len(digits) > (16 if hexa else 20):
        raise ScenarioError(source, line, col, f"{what} {short(t)} is not a number of at most 64 bits")
    try:
        value = int(body, 16 if hexa else 10)
    except ValueError:
        raise ScenarioError(source, line, col, f"{what} {short(t)} is not a number") from None
    if neg and not signed and value:
        raise ScenarioError(source, line, col, f"{what} {short(t)} must not be negative")
    if value > limit:
        raise ScenarioError(source, line, col, f"{what} {t} is out of range (at most {limit:#x})")
    return -value if neg else value


def _qemu_set(m: re.Match[str], n: int, line: str, source: str) -> MemEvent:
    """One kvm_set_user_memory line's event. Numbers short enough to be in range whatever their digits are
    read at once; anything longer takes the careful reading, which names the field that is out of range."""
    new_form = m.re is QEMU_NEW
    slot_s, flags_s, gpa_s, size_s, ua_s, ret_s = m.group("slot", "flags", "gpa", "size", "ua", "ret")
    if (len(slot_s) < 5 and len(flags_s) <= 10 and len(gpa_s) <= 18 and len(size_s) <= 18 and len(ua_s) <= 18
            and len(ret_s) <= 10 and not new_form):
        ret = int(ret_s)
        if -0x7FFFFFFF <= ret <= 0x7FFFFFFF:
            return MemEvent(n, int(slot_s), int(flags_s, 16), int(gpa_s, 16), int(size_s, 16), int(ua_s, 16),
                            _errname(ret), line.strip())
    num = _Num(source, n, m)
    as_id = num("as", "AddrSpace", 0xFFFF, default="0") if new_form else 0
    slot = num("slot", "slot", 0xFFFF) | (as_id << 16)
    ret = bounded_int(m["ret"], "ret", source, n, m.start("ret") + 1, 0x7FFFFFFF, signed=True)
    gfd = bounded_int(m["gmemfd"], "guest_memfd", source, n, m.start("gmemfd") + 1, 0x7FFFFFFF, signed=True) if new_form else -1
    return MemEvent(n, slot, num("flags", "flags", 0xFFFFFFFF), num("gpa", "gpa"), num("size", "size"), num("ua", "ua"),
                    _errname(ret), line.strip(), 2 if new_form else 1, gfd, num("gmemoff", "guest_memfd_offset") if new_form else 0)


def parse_qemu_trace(text: str, source: str = "<log>") -> ImportedLog:
    log = ImportedLog("qemu-trace")
    last: MemEvent | None = None
    for n, line in enumerate(text.splitlines(), 1):
        # each pattern is tried only on a line holding its fixed words: most lines of a trace are other events
        m = (QEMU_NEW.match(line) or QEMU_OLD.match(line)) if "kvm_set_user_memory " in line else None
        if m:
            last = _qemu_set(m, n, line, source)
            log.events.append(last)
            continue
        f = QEMU_FAIL.search(line) if " failed, slot=" in line else None
        if f:
            num = _Num(source, n, f)
            err = _STRERROR.get(f["err"].strip(), "EINVAL")
            slot, gpa = num("slot", "slot", 0xFFFFFFFF), num("gpa", "start")
            same = last is not None and last.slot == slot and last.gpa == gpa and last.ret != "ok"
            if not same:  # the failure was not traced: the message is the only record of the ioctl
                last = MemEvent(n, slot, num("flags", "flags", 0xFFFFFFFF, default="0x0"), gpa, num("size", "size"), 0, err, line.strip())
                log.events.append(last)
                log.notes.append(f"line {n}: a failed ioctl known only from QEMU's message (userspace address unknown)")
            continue
        k = QEMU_INTERNAL.search(line) if "KVM internal error" in line else None
        if k:
            after = f", after the memslot update at line {last.line}" if last else ""
            log.notes.append(f"line {n}: KVM internal error, suberror {k['sub']} (1: emulation failure): QEMU stopped the guest{after}")
        if line.strip():
            log.skipped += 1
    return log


def _strace_api(n: int, line: str) -> ApiEvent | str | None:
    """An ApiEvent, a reason the line could not be read (str), or None when it is not one of these ioctls."""
    for rx, op in ((STRACE_GMEM, "create_guest_memfd"), (STRACE_ENABLE_CAP, "enable_cap"), (STRACE_CLEAR, "clear_dirty_log"),
                   (STRACE_RESET, "reset_dirty_rings")):
        m = rx.match(line)
        if not m:
            continue
        ret = int(m["ret"])
        status = "ok" if ret >= 0 else (m["err"] or "EINVAL")
        value = ret if ret >= 0 else None
        body = m.groupdict().get("body")
        if op == "reset_dirty_rings":
            return ApiEvent(n, op, {}, status, value, line.strip())
        if body is None:
            what = {"create_guest_memfd": "KVM_CREATE_GUEST_MEMFD", "enable_cap": "KVM_ENABLE_CAP", "clear_dirty_log": "KVM_CLEAR_DIRTY_LOG"}[op]
            return f"{what} = {m['ret']} with its argument undecoded by strace: skipped (files it made are sized from the slots that use them)"
        try:
            f = _strace_fields(body)
            if op == "create_guest_memfd":
                params = {"name": f"gmem{value}" if value is not None else f"gmem_l{n}", "size": int(f["size"], 0),
                          "flags": _gmem_flags(f.get("flags", "0"))}
            elif op == "enable_cap":
                cap = f["cap"]
                args = [int(a, 0) for a in re.findall(r"0x[0-9a-fA-F]+|\d+", body.split("args=", 1)[1])][:4] if "args=" in body else [0]
                params = {"cap": KVM_CAPS[cap] if cap in KVM_CAPS else int(cap, 0), "args": tuple(args) or (0,)}
            else:
                params = {"slot": int(f["slot"], 0), "first_page": int(f["first_page"], 0), "num_pages": int(f["num_pages"], 0)}
        except (KeyError, ValueError, IndexError):
            return f"{op.upper()} not read: `{line.strip()[:80]}`"
        return ApiEvent(n, op, params, status, value, line.strip())
    return None


def _gmem_flags(text: str) -> int:
    bits = 0
    for name in re.split(r"[|\s]+", text.strip()):
        if not name or name == "0":
            continue
        bits |= {"GUEST_MEMFD_FLAG_MMAP": 1, "GUEST_MEMFD_FLAG_INIT_SHARED": 2}.get(name) or int(name, 0)
    return bits


def _strace_fields(body: str) -> dict[str, str]:
    out = {}
    for part in body.split(","):
        k, _, v = part.strip().partition("=")
        out[k.strip()] = v.strip()
    return out


def _strace_flags(text: str) -> int:
    bits = 0
    for name in text.split("|"):
        name = name.strip()
        if not name or name == "0":
            continue
        if name in FLAG_ALIASES:
            bits |= FLAG_ALIASES[name]
        else:
            bits |= bounded_int(name, "flags", "<log>", 0, None, 0xFFFFFFFF)
    return bits


# The usual KVM_SET_USER_MEMORY_REGION line, fields in strace's order and numbers short enough to be in range
# whatever their digits: read by one match (STRACE_SET then _strace_fields and bounded_int for each field
# give the same event, and take the rest: other orders, REGION2, longer numbers, failures)
STRACE_SET_FAST = re.compile(STRACE_PREFIX + r"ioctl\(\d+, KVM_SET_USER_MEMORY_REGION, \{slot=(?P<slot>\d{1,9}), "
                             r"flags=(?P<flags>0|[A-Z][A-Z_|]{0,80}), guest_phys_addr=(?P<gpa>0x[0-9a-f]{1,16}), "
                             r"memory_size=(?P<size>\d{1,19}), userspace_addr=(?P<ua>0x[0-9a-f]{1,16})\}\)\s+=\s+\d{1,9}(?!\d)")


def parse_strace(text: str, source: str = "<log>") -> ImportedLog:
    log = ImportedLog("strace")
    flag_bits: dict[str, int] = {}  # the flags fields of fast lines, read once each
    events = log.events
    fast = STRACE_SET_FAST.match
    for n, line in enumerate(text.splitlines(), 1):
        m = fast(line)
        if m:
            slot, flags_s, gpa, size, ua = m.group("slot", "flags", "gpa", "size", "ua")
            flags = flag_bits.get(flags_s)
            if flags is None and all(f.strip() in FLAG_ALIASES or f.strip() == "0" for f in flags_s.split("|")):
                flags = flag_bits[flags_s] = _strace_flags(flags_s)
            if flags is not None:
                events.append(MemEvent(n, int(slot), flags, int(gpa, 16), int(size), int(ua, 16), "ok", line.strip()))
                continue
        m = STRACE_SET.match(line)
        if m:
            try:
                f = _strace_fields(m["body"])
                col = m.start("body") + 1
                num = {key: bounded_int(f[key], key, source, n, col, 0xFFFFFFFF if key == "slot" else U64_MAX)
                       for key in ("slot", "guest_phys_addr", "memory_size", "userspace_addr")}
                ret = "ok" if bounded_int(m["ret"], "ret", source, n, m.start("ret") + 1, 0x7FFFFFFF, signed=True) >= 0 else (m["err"] or "EINVAL")
                v2 = m["ioctl"].endswith("2")
                gfd = bounded_int(f.get("guest_memfd", "-1"), "guest_memfd", source, n, col, 0x7FFFFFFF, signed=True) if v2 else -1
                goff = bounded_int(f.get("guest_memfd_offset", "0"), "guest_memfd_offset", source, n, col) if v2 else 0
                log.events.append(MemEvent(n, num["slot"], _strace_flags(f.get("flags", "0")), num["guest_phys_addr"],
                                           num["memory_size"], num["userspace_addr"], ret, line.strip(), 2 if v2 else 1, gfd, goff))
            except (KeyError, ValueError):
                log.skipped += 1
            except ScenarioError as e:
                if e.line == 0:  # a bad flag: the line is known here, not in _strace_flags
                    raise ScenarioError(source, n, col, e.message) from None
                raise
            continue
        c = STRACE_CAP.match(line)
        if c:
            name = c["cap"]
            if name in KVM_CAPS:
                log.events.append(CapEvent(n, KVM_CAPS[name], name, bounded_int(c["ret"], "ret", source, n, c.start("ret") + 1, 0x7FFFFFFF, signed=True)))
            else:
                log.skipped += 1
            continue
        if STRACE_RAW_REGION2.match(line):
            log.skipped += 1
            log.notes.append(f"line {n}: KVM_SET_USER_MEMORY_REGION2 undecoded by strace (printed as _IOC(...)): skipped")
            continue
        api = _strace_api(n, line)
        if api is not None:
            if isinstance(api, ApiEvent):
                log.events.append(api)
            else:
                log.skipped += 1
                log.notes.append(f"line {n}: {api}")
            continue
        r = STRACE_RUN.match(line)
        if r:
            reason = r["exit"] or (f"-{r['err']}" if r["err"] else "returned")
            log.exits[reason] = log.exits.get(reason, 0) + 1
            continue
        if line.strip():
            log.skipped += 1
    return log


@dataclass(frozen=True, slots=True)
class MapsEntry:
    lo: int
    hi: int
    prot: str
    backing: str
    path: str


def parse_maps(text: str) -> list[MapsEntry]:
    out = []
    for line in text.splitlines():
        m = MAPS_LINE.match(line)
        if not m:
            continue
        perms = m["perms"]
        prot = "rw" if perms[:2] == "rw" else ("r" if perms[0] == "r" else "none")
        path = m["path"].strip()
        file_backed = bool(path) and not path.startswith("[") and not path.startswith("/memfd:") and "(deleted)" not in path
        out.append(MapsEntry(int(m["lo"], 16), int(m["hi"], 16), prot, "file" if file_backed else "anon", path))
    return out


def read_maps(path: str | Path) -> str:
    """A /proc/PID/maps file (or a copy of one): the one input that may live in /proc."""
    return read_text(path, what="a /proc/PID/maps file", limit=MAX_MAPS_BYTES, strict=False, allow_proc=True)


def read_log(path: str | Path) -> ImportedLog:
    text = read_text(path, what="a QEMU trace or strace log", limit=MAX_LOG_BYTES, strict=False)
    fmt = detect_format(text)
    if fmt is None:
        raise ScenarioError(str(path), None, None, "not a QEMU kvm_set_user_memory trace nor an strace of the KVM ioctls")
    log = parse_qemu_trace(text, str(path)) if fmt == "qemu-trace" else parse_strace(text, str(path))
    if not log.memslot_events:
        raise ScenarioError(str(path), None, None, f"no KVM_SET_USER_MEMORY_REGION in this {fmt} log ({log.skipped} other lines)")
    return log


def _regions(events: list[MemEvent], maps: list[MapsEntry] | None) -> list[tuple[int, int, str, str, str]]:
    """Host mappings covering every logged userspace range: (lo, hi, name, prot, backing)."""
    # Whole pages around each logged range (an unaligned userspace_addr is the kernel's EINVAL to give,
    # not a reason for a mapping that cannot exist); a range past the top of the address space has no
    # mapping at all, and its step keeps its raw userspace_addr.
    ranges = sorted({(e.uaddr & ~PAGE_MASK, (e.uaddr + e.size + PAGE_MASK) & ~PAGE_MASK) for e in events
                     if e.size and e.uaddr and e.uaddr + e.size + PAGE_MASK <= U64_MAX})
    out: list[list] = []
    for lo, hi in ranges:
        if maps:
            vmas = [v for v in maps if v.lo < hi and v.hi > lo]
            if vmas:
                lo, hi = min(lo, *(v.lo for v in vmas)), max(hi, *(v.hi for v in vmas))
        if out and lo <= out[-1][1] + (0 if maps else MERGE_GAP):
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    regions = []
    taken: set[str] = set()
    for i, (lo, hi) in enumerate(out):
        prot, backing, name = "rw", "anon", f"m{i}"
        if maps:
            vmas = [v for v in maps if v.lo < hi and v.hi > lo]
            if vmas:
                first = max(vmas, key=lambda v: v.hi - v.lo)
                prot, backing = first.prot, first.backing
                name = mapping_name(first.path) or name
        base, k = name, 2
        while name in taken:  # two memfds of one name (QEMU calls each memory-backend-memfd)
            name, k = f"{base}#{k}", k + 1
        taken.add(name)
        regions.append((lo, hi, name, prot, backing))
    return regions


def mapping_name(path: str) -> str:
    """A maps line's path as a host mapping name: `/memfd:pc.ram`, `/usr/share/seabios/bios.bin`; no
    " (deleted)" suffix, and no `+` or spaces (a host reference is NAME+OFFSET). "" for anonymous memory
    and the kernel's [heap]-style names."""
    path = path.replace(" (deleted)", "").strip()
    if not path or path.startswith("["):
        return ""
    return re.sub(r"[+\s]", "_", path)


def address_spaces_of(log: ImportedLog) -> tuple[int, str] | None:
    """How many address spaces the log's kernel had, and why we think so, when the log shows more than one:
    it accepted a slot with as_id >= 1, or answered KVM_CAP_MULTI_ADDRESS_SPACE with n > 1."""
    best: tuple[int, str] | None = None
    for e in log.events:
        if isinstance(e, MemEvent) and e.ret == "ok":
            as_id = split_slot(e.slot)[0]
            if as_id >= 1 and (best is None or as_id + 1 > best[0]):
                best = (as_id + 1, f"line {e.line}: the kernel accepted slot {e.slot} (address space {as_id})")
        elif isinstance(e, CapEvent) and e.name == "KVM_CAP_MULTI_ADDRESS_SPACE" and e.value > 1 and (best is None or e.value > best[0]):
            best = (e.value, f"line {e.line}: KVM_CAP_MULTI_ADDRESS_SPACE = {e.value}")
    return best


def log_to_scenario(log: ImportedLog, source: str, maps_text: str | None = None) -> Scenario:
    maps = parse_maps(maps_text) if maps_text else None
    events = log.memslot_events
    regions = _regions(events, maps)
    host = tuple(HostSpec(name, hi - lo, prot, backing, 0, b"", lo, Pos(0, 0)) for lo, hi, name, prot, backing in regions)
    steps: list[StepSpec] = []
    made = {e.params["name"] for e in log.events if isinstance(e, ApiEvent) and e.op == "create_guest_memfd"}
    setup = _implied_gmem(events, made)
    shown = Path(source).name
    starts = [r[0] for r in regions]  # sorted and apart (_regions merges touching ranges): one bisect per event
    for e in log.events:
        if isinstance(e, ApiEvent):
            expect = Expect(outcome=e.ret, value=e.value if e.op == "reset_dirty_rings" else None, pos=Pos(e.line, 1))
            steps.append(StepSpec(e.op, dict(e.params), f"{Path(source).name}:{e.line}: `{e.text}`", expect, Pos(e.line, 1)))
            continue
        if isinstance(e, CapEvent):
            steps.append(StepSpec("check_extension", {"cap": e.cap}, f"{shown}:{e.line}: {e.name} = {e.value}",
                                  Expect(value=e.value, pos=Pos(e.line, 1)), Pos(e.line, 1)))
            continue
        params: dict = {"slot": e.slot, "gpa": e.gpa, "size": e.size, "flags": e.flags}
        if e.ioctl == 2 and e.flags & KVM_MEM_GUEST_MEMFD:
            params["guest_memfd"] = HostRef(f"gmem{e.gmem_fd}", e.gmem_offset) if e.gmem_fd >= 0 else HostRef("gmem_none", 0)
        if e.ioctl != (2 if "guest_memfd" in params or e.flags & KVM_MEM_GUEST_MEMFD else 1):
            params["ioctl"] = e.ioctl
        i = bisect_right(starts, e.uaddr) - 1
        lo, hi, name = regions[i][:3] if i >= 0 else (0, 0, "")
        if i >= 0 and (e.uaddr < hi or (e.size == 0 and e.uaddr <= hi)):
            params["host"] = HostRef(name, e.uaddr - lo)
        else:
            params["uaddr"] = e.uaddr
        pos = new_pos(e.line, 1)  # (Pos and Expect are values: one Pos serves the step and its expectation)
        steps.append(new_step("set_memory_region", params, new_expect(e.ret, None, pos), pos, note=f"{shown}:{e.line}: `{e.text}`"))
    n_set = len(events)
    summary = [
        (f"Imported from `{Path(source).name}` ({log.format}): {n_set} memslot update{'s' if n_set != 1 else ''}, "
         f"{sum(isinstance(e, CapEvent) for e in log.events)} capability checks, {log.skipped} other lines skipped."),
        "Each step carries the return value the real kernel gave as its expectation.",
    ]
    if regions:
        summary.append("Host mappings inferred from the userspace addresses" + (" and the maps file:" if maps else ":") + "\n\n"
                       + "\n".join(f"- `{name}`: `{lo:#x}`–`{hi:#x}` ({format_size(hi - lo)}, {prot}, {backing})"
                                    for lo, hi, name, prot, backing in regions))
    spaces = address_spaces_of(log)
    if spaces:
        summary.append(f"Read with {spaces[0]} address spaces, as the log's kernel had them ({spaces[1]}); "
                       "this machine's kernel has one.")
    if log.exits:
        summary.append("KVM_RUN exits seen: " + ", ".join(f"{k} ×{v}" for k, v in sorted(log.exits.items(), key=lambda kv: -kv[1])))
    notes = tuple(log.notes)
    if setup:
        summary.append("guest_memfd files the log uses but does not create (QEMU's trace does not show KVM_CREATE_GUEST_MEMFD) "
                       "are made at setup, as large as the slots need, without flags: " + ", ".join(f"`{s.params['name']}`" for s in setup))
    return Scenario(source, f"{Path(source).name} ({log.format})", "\n\n".join(summary), "modern", "native", 0xFF,
                    host, (), tuple(setup), tuple(steps), 1, (), notes, spaces[0] if spaces else None)


def _implied_gmem(events: list[MemEvent], made: set[str]) -> list[StepSpec]:
    """guest_memfd files the slots name but the log never shows being made."""
    need: dict[str, int] = {}
    for e in events:
        if e.ioctl == 2 and e.flags & KVM_MEM_GUEST_MEMFD and e.gmem_fd >= 0:
            name = f"gmem{e.gmem_fd}"
            if name not in made:
                need[name] = max(need.get(name, 0), e.gmem_offset + e.size)
    return [StepSpec("create_guest_memfd", {"name": n, "size": max((size + 4095) & ~4095, 4096), "flags": 0}, None, None, Pos(0, 0), phase="setup")
            for n, size in need.items()]


def scenario_yaml(scenario: Scenario) -> str:
    """The imported scenario as a format-1 file the user can edit and keep.

    Written directly rather than through ruamel's emitter, which takes ~25 s for 50,000 steps: every
    string goes out as a JSON string (a valid YAML double-quoted scalar), every number as an integer,
    and the tests load the result back with the scenario loader."""
    from json.encoder import encode_basestring_ascii  # json.dumps of a str, without its per-call set-up

    from ..engine.uapi import KVM_CAP_NAMES, flag_names

    q = encode_basestring_ascii
    flag_lists: dict[int, str] = {}  # a log repeats a few flag values: each written out once
    out = ["kvmtui: 1", f"title: {q(scenario.title)}", "description: |"]
    out += [f"  {line}" if line else "" for line in scenario.description.splitlines()]
    out.append(f"kernel: {scenario.kernel}")
    if scenario.address_spaces:
        out.append(f"address_spaces: {scenario.address_spaces}  # the log's kernel had them (it accepted address space 1)")
    gmem = [s for s in scenario.setup if s.op == "create_guest_memfd"]
    if gmem:
        out.append("guest_memfd:")
        for s in gmem:
            out.append(f"  {q(s.params['name'])}: {{size: {s.params['size']:#x}, flags: {s.params['flags']:#x}}}")
    if scenario.host:
        out.append("host:")
        for h in scenario.host:
            out.append(f"  {q(h.name)}: {{size: {h.size:#x}, prot: {h.prot}, backing: {h.backing}, hva: {h.hva or 0:#x}}}")
    out.append("steps:")
    for spec in scenario.steps:
        p = spec.params
        if spec.op == "check_extension":
            out.append(f"  - check_extension: {KVM_CAP_NAMES.get(p['cap'], p['cap'])}")
        elif spec.op == "create_guest_memfd":
            out.append(f"  - create_guest_memfd: {{name: {q(p['name'])}, size: {p['size']:#x}, flags: {p['flags']:#x}}}")
        elif spec.op == "enable_cap":
            out.append(f"  - enable_cap: {{cap: {KVM_CAP_NAMES.get(p['cap'], p['cap'])}, args: [{', '.join(hex(a) for a in p['args'])}]}}")
        elif spec.op == "clear_dirty_log":
            out.append(f"  - clear_dirty_log: {{slot: {p['slot']}, first_page: {p['first_page']}, num_pages: {p['num_pages']}}}")
        elif spec.op == "reset_dirty_rings":
            out.append("  - reset_dirty_rings: {}")
        else:
            place = f"host: {q(str(p['host']))}" if "host" in p else f"userspace_addr: {p['uaddr']:#x}"
            flags = flag_lists.get(p["flags"])
            if flags is None:
                names = flag_names(p["flags"])
                flags = flag_lists[p["flags"]] = "[" + ", ".join(names) + "]" if all(n.startswith("KVM_MEM_") for n in names) else f"{p['flags']:#x}"
            extra = ""
            if "guest_memfd" in p:
                extra += f", guest_memfd: {q(str(p['guest_memfd']))}"
            default_ioctl = 2 if p["flags"] & 4 or "guest_memfd" in p else 1
            if p.get("ioctl", default_ioctl) != default_ioctl:
                extra += f", ioctl: {p['ioctl']}"
            out.append(f"  - set_memory_region: {{slot: {p['slot']}, gpa: {p['gpa']:#x}, {place}, size: {p['size']:#x}, flags: {flags}{extra}}}")
        if spec.note:
            out.append(f"    note: {q(spec.note)}")
        e = spec.expect
        if e is not None:
            if e.outcome is not None and e.value is not None:
                out.append(f"    expect: {{outcome: {e.outcome}, value: {e.value}}}")
            else:
                out.append(f"    expect: {e.outcome}" if e.outcome is not None else f"    expect: {{value: {e.value}}}")
    return "\n".join(out) + "\n"


def scenario_from_log(path: str | Path, maps_path: str | None = None) -> Scenario:
    maps = None
    if maps_path:
        maps = read_maps(maps_path)
    return log_to_scenario(read_log(path), str(path), maps)
