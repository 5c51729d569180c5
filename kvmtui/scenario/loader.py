"""Scenario format 1 (scenario-format.md) from YAML to a Scenario, with one precise error per problem.

The loader checks types, names and ranges; addresses and sizes the kernel wants aligned are left to the
kernel model, so a scenario can show what the kernel says to a bad request.
"""

from __future__ import annotations

import errno
import gc
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any

from ..engine.addresses import PAGE_MASK, U64_MAX, parse_size
from ..engine.host import HostMemory, Mapping
from ..engine.uapi import FLAG_ALIASES, GMEM_FLAG_ALIASES, KVM_CAPS, VM_TYPES
from ..engine.values import builder
from ..engine.vocabulary import ACCESS_OUTCOMES, ACCESS_PATHS, ERAS, HOST_OPS, AccessKind
from . import fastitems
from .errors import ScenarioError
from .fastyaml import HasAliases, load_fast, plain_scalar
from .inputfile import MAX_ELF_BYTES as MAX_IMAGE_BYTES
from .inputfile import read_bytes
from .model import (
    Expect,
    HostRef,
    HostSpec,
    MmioDevice,
    Pos,
    Question,
    Scenario,
    StepSpec,
    _PosDraft,
    _StepDraft,
    new_outcome_expect,
    new_pos,
    new_step,
)
from .yamlsafe import load_yaml, read_text, short

FORMAT_VERSIONS = (1,)
KERNELS = ERAS
PATHS = ACCESS_PATHS
PROTS = ("rw", "r", "none")
BACKINGS = ("anon", "file")
TOP_KEYS = ("kvmtui", "title", "description", "kernel", "path", "mmio_fill", "vm_type", "guest_memfd", "address_spaces", "host", "slots",
            "elf", "mmio", "steps")
ELF_KEYS = ("file", "readonly", "slot")
ELF_READONLY = ("auto", "always", "never")
HOST_KEYS = ("size", "prot", "backing", "fill", "data", "file", "hva")
SLOT_KEYS = ("slot", "gpa", "host", "userspace_addr", "size", "flags", "guest_memfd", "ioctl")
GMEM_KEYS = ("size", "flags")
OTHER_VM = "other_vm"  # a guest_memfd of another VM (scenario-format.md, today's memory API)
MMIO_KEYS = ("name", "gpa", "size", "read")
COMMON_STEP_KEYS = ("note", "expect", "question")
QUESTION_KEYS = ("ask", "choices", "why")
ACCESS_OPS = tuple(k.value for k in AccessKind)
MEMAPI_OPS = ("create_guest_memfd", "enable_cap", "clear_dirty_log", "harvest_dirty_ring", "reset_dirty_rings")
STEP_OPS = (*ACCESS_OPS, "set_memory_region", "delete_slot", "get_dirty_log", "check_extension", *HOST_OPS, *MEMAPI_OPS)
STEP_EXTRA: dict[str, tuple[str, ...]] = {"read": ("size", "vcpu"), "write": ("size", "value", "vcpu"), "fetch": ("size", "vcpu")}
MEMAPI_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # (allowed, required)
    "create_guest_memfd": (("name", "size", "flags"), ("name", "size")),
    "enable_cap": (("cap", "args"), ("cap",)),
    "clear_dirty_log": (("slot", "first_page", "num_pages"), ("slot", "first_page", "num_pages")),
    "harvest_dirty_ring": (("vcpu",), ()),
    "reset_dirty_rings": ((), ()),
}
HOST_OP_KEYS: dict[str, tuple[str, ...]] = {
    "mprotect": ("host", "size", "prot"),
    "host_write": ("host", "data"),
    **dict.fromkeys(("munmap", "madvise_dontneed", "evict", "poison"), ("host", "size")),
}
ERRNO_NAMES = frozenset(errno.errorcode.values())
MAX_VCPU = 1023
MAX_PLACED_DATA = 64 << 20  # `data: {OFFSET: bytes}` builds the image up to its last piece: bounded


# Where a message points: a position, or (mapping, key) for the value of that key, looked up only when a
# message needs it (finding a value's position costs more than checking the value).
Where = Pos | tuple[Any, Any] | None


def _close_matches(word: str, choices: Any, n: int, cutoff: float) -> list[str]:
    """difflib.get_close_matches, for a "did you mean" in a message: difflib is imported when one is written."""
    import difflib

    return difflib.get_close_matches(word, choices, n=n, cutoff=cutoff)


class _Fallback(Exception):
    """The fast reading cannot vouch for this text: read it the ordinary way."""


class _Loader:
    def __init__(self, file: str, base_dir: Path, runs: list[fastitems.Run] | None = None, row_hosts: set[str] | None = None) -> None:
        self.file = file
        self.base_dir = base_dir
        self.runs = runs  # items read by fastitems, each run standing in its list as one placeholder item
        self.row_hosts = row_hosts or set()  # the host names of slots: entries fast_slot_rows made, checked by slot_entries
        self.runs_taken = 0
        self.kernel = "modern"
        self.gmem_names: set[str] | None = None  # every guest_memfd name the scenario makes (None: any, for probes)
        self.gmem_mmap: set[str] = set()  # those made with the mmap flag: host mappings too
        self.taken_names: set[str] = set()  # host mappings and guest_memfd files made so far (one namespace)

    def modern_only(self, pos: Where, what: str) -> None:
        """Today's memory API did not exist in the 3.x eras: refuse the keys there (check_extension answers 0)."""
        if self.kernel != "modern":
            raise self.error(pos, f"{what} is today's memory API (KVM_SET_USER_MEMORY_REGION2 era): not in kernel {self.kernel} (use `kernel: modern`)")

    # -- positions and errors ------------------------------------------------------------------------
    def error(self, pos: Where, message: str) -> ScenarioError:
        if isinstance(pos, tuple):  # (mapping, key): where the key's value was written, found only now
            pos = self.val_pos(*pos)
        return ScenarioError(self.file, pos.line if pos else None, pos.col if pos else None, message)

    @staticmethod
    def pos_of(node: Any) -> Pos | None:
        lc = getattr(node, "lc", None)
        if lc is None or lc.line is None:
            return None
        return Pos(lc.line + 1, lc.col + 1)

    @staticmethod
    def key_pos(m: Any, key: Any) -> Pos:
        try:
            line, col = m.lc.key(key)
            return Pos(line + 1, col + 1)
        except (AttributeError, KeyError, TypeError):
            return _Loader.pos_of(m) or Pos(1, 1)

    @staticmethod
    def val_pos(m: Any, key: Any) -> Pos:
        try:
            line, col = m.lc.value(key)
            return Pos(line + 1, col + 1)
        except (AttributeError, KeyError, TypeError):
            return _Loader.key_pos(m, key)

    @staticmethod
    def item_pos(seq: Any, i: int) -> Pos:
        try:
            line, col = seq.lc.item(i)
            return Pos(line + 1, col + 1)
        except (AttributeError, KeyError, TypeError, IndexError):
            return _Loader.pos_of(seq) or Pos(1, 1)

    def entries(self, seq: list, kind: str, whole_runs: bool = False):
        """(entry, position) of each item of a list, a fastitems placeholder replaced by the items it stands for
        (with whole_runs, by (the list of those items, None))."""
        runs = self.runs
        for i, entry in enumerate(seq):
            r = fastitems.run_index(entry) if runs is not None else None
            if r is None:
                yield entry, self.item_pos(seq, i)
                continue
            if runs is None or not 0 <= r < len(runs) or runs[r].kind != kind or runs[r] is _TAKEN:
                raise _Fallback
            run = runs[r]
            runs[r] = _TAKEN  # type: ignore[call-overload]
            self.runs_taken += 1
            if whole_runs:
                yield run.items, None
                continue
            for spec in run.items:  # StepSpecs already (fast_step), or RawSlots (fast_slot)
                yield spec, None

    # -- generic checks -------------------------------------------------------------------------------------
    def mapping(self, node: Any, pos: Where, what: str) -> dict:
        if not isinstance(node, dict):
            raise self.error(pos, f"{what} must be a mapping, not {_kind(node)}")
        return node

    def sequence(self, node: Any, pos: Where, what: str) -> list:
        if not isinstance(node, list):
            raise self.error(pos, f"{what} must be a list, not {_kind(node)}")
        return node

    def known_keys(self, m: dict, allowed: tuple[str, ...], what: str) -> None:
        for k in m:
            if not isinstance(k, str):
                raise self.error(self.key_pos(m, k), f"{what}: key {short(k)} is not a name")
            if k not in allowed:
                hint = _close_matches(k, allowed, n=1, cutoff=0.6)
                did = f"did you mean {short(hint[0])}? " if hint else ""
                raise self.error(self.key_pos(m, k), f"unknown key {short(k)} in {what} ({did}known: {', '.join(allowed)})")

    def required(self, m: dict, key: str, what: str) -> Any:
        if key not in m:
            raise self.error(self.pos_of(m), f"{what} needs `{key}:`")
        return m[key]

    def number(self, value: Any, pos: Where, what: str, sizes: bool = True, limit: int = U64_MAX) -> int:
        if isinstance(value, bool) or value is None:
            raise self.error(pos, f"{what} must be a number, not {_kind(value)}")
        if isinstance(value, int):
            n = int(value)
        elif isinstance(value, str):
            if not sizes:
                raise self.error(pos, f"{what} must be a number, not the text {short(str(value))}")
            try:
                n = parse_size(value)
            except ValueError:
                raise self.error(pos, f"{what}: {short(str(value))} is not a number or size (write 4096, 0x1000 or 4K, 2M, 1G, 1T)") from None
        else:
            raise self.error(pos, f"{what} must be a number{' or size like 4K' if sizes else ''}, not {_kind(value)}")
        if n < 0:
            raise self.error(pos, f"{what} must not be negative ({n})")
        if n > limit:
            if n > U64_MAX:
                raise self.error(pos, f"{what} is out of range ({n.bit_length()} bits; at most 64)")
            show = (lambda v: f"{v:#x}") if sizes else str
            raise self.error(pos, f"{what} {show(n)} is out of range (at most {show(limit)})")
        return n

    def text(self, value: Any, pos: Where, what: str) -> str:
        if not isinstance(value, str):
            raise self.error(pos, f"{what} must be text, not {_kind(value)}")
        return str(value)

    def choice(self, value: Any, pos: Where, what: str, allowed: tuple[str, ...]) -> str:
        text = str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
        if text not in allowed:
            hint = _close_matches(str(value), allowed, n=1, cutoff=0.5)
            did = f"did you mean {short(hint[0])}? " if hint else ""
            raise self.error(pos, f"{what} {short(value)} is not known ({did}allowed: {', '.join(allowed)})")
        return text

    def hexbytes(self, value: Any, pos: Where, what: str) -> bytes:
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{int(value):02x}"
        if not isinstance(value, str):
            raise self.error(pos, f"{what} must be hex bytes like \"ea 5b 00\", not {_kind(value)}")
        try:
            return bytes.fromhex(str(value))
        except ValueError:
            raise self.error(pos, f"{what}: {short(str(value))} is not hex bytes (write pairs of hex digits, like \"ea 5b 00\")") from None

    # -- sections -------------------------------------------------------------------------------------------
    def load(self, doc: Any) -> Scenario:
        top = self.mapping(doc, self.pos_of(doc) or Pos(1, 1), "a scenario")
        self.known_keys(top, TOP_KEYS, "the scenario")
        version = 1
        if "kvmtui" in top:
            version = self.number(top["kvmtui"], self.val_pos(top, "kvmtui"), "kvmtui (format version)", sizes=False)
            if version not in FORMAT_VERSIONS:
                raise self.error(self.val_pos(top, "kvmtui"), f"scenario format {version} is not supported (this kvmtui reads format 1)")
        title = self.text(top["title"], self.val_pos(top, "title"), "title") if "title" in top else Path(self.file).stem
        description = self.text(top["description"], self.val_pos(top, "description"), "description") if top.get("description") is not None else ""
        kernel = "modern"
        if "kernel" in top:
            raw = top["kernel"]
            if isinstance(raw, float):  # `kernel: 3.7` reads as a float in YAML
                raw = f"{raw:g}"
            kernel = self.choice(raw, self.val_pos(top, "kernel"), "kernel era", KERNELS)
        self.kernel = kernel
        path = self.choice(top["path"], self.val_pos(top, "path"), "path", PATHS) if "path" in top else "native"
        mmio_fill = self.number(top["mmio_fill"], self.val_pos(top, "mmio_fill"), "mmio_fill", sizes=False, limit=0xFF) if "mmio_fill" in top else 0xFF
        spaces = None  # KVM_ADDRESS_SPACE_NUM of the kernel a log came from (x86 with SMM: 2)
        if "address_spaces" in top:
            spaces = self.number(top["address_spaces"], self.val_pos(top, "address_spaces"), "address_spaces", sizes=False, limit=2)
            if spaces < 1:
                raise self.error(self.val_pos(top, "address_spaces"), "address_spaces is 1 or 2 (x86 kernels with SMM have 2)")
        host = self.host_section(top)
        api_setup = tuple(self.vm_type_entry(top)) + tuple(self.gmem_section(top, {h.name for h in host}))
        self.taken_names |= {h.name for h in host}
        self.prescan_gmem_steps(top, {h.name for h in host})
        gmem_hosts = tuple(sorted(self.gmem_mmap))
        setup = tuple(self.slot_entries(top, tuple(h.name for h in host) + gmem_hosts))
        elf_host, elf_setup, symbols, notes = self.elf_section(top, host, setup)
        host, setup = host + elf_host, api_setup + setup + elf_setup
        check_host_layout(host, self.file)
        names = tuple(h.name for h in host) + gmem_hosts
        mmio = tuple(self.mmio_section(top))
        steps = tuple(self.step_entries(top, names))
        if self.runs is not None and self.runs_taken != len(self.runs):  # a run outside `slots:`/`steps:`
            raise _Fallback
        if not setup and not steps:
            raise self.error(self.pos_of(top), "the scenario has neither `slots:` nor `steps:`: nothing to run")
        return Scenario(self.file, title, description, kernel, path, mmio_fill, host, mmio, setup, steps, version, symbols, notes, spaces)

    def elf_section(self, top: dict, host: tuple[HostSpec, ...], setup: tuple[StepSpec, ...]):
        """`elf:` images: each page-aligned range of the same permission becomes a mapping and a slot."""
        if top.get("elf") is None:
            return (), (), (), ()
        seq = self.sequence(top["elf"], self.val_pos(top, "elf"), "elf:")
        taken_names = {h.name for h in host}
        next_slot = max((s.params["slot"] for s in setup if "slot" in s.params), default=-1) + 1
        out_host: list[HostSpec] = []
        out_setup: list[StepSpec] = []
        symbols: list = []
        notes: list[str] = []
        for i, entry in enumerate(seq):
            pos = self.item_pos(seq, i)
            if isinstance(entry, str):
                entry = {"file": entry}
            m = self.mapping(entry, pos, "an elf: entry")
            self.known_keys(m, ELF_KEYS, "elf: entry")
            rel = self.text(self.required(m, "file", "an elf: entry"), self.val_pos(m, "file"), "file")
            mode = self.choice(m["readonly"], self.val_pos(m, "readonly"), "readonly", ELF_READONLY) if "readonly" in m else "auto"
            if "slot" in m:
                next_slot = self.number(m["slot"], self.val_pos(m, "slot"), "slot", sizes=False, limit=0xFFFFFFFF)
            path = Path(rel) if Path(rel).is_absolute() else self.base_dir / rel
            try:
                from .elf import read_elf  # (only for elf: images)

                image = read_elf(path, rel)
                ranges, place_notes = image.ranges()
            except ScenarioError as e:
                raise self.error(self.val_pos(m, "file"), f"{rel}: {e.message}") from None
            stem = Path(rel).stem.replace("+", "_") or "elf"
            for j, r in enumerate(ranges):
                name = f"{stem}.{j}"
                while name in taken_names:
                    name += "_"
                taken_names.add(name)
                readonly = mode == "always" or (mode == "auto" and not r.writable)
                out_host.append(HostSpec(name, r.size, "rw", "anon", 0, r.image, None, pos))  # the VMM copied the image into its own memory
                params = {"slot": next_slot, "gpa": r.gpa, "host": HostRef(name, 0), "size": r.size, "flags": 2 if readonly else 0}
                note = f"{rel}: segment{'s' if len(r.segments) > 1 else ''} {', '.join(map(str, r.segments))}, {'rw' if r.writable else 'read-only'}"
                out_setup.append(StepSpec("set_memory_region", params, note, None, pos, phase="setup"))
                next_slot += 1
            symbols.extend(image.symbols)
            notes.extend(f"{rel}: {n}" for n in (*image.notes, *place_notes))
        return tuple(out_host), tuple(out_setup), tuple(sorted(symbols, key=lambda s: (s.paddr, s.name))), tuple(notes)

    def host_section(self, top: dict) -> tuple[HostSpec, ...]:
        if top.get("host") is None:
            return ()
        section = self.mapping(top["host"], self.val_pos(top, "host"), "host:")
        out = []
        for name, spec in section.items():
            kpos = self.key_pos(section, name)
            if not isinstance(name, str) or not name or "+" in name:
                raise self.error(kpos, f"mapping name {short(name)} must be a plain name (no '+')")
            spec = self.mapping(spec, self.val_pos(section, name), f"host mapping {short(name)}")
            self.known_keys(spec, HOST_KEYS, f"host mapping {short(name)}")
            size = self.number(self.required(spec, "size", f"host mapping {short(name)}"), self.val_pos(spec, "size"), "size")
            if size == 0:
                raise self.error(self.val_pos(spec, "size"), "size of a mapping must be more than 0")
            prot = self.choice(spec["prot"], self.val_pos(spec, "prot"), "prot", PROTS) if "prot" in spec else "rw"
            backing = self.choice(spec["backing"], self.val_pos(spec, "backing"), "backing", BACKINGS) if "backing" in spec else "anon"
            fill = self.number(spec["fill"], self.val_pos(spec, "fill"), "fill", sizes=False, limit=0xFF) if "fill" in spec else 0
            if "data" in spec and "file" in spec:
                raise self.error(self.key_pos(spec, "file"), f"host mapping {short(name)} has both `data:` and `file:` (give one)")
            image = b""
            if "data" in spec and isinstance(spec["data"], dict):
                image = self.placed_data(spec["data"], self.val_pos(spec, "data"), size, fill, str(name))
            elif "data" in spec:
                image = self.hexbytes(spec["data"], self.val_pos(spec, "data"), "data")
            elif "file" in spec:
                image = self.image_file(spec["file"], self.val_pos(spec, "file"))
            if len(image) > size:
                raise self.error(self.key_pos(spec, "data" if "data" in spec else "file"), f"{len(image)} bytes of data do not fit in the {size}-byte mapping {short(name)}")
            hva = None
            if "hva" in spec:
                hva = self.number(spec["hva"], self.val_pos(spec, "hva"), "hva")
                if hva & PAGE_MASK:
                    raise self.error(self.val_pos(spec, "hva"), f"hva {hva:#x} must be page aligned (mmap() returns page-aligned addresses)")
            out.append(HostSpec(str(name), size, prot, backing, fill, image, hva, kpos))
        return tuple(out)

    def placed_data(self, value: dict, pos: Pos, size: int, fill: int, name: str) -> bytes:
        """`data: {OFFSET: "hex bytes", ...}`: bytes at offsets in the mapping, `fill` between them (an
        extension of format 1, so a ROM's reset vector can sit in its last 16 bytes)."""
        pieces = []
        for k, v in value.items():
            off = self.number(k, self.key_pos(value, k), "data offset")
            data = self.hexbytes(v, self.val_pos(value, k), "data")
            if off + len(data) > size:
                raise self.error(self.key_pos(value, k), f"data at offset {off:#x} ({len(data)} bytes) ends past the {size:#x}-byte mapping {name!r}")
            pieces.append((off, data))
        if not pieces:
            raise self.error(pos, "data: needs at least one OFFSET: \"hex bytes\" entry")
        end = max(off + len(d) for off, d in pieces)
        if end > MAX_PLACED_DATA:
            raise self.error(pos, f"data: pieces reach offset {end:#x}; placed data may span at most {MAX_PLACED_DATA >> 20} MiB")
        image = bytearray([fill]) * end
        for off, d in sorted(pieces, key=lambda p: p[0]):
            image[off:off + len(d)] = d
        return bytes(image)

    def image_file(self, value: Any, pos: Where) -> bytes:
        rel = self.text(value, pos, "file")
        p = (self.base_dir / rel) if not Path(rel).is_absolute() else Path(rel)
        try:
            return read_bytes(p, what="an image file", limit=MAX_IMAGE_BYTES, shown_as=rel)
        except ScenarioError as e:
            if e.message == "no such file":
                raise self.error(pos, f"file {short(rel)} not found (paths are relative to the scenario: {p})") from None
            raise self.error(pos, f"file {short(rel)}: {e.message}") from None

    def host_ref(self, value: Any, pos: Where, names: tuple[str, ...]) -> HostRef:
        text = self.text(value, pos, "host")
        name, _, off = text.partition("+")
        name = name.strip()
        if name not in names:
            hint = _close_matches(name, names, n=1, cutoff=0.5)
            did = f"did you mean {short(hint[0])}? " if hint else ""
            known = ", ".join(names) if names else "none: add a `host:` section"
            raise self.error(pos, f"unknown host mapping {short(name)} ({did}known: {known})")
        offset = 0
        if off.strip():
            try:
                offset = parse_size(off)
            except ValueError:
                raise self.error(pos, f"host {short(text)}: offset {short(off.strip())} is not a number or size") from None
        return HostRef(name, offset)

    def flags(self, value: Any, pos: Where) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return self.number(value, pos, "flags", sizes=False, limit=0xFFFFFFFF)
        if isinstance(value, str):
            value = [value]
        items = self.sequence(value, pos, "flags")
        bits = 0
        for i, name in enumerate(items):
            ipos = self.item_pos(items, i)
            key = str(name)
            if key not in FLAG_ALIASES:
                known = ("log_dirty_pages", "readonly", "KVM_MEM_LOG_DIRTY_PAGES", "KVM_MEM_READONLY")
                hint = _close_matches(key, list(FLAG_ALIASES), n=1, cutoff=0.5)
                did = f"did you mean {short(hint[0])}? " if hint else ""
                raise self.error(ipos, f"unknown flag {short(key)} ({did}known: {', '.join(known)}, or a number)")
            bits |= FLAG_ALIASES[key]
        return bits

    def slot_params(self, m: dict, names: tuple[str, ...], what: str) -> dict[str, Any]:
        self.known_keys(m, SLOT_KEYS + COMMON_STEP_KEYS if what == "slots: entry" else SLOT_KEYS, what)
        params: dict[str, Any] = {}
        params["slot"] = self.number(self.required(m, "slot", what), (m, "slot"), "slot", sizes=False, limit=0xFFFFFFFF)
        if "gpa" in m:
            params["gpa"] = self.number(m["gpa"], (m, "gpa"), "gpa")
        if "host" in m and "userspace_addr" in m:
            raise self.error(self.key_pos(m, "userspace_addr"), f"{what} has both `host:` and `userspace_addr:` (give one)")
        if "host" in m:
            params["host"] = self.host_ref(m["host"], (m, "host"), names)
        if "userspace_addr" in m:
            params["uaddr"] = self.number(m["userspace_addr"], (m, "userspace_addr"), "userspace_addr")
        if "size" in m:
            params["size"] = self.number(m["size"], (m, "size"), "size")
        if "flags" in m:
            params["flags"] = self.flags(m["flags"], (m, "flags"))
        if "guest_memfd" in m:
            self.modern_only(self.key_pos(m, "guest_memfd"), "`guest_memfd:`")
            params["guest_memfd"] = self.gmem_ref(m["guest_memfd"], (m, "guest_memfd"))
        if "ioctl" in m:
            self.modern_only(self.key_pos(m, "ioctl"), "`ioctl:`")
            params["ioctl"] = int(self.choice(m["ioctl"], (m, "ioctl"), "ioctl (1 = KVM_SET_USER_MEMORY_REGION, 2 = ..._REGION2)", ("1", "2")))
        return params

    # -- today's memory API -------------------------------------------------------------------------------
    def vm_type_entry(self, top: dict):
        if "vm_type" not in top:
            return
        pos = self.val_pos(top, "vm_type")
        self.modern_only(self.key_pos(top, "vm_type"), "`vm_type:`")
        raw = top["vm_type"]
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = self.number(raw, pos, "vm_type", sizes=False, limit=0xFFFFFFFF)
            name = next((k for k, v in VM_TYPES.items() if v == value), str(value))
        else:
            name = self.choice(raw, pos, "vm_type", tuple(VM_TYPES))
            value = VM_TYPES[name]
        if value:
            yield StepSpec("create_vm", {"vm_type": name, "type": value}, None, None, pos, phase="setup")

    def gmem_name(self, value: Any, pos: Where, taken: set[str]) -> str:
        if not isinstance(value, str) or not value or "+" in value or value == OTHER_VM:
            raise self.error(pos, f"guest_memfd name {value!r} must be a plain name (no '+', not {OTHER_VM!r})")
        if value in taken:
            raise self.error(pos, f"the name {value!r} is taken (host mappings and guest_memfd files share names)")
        return str(value)

    def gmem_flags(self, value: Any, pos: Where) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return self.number(value, pos, "guest_memfd flags", sizes=False)
        if isinstance(value, str):
            value = [value]
        items = self.sequence(value, pos, "guest_memfd flags")
        bits = 0
        for i, item in enumerate(items):
            ipos = self.item_pos(items, i)
            if isinstance(item, int) and not isinstance(item, bool):
                bits |= self.number(item, ipos, "guest_memfd flag", sizes=False)
                continue
            key = str(item)
            if key not in GMEM_FLAG_ALIASES:
                raise self.error(ipos, f"unknown guest_memfd flag {key!r} (known: mmap, init_shared, or a number like 0x4)")
            bits |= GMEM_FLAG_ALIASES[key]
        return bits

    def gmem_params(self, m: dict, name: str) -> dict[str, Any]:
        size = self.number(self.required(m, "size", f"guest_memfd {name!r}"), (m, "size"), "size")
        flags = self.gmem_flags(m["flags"], (m, "flags")) if "flags" in m else 0
        return {"name": name, "size": size, "flags": flags}

    def gmem_section(self, top: dict, host_names: set[str]):
        if top.get("guest_memfd") is None:
            return
        self.modern_only(self.key_pos(top, "guest_memfd"), "`guest_memfd:`")
        section = self.mapping(top["guest_memfd"], self.val_pos(top, "guest_memfd"), "guest_memfd:")
        self.taken_names |= host_names
        for name, spec in section.items():
            kpos = self.key_pos(section, name)
            name = self.gmem_name(name, kpos, self.taken_names)
            self.taken_names.add(name)
            spec = self.mapping(spec, self.val_pos(section, name), f"guest_memfd {name!r}")
            self.known_keys(spec, GMEM_KEYS, f"guest_memfd {name!r}")
            params = self.gmem_params(spec, name)
            self._note_gmem(params)
            yield StepSpec("create_guest_memfd", params, None, None, kpos, phase="setup")

    def _note_gmem(self, params: dict[str, Any]) -> None:
        if self.gmem_names is None:
            self.gmem_names = set()
        self.gmem_names.add(params["name"])
        if params["flags"] & GMEM_FLAG_ALIASES["mmap"]:
            self.gmem_mmap.add(params["name"])

    def prescan_gmem_steps(self, top: dict, host_names: set[str]) -> None:
        """Names made by create_guest_memfd steps may be used by slots and steps before or after them."""
        if self.gmem_names is None:
            self.gmem_names = set()
        steps = top.get("steps")
        if not isinstance(steps, list):
            return
        for entry in steps:
            body = entry.get("create_guest_memfd") if isinstance(entry, dict) else None
            if isinstance(body, dict) and isinstance(body.get("name"), str):
                self.gmem_names.add(body["name"])
                flags = body.get("flags")
                try:
                    if flags is not None and self.gmem_flags(flags, Pos(1, 1)) & GMEM_FLAG_ALIASES["mmap"] and body["name"] not in host_names:
                        self.gmem_mmap.add(body["name"])
                except ScenarioError:  # the step itself reports its bad flags, with its position
                    pass

    def gmem_ref(self, value: Any, pos: Where) -> HostRef:
        text = self.text(value, pos, "guest_memfd")
        name, _, off = text.partition("+")
        name = name.strip()
        if name != OTHER_VM and self.gmem_names is not None and name not in self.gmem_names:
            known = ", ".join(sorted(self.gmem_names)) or "none: add a `guest_memfd:` section"
            raise self.error(pos, f"unknown guest_memfd {name!r} (known: {known}, or {OTHER_VM})")
        offset = 0
        if off.strip():
            try:
                offset = parse_size(off)
            except ValueError:
                raise self.error(pos, f"guest_memfd {text!r}: offset {off.strip()!r} is not a number or size") from None
        return HostRef(name, offset)

    def slot_entries(self, top: dict, names: tuple[str, ...]) -> list[StepSpec]:
        out: list[StepSpec] = []
        if top.get("slots") is None:
            return out
        seq = self.sequence(top["slots"], self.val_pos(top, "slots"), "slots:")
        # the host names fast_slot_rows took on trust (they are known only now): each a mapping's, plainly text
        if not all(h in names and _plain_is_text(h) for h in self.row_hosts):
            raise _Fallback
        for entry, pos in self.entries(seq, "slot", whole_runs=True):
            if pos is None:  # a run of items read by fastitems: StepSpecs of its rows (fast_slot_rows), RawSlots of the others
                out += [s if s.__class__ is StepSpec else self.fast_slot(s, names) for s in entry]
                continue
            m = self.mapping(entry, pos, "a slots: entry")
            params = self.slot_params(m, names, "slots: entry")
            if "gpa" not in params:
                raise self.error(pos, f"slots: entry for slot {params['slot']} needs `gpa:`")
            if "host" not in params and "uaddr" not in params:
                raise self.error(pos, f"slots: entry for slot {params['slot']} needs `host:` (or `userspace_addr:`)")
            out.append(StepSpec("set_memory_region", params, self.note(m), self.expect(m, "set_memory_region"), pos, phase="setup",
                                note_variants=self.note_variants(m), question=self.question(m, "set_memory_region")))
        return out

    def fast_slot_params(self, raw: fastitems.RawSlot, names: tuple[str, ...], quoted: bool) -> dict[str, Any]:
        """slot_params' checks for fastitems' keys, in short; anything they would refuse raises _Fallback (the
        ordinary reading then says why). Held to slot_params by tests/test_fast_yaml.py."""
        slot_text, gpa_text, host, offset, size_text, flags_text = raw[:6]  # one unpack, not six field reads
        slot = int(slot_text, 0)
        gpa = _size(gpa_text)
        # a plain `host: null` is no name, "null" (quoted) is
        if slot > 0xFFFFFFFF or gpa > U64_MAX or host not in names or not (quoted or _plain_is_text(host)):
            raise _Fallback
        params: dict[str, Any] = {"slot": slot, "gpa": gpa, "host": HostRef(host, 0 if offset is None else _size(offset))}
        if size_text is not None:
            size = _size(size_text)
            if size > U64_MAX:
                raise _Fallback
            params["size"] = size
        if flags_text is not None:
            params["flags"] = _fast_flags(flags_text)
        return params

    def fast_slot(self, raw: fastitems.RawSlot, names: tuple[str, ...]) -> StepSpec:
        """A slots: entry from fastitems, as slot_entries makes it."""
        params = self.fast_slot_params(raw, names, raw.quoted)
        expect = None
        if raw.expect is not None:
            if raw.expect not in ERRNO_NAMES and raw.expect not in ("ok", "unsupported"):
                raise _Fallback
            expect = new_outcome_expect(raw.expect, new_pos(raw.eline + 1, raw.ecol + 1))
        return new_step("set_memory_region", params, expect, new_pos(raw.line + 1, raw.col + 1), phase="setup", note=raw.text)

    def fast_region(self, raw: fastitems.RawSlot, names: tuple[str, ...]) -> StepSpec:
        """A set_memory_region step from fastitems (as `kvmtui import` writes them), as step() makes it."""
        params = self.fast_slot_params(raw, names, True)
        line, col = raw.line + 1, raw.col + 1
        expect = None
        if raw.expect is not None:
            if raw.expect not in ERRNO_NAMES and raw.expect not in ("ok", "unsupported"):
                raise _Fallback
            expect = new_outcome_expect(raw.expect, new_pos(line + 1 + (raw.note is not None), col + 8))
        return new_step("set_memory_region", params, expect, new_pos(line, col), note=None if raw.note is None else raw.note[1:-1])

    def mmio_section(self, top: dict):
        if top.get("mmio") is None:
            return
        seq = self.sequence(top["mmio"], (top, "mmio"), "mmio:")
        for i, entry in enumerate(seq):
            pos = self.item_pos(seq, i)
            m = self.mapping(entry, pos, "an mmio: entry")
            self.known_keys(m, MMIO_KEYS, "mmio: entry")
            name = self.text(m["name"], (m, "name"), "name") if "name" in m else f"mmio{i}"
            gpa = self.number(self.required(m, "gpa", "an mmio: entry"), (m, "gpa"), "gpa")
            size = self.number(self.required(m, "size", "an mmio: entry"), (m, "size"), "size")
            read = self.number(m["read"], (m, "read"), "read", sizes=False, limit=0xFF) if "read" in m else None
            yield MmioDevice(name, gpa, size, read)

    def note(self, m: dict) -> str | None:
        if m.get("note") is None:
            return None
        if isinstance(m["note"], dict):
            variants = self.note_variants(m)
            assert variants is not None  # a mapping note always has variants
            return variants.get("modern") or variants.get("native") or next(iter(variants.values()))
        return self.text(m["note"], (m, "note"), "note")

    def question(self, m: dict, op: str) -> Question | None:
        """`question:` a string (the question) or {ask, choices, why}; choices are outcome names of the step."""
        if m.get("question") is None:
            return None
        value = m["question"]
        pos = self.val_pos(m, "question")
        if isinstance(value, str):
            return Question(ask=value)
        q = self.mapping(value, pos, "question")
        self.known_keys(q, QUESTION_KEYS, "question")
        ask = self.text(q["ask"], self.val_pos(q, "ask"), "ask") if q.get("ask") is not None else None
        why = self.text(q["why"], self.val_pos(q, "why"), "why") if q.get("why") is not None else None
        choices: list[str] = []
        if q.get("choices") is not None:
            seq = self.sequence(q["choices"], self.val_pos(q, "choices"), "question choices")
            for i, c in enumerate(seq):
                name = self.text(c, self.item_pos(seq, i), "choice")
                allowed = ACCESS_OUTCOMES if op in ACCESS_OPS else ("ok", *sorted(ERRNO_NAMES))
                if name not in allowed:
                    shown = ", ".join(ACCESS_OUTCOMES) if op in ACCESS_OPS else "ok or an errno name (EINVAL, EEXIST, ...)"
                    raise self.error(self.item_pos(seq, i), f"choice {name!r} is not an outcome of a {op} step ({shown})")
                choices.append(name)
            if len(choices) < 2:
                raise self.error(self.val_pos(q, "choices"), "a question needs at least two choices")
            if len(choices) > 9:
                raise self.error(self.val_pos(q, "choices"), "a question offers at most nine choices (keys 1 to 9)")
        return Question(ask, tuple(choices), why)

    def note_variants(self, m: dict) -> dict[str, str] | None:
        """`note:` as a mapping of era / path / ERA/PATH to text: a note that stays true in every era."""
        value = m.get("note")
        if not isinstance(value, dict):
            return None
        if not _is_variant_table(value):
            bad = next(k for k in value if _era_key(k) not in VARIANT_KEYS)
            raise self.error(self.key_pos(value, bad), f"note: key {bad!r} is not a kernel era, an access path or ERA/PATH "
                             f"(known: {', '.join(KERNELS)}; {', '.join(PATHS)}; e.g. 3.6/emulated)")
        return {_era_key(k): self.text(v, self.val_pos(value, k), "note") for k, v in value.items()}

    def step_entries(self, top: dict, names: tuple[str, ...]) -> list[StepSpec]:
        out: list[StepSpec] = []
        if top.get("steps") is None:
            return out
        seq = self.sequence(top["steps"], self.val_pos(top, "steps"), "steps:")
        for entry, pos in self.entries(seq, "step", whole_runs=True):
            if pos is None:  # a run of items read by fastitems: StepSpecs already, or set_memory_region steps
                out += [s if s.__class__ is StepSpec else self.fast_region(s, names) for s in entry]
                continue
            i = len(out)
            m = self.mapping(entry, pos, f"step {i + 1}")
            ops = [k for k in m if k in STEP_OPS]
            if len(ops) != 1:
                if ops:
                    raise self.error(self.key_pos(m, ops[1]), f"step {i + 1} has two operations ({short(ops[0])} and {short(ops[1])}): one per step")
                unknown = next((k for k in m if k not in COMMON_STEP_KEYS), None)
                if unknown is not None:
                    hint = _close_matches(str(unknown), STEP_OPS, n=1, cutoff=0.6)
                    did = f"did you mean {short(hint[0])}? " if hint else ""
                    raise self.error(self.key_pos(m, unknown), f"unknown step {short(unknown)} ({did}known: {', '.join(STEP_OPS)})")
                raise self.error(pos, f"step {i + 1} has no operation (one of: {', '.join(STEP_OPS)})")
            op = ops[0]
            self.known_keys(m, (op, *STEP_EXTRA.get(op, ()), *COMMON_STEP_KEYS), f"a {op} step")
            out.append(self.step(op, m, names, pos))
        return out

    def step(self, op: str, m: dict, names: tuple[str, ...], pos: Pos) -> StepSpec:
        vpos = (m, op)
        value = m[op]
        params: dict[str, Any] = {}
        if op in ACCESS_OPS:
            params["gpa"] = self.number(value, vpos, f"{op} address")
            default = 1 if op == "fetch" else 4
            size = self.number(m["size"], (m, "size"), "size", sizes=False) if "size" in m else default
            if op == "fetch" and not 1 <= size <= 15:
                raise self.error((m, "size"), f"fetch size {size} is out of range (1 to 15)")
            if op != "fetch" and size not in (1, 2, 4, 8):
                raise self.error((m, "size"), f"size {size} is not an access size (1, 2, 4 or 8)")
            if params["gpa"] + size - 1 > U64_MAX:
                raise self.error(vpos, "the access runs past the end of the 64-bit address space")
            params["size"] = size
            params["vcpu"] = self.number(m["vcpu"], (m, "vcpu"), "vcpu", sizes=False, limit=MAX_VCPU) if "vcpu" in m else 0
            if op == "write":
                v = self.number(self.required(m, "value", "a write step"), (m, "value"), "value", sizes=False)
                if v >> (8 * size):
                    raise self.error((m, "value"), f"value {v:#x} does not fit in {size} byte{'s' if size > 1 else ''} (at most {(1 << 8 * size) - 1:#x})")
                params["value"] = v
        elif op == "set_memory_region":
            params = self.slot_params(self.mapping(value, vpos, "set_memory_region"), names, "set_memory_region")
        elif op in ("delete_slot", "get_dirty_log"):
            params["slot"] = self.number(value, vpos, "slot", sizes=False, limit=0xFFFFFFFF)
        elif op == "check_extension":
            params["cap"] = self.capability(value, vpos)
        elif op in MEMAPI_OPS:
            self.modern_only(self.key_pos(m, op), f"`{op}:`")
            params = self.memapi_params(op, value, vpos)
        else:
            hm = self.mapping(value, vpos, op)
            self.known_keys(hm, HOST_OP_KEYS[op], op)
            params["host"] = self.host_ref(self.required(hm, "host", op), (hm, "host"), names)
            if "size" in hm:
                params["size"] = self.number(hm["size"], (hm, "size"), "size")
            if op == "mprotect":
                params["prot"] = self.choice(self.required(hm, "prot", "mprotect"), (hm, "prot"), "prot", PROTS)
            if op == "host_write":
                params["data"] = self.hexbytes(self.required(hm, "data", "host_write"), (hm, "data"), "data")
                if not params["data"]:
                    raise self.error((hm, "data"), "host_write needs at least one byte of data")
        return StepSpec(op, params, self.note(m), self.expect(m, op), pos, note_variants=self.note_variants(m), question=self.question(m, op))

    def memapi_params(self, op: str, value: Any, pos: Where) -> dict[str, Any]:
        allowed, required = MEMAPI_KEYS[op]
        if value is None and not required:
            return {"vcpu": 0} if op == "harvest_dirty_ring" else {}
        m = self.mapping(value, pos, op)
        self.known_keys(m, allowed, op)
        for key in required:
            self.required(m, key, op)
        if op == "create_guest_memfd":
            name = self.gmem_name(m["name"], self.val_pos(m, "name"), self.taken_names)
            self.taken_names.add(name)
            params = self.gmem_params(m, name)
            if self.gmem_names is not None and name not in self.gmem_names:
                self._note_gmem(params)
            return params
        if op == "enable_cap":
            cap = self.capability(m["cap"], self.val_pos(m, "cap"))
            raw = m.get("args", 0)
            apos = self.val_pos(m, "args") if "args" in m else pos
            items = raw if isinstance(raw, list) else [raw]
            if len(items) > 4:
                raise self.error(apos, "args: at most 4 values (struct kvm_enable_cap.args[4])")
            args = [self.number(v, self.item_pos(raw, i) if isinstance(raw, list) else apos, "args", limit=U64_MAX) for i, v in enumerate(items)]
            return {"cap": cap, "args": tuple(args) or (0,)}
        if op == "clear_dirty_log":
            return {"slot": self.number(m["slot"], self.val_pos(m, "slot"), "slot", sizes=False, limit=0xFFFFFFFF),
                    "first_page": self.number(m["first_page"], self.val_pos(m, "first_page"), "first_page", sizes=False),
                    "num_pages": self.number(m["num_pages"], self.val_pos(m, "num_pages"), "num_pages", sizes=False, limit=0xFFFFFFFF)}
        if op == "harvest_dirty_ring":
            return {"vcpu": self.number(m["vcpu"], self.val_pos(m, "vcpu"), "vcpu", sizes=False, limit=MAX_VCPU) if "vcpu" in m else 0}
        return {}

    def capability(self, value: Any, pos: Where) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return self.number(value, pos, "capability", sizes=False, limit=0xFFFFFFFF)
        name = str(value)
        full = name if name.startswith("KVM_CAP_") else f"KVM_CAP_{name.upper()}"
        if full not in KVM_CAPS:
            hint = _close_matches(full, list(KVM_CAPS), n=1, cutoff=0.5)
            did = f"did you mean {short(hint[0])}? " if hint else ""
            raise self.error(pos, f"unknown capability {short(name)} ({did}or give its number)")
        return KVM_CAPS[full]

    # -- expect (expectations.py reads the entries) ------------------------------------------------------------
    def expect(self, m: dict, op: str) -> Expect | None:
        if "expect" not in m:
            return None
        # (imported by the first step that has an `expect:`: a real-size scenario has none, and every module
        # imported is compiled at a cold start)
        from .expectations import expect_value

        value = m["expect"]
        pos = self.val_pos(m, "expect")
        if _is_variant_table(value):
            # expect: {"3.6": efault, "3.7": ok, modern: ok}: one expectation per kernel era, access path or both
            eras: dict[str, Expect | None] = {}
            for k in value:
                eras[_era_key(k)] = expect_value(self, value[k], self.val_pos(value, k), op)
            return Expect(pos=pos, eras=eras)
        return expect_value(self, value, pos, op)


_TAKEN = fastitems.Run("", [])


def _size(text: str) -> int:
    """A fastitems size: an int as int(x, 0) reads it, or 4K-style for parse_size."""
    if text[-1] in "KMGT":
        n = _UNIT_SIZES.get(text)
        if n is None:
            if len(_UNIT_SIZES) > 4096:  # bounded, whatever a file holds
                _UNIT_SIZES.clear()
            n = _UNIT_SIZES[text] = parse_size(text)  # (a layout repeats a handful of these: `size: 64K`)
        return n
    return int(text, 0)


_UNIT_SIZES: dict[str, int] = {}  # at most 13 digits and a unit each (fastitems._SIZE), a few distinct in a file


def _plain_is_text(v: str) -> bool:
    """plain_scalar(v) is a str (a host name written plainly, not null or a number), remembered: a layout
    names a handful of mappings thousands of times."""
    ok = _PLAIN_TEXT.get(v)
    if ok is None:
        if len(_PLAIN_TEXT) > 4096:  # bounded, whatever a file holds
            _PLAIN_TEXT.clear()
        ok = _PLAIN_TEXT[v] = isinstance(plain_scalar(v), str)
    return ok


def _fast_flags(text: str) -> int:
    """A fastitems flags value: `[readonly, log_dirty]` by FLAG_ALIASES, or a number; _Fallback if slot_params
    would refuse it. Remembered by text (a layout spells a few flag lists thousands of times)."""
    bits = _FLAG_BITS.get(text)
    if bits is None:
        if text[0] == "[":
            bits = 0
            for name in text[1:-1].split(", ") if text != "[]" else ():
                if name not in FLAG_ALIASES:
                    raise _Fallback
                bits |= FLAG_ALIASES[name]
        else:
            bits = int(text, 0)
            if bits > 0xFFFFFFFF:
                raise _Fallback
        if len(_FLAG_BITS) > 4096:
            _FLAG_BITS.clear()
        _FLAG_BITS[text] = bits
    return bits


_PLAIN_TEXT: dict[str, bool] = {}
_FLAG_BITS: dict[str, int] = {}
_U64 = U64_MAX
_FETCH_SIZES = range(1, 16)
_ACCESS_SIZES = (1, 2, 4, 8)


def fast_step(op: str, gpa_s: str, size_s: str | None, value_s: str | None, vcpu_s: str | None, expect_s: str | None,
              line: int, col: int, eline: int, ecol: int, note: str | None = None) -> StepSpec:
    """An access step from fastitems' plain ints (`0x..` or decimal text): the checks of _Loader.step for
    these keys, in short; anything they would refuse raises _Fallback, and the ordinary reading says why.
    tests/test_fast_yaml.py holds the two to the same StepSpec over generated steps."""
    gpa = _size(gpa_s)  # (text there is a size, as the loader reads it: `read: 4K`, `read: "0x1000"`)
    if op == "fetch":
        size = 1 if size_s is None else int(size_s, 0)
        if size not in _FETCH_SIZES:
            raise _Fallback
    else:
        size = 4 if size_s is None else int(size_s, 0)
        if size not in _ACCESS_SIZES:
            raise _Fallback
    if gpa + size - 1 > _U64:
        raise _Fallback
    if vcpu_s is None:
        params = {"gpa": gpa, "size": size, "vcpu": 0}
    else:
        vcpu = int(vcpu_s, 0)
        if vcpu > MAX_VCPU:
            raise _Fallback
        params = {"gpa": gpa, "size": size, "vcpu": vcpu}
    if op == "write":
        if value_s is None:
            raise _Fallback
        v = int(value_s, 0)
        if v >> (8 * size):
            raise _Fallback
        params["value"] = v
    elif value_s is not None:
        raise _Fallback
    pos = new_pos(line + 1, col + 1)
    expect = None
    if expect_s is not None:
        if expect_s not in ACCESS_OUTCOMES:
            raise _Fallback
        expect = new_outcome_expect(expect_s, new_pos(eline + 1, ecol + 1))
    return new_step(op, params, expect, pos, note=note)


_ROW_SIZES = {"1": 1, "2": 2, "4": 4, "8": 8}  # `size:` as block rows write it, else int(x, 0)


def fast_rows(rows: list[tuple[str, ...]], line: int, dash: int) -> list[StepSpec]:
    """The access steps of fastitems rows (block-style items, the first on 0-based `line`, each dash at 0-based
    column `dash`): fast_step's checks and values, one loop for many items rather than a call per item (the
    load of a real-size file is mostly this loop). tests/test_fast_yaml.py holds it to the YAML path's
    StepSpecs over generated steps."""
    out: list[StepSpec] = []
    append = out.append
    col = dash + 3  # 1-based, of the mapping after "- "
    sizes, outcomes, u64 = _ROW_SIZES, ACCESS_OUTCOMES, _U64
    line += 1  # 1-based from here, of the line being read
    for op, gpa_s, size_s, value_s, vcpu_s, expect_s in rows:
        # (model's new_pos and new_step written out here and in fast_slot_rows: two calls a row were ~6% of a load)
        pos = _PosDraft()
        pos.line = line
        pos.col = col
        pos.__class__ = Pos
        gpa = int(gpa_s, 0)
        if size_s:
            line += 1
            size = sizes.get(size_s) or int(size_s, 0)
            if size not in (_FETCH_SIZES if op == "fetch" else _ACCESS_SIZES):
                raise _Fallback
        else:
            size = 1 if op == "fetch" else 4
        if gpa + size - 1 > u64:
            raise _Fallback
        if op == "write":
            if not value_s:
                raise _Fallback
            line += 1
            v = int(value_s, 0)
            if v >> (8 * size):
                raise _Fallback
        elif value_s:
            raise _Fallback
        if vcpu_s:
            line += 1
            vcpu = int(vcpu_s, 0)
            if vcpu > MAX_VCPU:
                raise _Fallback
        else:
            vcpu = 0
        params = {"gpa": gpa, "size": size, "vcpu": vcpu, "value": v} if op == "write" else {"gpa": gpa, "size": size, "vcpu": vcpu}
        expect = None
        if expect_s:  # on the item's last line, after "expect: "
            line += 1
            if expect_s not in outcomes:
                raise _Fallback
            expect = new_outcome_expect(expect_s, new_pos(line, col + 8))
        step = _StepDraft()
        step.op = op
        step.params = params
        step.note = step.note_variants = step.question = None
        step.expect = expect
        step.pos = pos
        step.phase = "step"
        step.__class__ = StepSpec
        append(step)
        line += 1
    return out


_U32 = 0xFFFFFFFF
_new_host_ref = builder(HostRef)


def fast_slot_rows(rows: list[tuple[str, ...]], line: int, dash: int, hosts: set[str]) -> list[StepSpec]:
    """The slots: entries of fastitems slot rows (block-style items, the first on 0-based `line`, each dash at
    0-based column `dash`: slot, gpa, host, offset, size, flags, "" where absent): fast_slot's checks and values,
    one loop for many items rather than a RawSlot and two calls per item (a layout's load is mostly this). The
    host names are not known yet: those used are added to `hosts`, for slot_entries to check (every item of a
    slot run is read there or the load falls back). tests/test_fast_yaml.py holds it to the YAML path's specs."""
    out: list[StepSpec] = []
    append = out.append
    col = dash + 3  # 1-based, of the mapping after "- "
    size_of, flags_of, u64 = _size, _fast_flags, _U64
    line += 1  # 1-based from here, of the item's first line
    for slot_s, gpa_s, host, offset_s, size_s, flags_s in rows:
        slot = int(slot_s, 0)
        gpa = int(gpa_s, 0)  # (an int in a row's form, never a size)
        if slot > _U32 or gpa > u64:
            raise _Fallback
        params: dict[str, Any] = {"slot": slot, "gpa": gpa, "host": _new_host_ref(host, size_of(offset_s) if offset_s else 0)}
        pos = _PosDraft()  # (new_pos and new_step written out, as in fast_rows)
        pos.line = line
        pos.col = col
        pos.__class__ = Pos
        line += 3
        if size_s:
            size = size_of(size_s)
            if size > u64:
                raise _Fallback
            params["size"] = size
            line += 1
        if flags_s:
            params["flags"] = flags_of(flags_s)
            line += 1
        step = _StepDraft()
        step.op = "set_memory_region"
        step.params = params
        step.note = step.expect = step.note_variants = step.question = None
        step.pos = pos
        step.phase = "setup"
        step.__class__ = StepSpec
        append(step)
    hosts.update(map(itemgetter(2), rows))
    return out


def _era_key(k: Any) -> str:
    return f"{k:g}" if isinstance(k, float) else str(k)


VARIANT_KEYS = frozenset((*KERNELS, *PATHS, *(f"{k}/{p}" for k in KERNELS for p in PATHS)))


def _is_variant_table(value: Any) -> bool:
    """A mapping whose every key is a kernel era, an access path, or ERA/PATH (per-variant expect: or note:)."""
    return isinstance(value, dict) and bool(value) and all(_era_key(k) in VARIANT_KEYS for k in value)


def _kind(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {short(str(value))}"
    if isinstance(value, float):
        return f"the decimal {value}"
    return f"{short(value)}"


def check_host_layout(host: tuple[HostSpec, ...], file: str) -> None:
    """Lay the mappings out exactly as the runner will, so two mappings whose `hva:` overlap (or one that
    runs past the top of the address space) are a scenario error here rather than an engine exception."""
    layout = HostMemory()
    for h in host:
        hva = h.hva if h.hva is not None else layout.next_free_hva()
        line, col = (h.pos.line, h.pos.col) if h.pos and h.pos.line else (None, None)
        if hva + h.size > U64_MAX + 1:
            raise ScenarioError(file, line, col, f"host mapping {short(h.name)} at {hva:#x} of {h.size:#x} bytes runs past the end of the 64-bit address space")
        try:
            layout.mmap(Mapping(h.name, hva, h.size, h.prot, h.backing, h.fill, h.image))  # type: ignore[arg-type]
        except ValueError:
            clash = layout.vmas_in(hva, hva + h.size + PAGE_MASK)
            other = f"mapping {short(clash[0].mapping.name)}" if clash else "another mapping"
            raise ScenarioError(file, line, col, f"host mapping {short(h.name)} at {hva:#x}..{hva + h.size:#x} overlaps {other}") from None


def parse_scenario(text: str, file: str = "<scenario>", base_dir: Path | None = None, *, careful: bool = False,
                   items: bool = True) -> Scenario:
    """A scenario from YAML text: through libyaml (fastyaml), long runs of plain list items read by regex
    first (fastitems; items=False leaves them to libyaml too), or with careful=True through ruamel's
    round-trip loader (the one editing and saving use). All give the same scenario and the same errors."""
    # Building 10^5 objects that all stay alive sets off the cyclic collector again and again, each time
    # walking everything built so far (a third of the load's time in a 50,000-step file). Nothing built
    # here is garbage until the load ends, so the collector waits until then.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _parse(text, file, base_dir or Path("."), careful, items)
    finally:
        if collecting:
            gc.enable()


def _parse(text: str, file: str, base: Path, careful: bool, items: bool) -> Scenario:
    if careful:
        return _Loader(file, base).load(load_yaml(text, file))
    if items:
        try:
            hosts: set[str] = set()
            scan = fastitems.scan(text, fast_step, fast_rows, partial(fast_slot_rows, hosts=hosts))
            if scan is not None:  # (an alias could reach a placeholder, and alias bombs count nodes: not worth the care)
                return _Loader(file, base, scan.runs, hosts).load(load_fast(scan.text, file, aliases=False))
        except (ScenarioError, _Fallback, HasAliases):
            pass  # the ordinary reading below says what is wrong, in its own words and places
    return _Loader(file, base).load(load_fast(text, file))


def load_scenario(path: str | Path, *, careful: bool = False) -> Scenario:
    p = Path(path)
    text = read_text(p)
    return parse_scenario(text, str(path), p.parent, careful=careful)


def parse_value(value: Any, what: str, *, sizes: bool = True, limit: int = U64_MAX, source: str = "prompt") -> int:
    """One number as a scenario file writes it (4096, 0x1000, 1_000, and with sizes 4K, 2M, 1G, 1T),
    with the loader's own checks and messages (digits bounded, never negative, at most `limit`)."""
    return _Loader(source, Path(".")).number(value, Pos(0, 0), what, sizes=sizes, limit=limit)


def parse_step(mapping: dict[str, Any], host_names: tuple[str, ...], source: str = "probe") -> StepSpec:
    """Validate one step given as plain data (the app's probe and editor build these)."""
    loader = _Loader(source, Path("."))
    ops = [k for k in mapping if k in STEP_OPS]
    if len(ops) != 1:
        raise loader.error(None, f"one operation per step (one of: {', '.join(STEP_OPS)})")
    op = ops[0]
    loader.known_keys(mapping, (op, *STEP_EXTRA.get(op, ()), *COMMON_STEP_KEYS), f"a {op} step")
    return loader.step(op, mapping, host_names, Pos(0, 0))


def parse_slot_entry(mapping: dict[str, Any], host_names: tuple[str, ...], source: str = "editor") -> StepSpec:
    """Validate one `slots:` entry given as plain data."""
    loader = _Loader(source, Path("."))
    params = loader.slot_params(mapping, host_names, "slots: entry")
    for key in ("gpa", "host"):
        if key not in params:
            raise loader.error(None, f"a slot needs `{key}=`")
    return StepSpec("set_memory_region", params, None, None, Pos(0, 0), phase="setup")
