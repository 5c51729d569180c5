"""Firmware and kernel ELF images: PT_LOAD segments placed by physical address, and their symbols.

pyelftools reads the file. Every way a file can be wrong is named, with the file, and nothing here
lets a parser exception escape: the caller gets a ScenarioError (exit 2) or an image with notes.
"""

from __future__ import annotations

import io
import itertools
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..engine.addresses import PAGE_MASK, U64_MAX
from .errors import ScenarioError
from .inputfile import MAX_ELF_BYTES, read_bytes, read_head

ELF_MAGIC = b"\x7fELF"
PF_X, PF_W, PF_R = 1, 2, 4
X86_MACHINES = ("EM_X86_64", "EM_386")
ReadonlyMode = Literal["auto", "always", "never"]


@dataclass(frozen=True, slots=True)
class ElfSegment:
    index: int  # position in the program header table
    paddr: int
    vaddr: int
    offset: int
    filesz: int
    memsz: int
    flags: int
    data: bytes  # the file bytes (filesz of them)

    @property
    def perms(self) -> str:
        return ("r" if self.flags & PF_R else "-") + ("w" if self.flags & PF_W else "-") + ("x" if self.flags & PF_X else "-")


@dataclass(frozen=True, slots=True)
class ElfSymbol:
    name: str
    paddr: int
    size: int


@dataclass(frozen=True, slots=True)
class ElfRange:
    """Page-aligned guest-physical range with one permission: one host mapping and one memslot."""

    gpa: int
    size: int
    writable: bool
    image: bytes  # bytes from gpa on (file bytes; the rest of the range is zero: bss)
    segments: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ElfImage:
    path: str
    machine: str
    elfclass: int
    little_endian: bool
    entry: int
    segments: tuple[ElfSegment, ...]
    symbols: tuple[ElfSymbol, ...]  # sorted by paddr
    notes: tuple[str, ...]  # things the user should know (non-x86, symbols unavailable, shared pages)

    def ranges(self) -> tuple[tuple[ElfRange, ...], tuple[str, ...]]:
        return place_segments(self.segments)


def is_elf(path: str | Path) -> bool:
    head = read_head(path, 4)  # never blocks on a FIFO; not a regular file: not an ELF
    return head == ELF_MAGIC


def read_elf(path: str | Path, shown_as: str | None = None) -> ElfImage:
    name = shown_as or str(path)

    def fail(message: str) -> ScenarioError:
        return ScenarioError(name, None, None, message)

    raw = read_bytes(path, what="an ELF file", limit=MAX_ELF_BYTES, shown_as=name)
    if raw[:4] != ELF_MAGIC:
        raise fail("not an ELF file (it does not start with \\x7fELF)")
    if len(raw) < 16 or raw[4] not in (1, 2) or raw[5] not in (1, 2):
        raise fail("truncated or corrupt ELF identification (class or byte order unknown)")

    from elftools.common.utils import struct_parse  # pyelftools is imported only when an ELF is read
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(raw))
        header = elf.header
        machine = str(header["e_machine"])
        entry = int(header["e_entry"])
    except Exception as e:  # noqa: BLE001 -- pyelftools raises ELFError, ELFParseError, struct and construct errors
        raise fail(f"truncated or corrupt ELF header: {_why(e)}") from None

    segments: list[ElfSegment] = []
    try:
        count = elf.num_segments()
        phoff = int(header["e_phoff"])
        if count and phoff + count * int(header["e_phentsize"]) > len(raw):
            raise fail(f"program header table ({count} entries at offset {phoff:#x}) runs past the end of the file ({len(raw)} bytes): truncated")
        phentsize = int(header["e_phentsize"])
        for i in range(count):
            # The raw header only: pyelftools' segment objects for PT_DYNAMIC and friends read the section
            # headers too, and a firmware's broken section table must not cost it its segments.
            seg = struct_parse(elf.structs.Elf_Phdr, elf.stream, stream_pos=phoff + i * phentsize)
            if seg["p_type"] != "PT_LOAD":
                continue
            paddr, vaddr = int(seg["p_paddr"]), int(seg["p_vaddr"])
            offset, filesz, memsz = int(seg["p_offset"]), int(seg["p_filesz"]), int(seg["p_memsz"])
            if filesz > memsz:
                raise fail(f"segment {i}: p_filesz {filesz:#x} > p_memsz {memsz:#x}")
            if offset + filesz > len(raw):
                raise fail(f"segment {i}: file bytes {offset:#x}..{offset + filesz:#x} run past the end of the file ({len(raw)} bytes): truncated")
            if paddr + memsz > U64_MAX + 1:
                raise fail(f"segment {i}: p_paddr {paddr:#x} + p_memsz {memsz:#x} runs beyond 2^64")
            if memsz == 0:
                continue
            segments.append(ElfSegment(i, paddr, vaddr, offset, filesz, memsz, int(seg["p_flags"]), raw[offset : offset + filesz]))
    except ScenarioError:
        raise
    except Exception as e:  # noqa: BLE001 -- as above: any pyelftools failure is a corrupt file
        raise fail(f"corrupt program headers: {_why(e)}") from None
    if not segments:
        raise fail("no loadable (PT_LOAD) segment with any bytes in memory")
    ordered = sorted(segments, key=lambda s: s.paddr)
    for a, b in itertools.pairwise(ordered):
        if b.paddr < a.paddr + a.memsz:
            raise fail(f"segments {a.index} and {b.index} overlap at physical address {b.paddr:#x}")

    notes: list[str] = []
    if machine not in X86_MACHINES:
        notes.append(f"machine {machine.removeprefix('EM_')}: not x86; loaded anyway (kvmtui models x86 KVM)")
    symbols = _symbols(elf, segments, notes)
    return ElfImage(name, machine, (int(header["e_ident"]["EI_CLASS"] == "ELFCLASS64") and 64) or 32,
                    header["e_ident"]["EI_DATA"] == "ELFDATA2LSB", entry, tuple(segments), symbols, tuple(notes))


def _why(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:160]


def _symbols(elf, segments: list[ElfSegment], notes: list[str]) -> tuple[ElfSymbol, ...]:
    """.symtab, else .dynsym, moved from virtual to physical addresses by each segment's paddr - vaddr."""
    try:
        table = elf.get_section_by_name(".symtab") or elf.get_section_by_name(".dynsym")
        if table is None:
            notes.append("no symbol table (stripped): addresses are shown without names")
            return ()
        raw = [(s.name, int(s["st_value"]), int(s["st_size"]), s["st_info"]["type"], s["st_shndx"]) for s in table.iter_symbols()]
    except Exception as e:  # noqa: BLE001 -- a broken section table costs only the symbols
        notes.append(f"section headers unreadable ({_why(e)}): symbols unavailable, segments loaded")
        return ()
    by_vaddr = sorted(segments, key=lambda s: s.vaddr)
    starts = [s.vaddr for s in by_vaddr]
    out: dict[tuple[int, str], ElfSymbol] = {}
    for name, value, size, kind, shndx in raw:
        if not name or kind not in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE") or shndx == "SHN_UNDEF" or (shndx == "SHN_ABS" and kind == "STT_NOTYPE" and not size):
            continue
        i = bisect_right(starts, value) - 1
        if i < 0 or value >= by_vaddr[i].vaddr + by_vaddr[i].memsz:
            continue  # not in memory (e.g. a section that is not loaded)
        seg = by_vaddr[i]
        paddr = value - seg.vaddr + seg.paddr
        out[(paddr, name)] = ElfSymbol(name, paddr, size)
    return tuple(sorted(out.values(), key=lambda s: (s.paddr, s.name)))


def place_segments(segments: tuple[ElfSegment, ...]) -> tuple[tuple[ElfRange, ...], tuple[str, ...]]:
    """Round segments to pages, give a page shared by two segments the union of their permissions (and
    say so), and merge neighbouring pages of the same permission into ranges."""
    notes: list[str] = []
    pieces: list[list] = []  # [lo, hi, writable, {segment indices}]
    for s in sorted(segments, key=lambda s: s.paddr):
        lo = s.paddr & ~PAGE_MASK
        hi = (s.paddr + s.memsz + PAGE_MASK) & ~PAGE_MASK
        w = bool(s.flags & PF_W)
        if pieces and lo < pieces[-1][1]:
            prev = pieces[-1]
            shared_lo, shared_hi = lo, prev[1]
            who = sorted(prev[3] | {s.index})
            if prev[2] != w:
                notes.append(f"page {shared_lo:#x} holds segments {who[0]} and {who[-1]} with different permissions: mapped writable")
            prev[1] = shared_lo
            if prev[1] <= prev[0]:
                pieces.pop()
            pieces.append([shared_lo, shared_hi, prev[2] or w, set(who)])
            lo = shared_hi
        if lo < hi:
            pieces.append([lo, hi, w, {s.index}])
    merged: list[list] = []
    for p in pieces:
        if merged and merged[-1][1] == p[0] and merged[-1][2] == p[2]:
            merged[-1][1] = p[1]
            merged[-1][3] |= p[3]
        else:
            merged.append(p)
    ranges = []
    by_index = {s.index: s for s in segments}  # each range reads only its own segments: linear in the segments
    for lo, hi, w, who in merged:
        mine = [by_index[i] for i in sorted(who)]
        end = lo
        for s in mine:
            if s.filesz:
                end = max(end, s.paddr + s.filesz)
        image = bytearray(max(end - lo, 0))
        for s in mine:
            if s.filesz:
                start = max(s.paddr, lo)
                stop = min(s.paddr + s.filesz, hi)
                if start < stop:
                    image[start - lo : stop - lo] = s.data[start - s.paddr : stop - s.paddr]
        ranges.append(ElfRange(lo, hi - lo, w, bytes(image), tuple(sorted(who))))
    return tuple(ranges), tuple(notes)


def symbol_name(symbols: tuple[ElfSymbol, ...], starts: list[int], gpa: int, limit: int = 1 << 20) -> str | None:
    """"name+0xoff" of the nearest symbol at or below gpa (within its size, or `limit` for sizeless ones)."""
    i = bisect_right(starts, gpa) - 1
    while i >= 0:
        s = symbols[i]
        off = gpa - s.paddr
        if (s.size and off < s.size) or (not s.size and off < limit):
            return s.name if off == 0 else f"{s.name}+{off:#x}"
        if s.size:
            # a sized symbol that ends below gpa: a sizeless label just before it may still cover gpa
            i -= 1
            continue
        return None
    return None
