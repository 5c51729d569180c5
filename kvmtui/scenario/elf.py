"""Firmware and kernel ELF images: PT_LOAD segments placed by physical address, and their symbols.

The three tables kvmtui reads (the ELF header, the program headers, one symbol table through the section
headers) are fixed-size records, read here with `struct`: pyelftools costs more to import at each cold start
(about 0.3 s CPU) than the whole read of a 3,000-segment image, and it parses a record at a time.
tests/test_elf_oracle.py holds this reader to pyelftools' reading of the same files; pyelftools still names
non-x86 machines. Every way a file can be wrong is named, with the file: the caller gets a ScenarioError
(exit 2) or an image with notes, never a parser exception.
"""

from __future__ import annotations

import itertools
import struct
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..engine.addresses import PAGE_MASK, U64_MAX
from .errors import ScenarioError
from .inputfile import MAX_ELF_BYTES, read_bytes
from .sniff import ELF_MAGIC
from .sniff import is_elf as is_elf  # (where the app and tests find it)

PF_X, PF_W, PF_R = 1, 2, 4
PT_LOAD = 1
PN_XNUM = 0xFFFF  # e_phnum: the real count is section 0's sh_info
SHN_UNDEF, SHN_ABS, SHN_XINDEX = 0, 0xFFF1, 0xFFFF
SHT_SYMTAB, SHT_STRTAB, SHT_DYNSYM = 2, 3, 11
STT_NOTYPE, STT_OBJECT, STT_FUNC = 0, 1, 2
X86_MACHINES = ("EM_X86_64", "EM_386")
_X86_NAMES = {62: "EM_X86_64", 3: "EM_386"}
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


class _Corrupt(Exception):
    """What is wrong with the file, in words; the reader names the file."""


@dataclass(frozen=True, slots=True)
class _Format:
    """The record layouts of one ELF class and byte order, each unpacked into one field order."""

    bits: int
    little: bool
    ehdr: struct.Struct  # after e_ident: type, machine, version, entry, phoff, shoff, flags, ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    phdr: struct.Struct
    shdr: struct.Struct  # name, type, flags, addr, offset, size, link, info, addralign, entsize (both classes)
    sym: struct.Struct

    @staticmethod
    def of(ident: bytes) -> _Format:
        bits, little = (64 if ident[4] == 2 else 32), ident[5] == 1
        e = "<" if little else ">"
        w = "Q" if bits == 64 else "I"
        return _Format(bits, little, struct.Struct(f"{e}HHI{w}{w}{w}IHHHHHH"),
                       struct.Struct(e + ("IIQQQQQQ" if bits == 64 else "IIIIIIII")),
                       struct.Struct(f"{e}II{w}{w}{w}{w}II{w}{w}"),
                       struct.Struct(e + ("IBBHQQ" if bits == 64 else "IIIBBH")))

    def segment(self, fields: tuple[int, ...]) -> tuple[int, int, int, int, int, int, int]:
        """(type, flags, offset, vaddr, paddr, filesz, memsz) of an unpacked program header."""
        if self.bits == 64:
            return fields[:7]  # type: ignore[return-value]
        t, off, vaddr, paddr, filesz, memsz, flags, _ = fields
        return t, flags, off, vaddr, paddr, filesz, memsz

    def symbol(self, fields: tuple[int, ...]) -> tuple[int, int, int, int, int]:
        """(name, value, size, info, shndx) of an unpacked symbol."""
        if self.bits == 64:
            name, info, _, shndx, value, size = fields
        else:
            name, value, size, info, _, shndx = fields
        return name, value, size, info, shndx


@dataclass(frozen=True, slots=True)
class _Header:
    fmt: _Format
    machine: int
    entry: int
    phoff: int
    phentsize: int
    phnum: int
    shoff: int
    shentsize: int
    shnum: int
    shstrndx: int


def read_elf(path: str | Path, shown_as: str | None = None) -> ElfImage:
    name = shown_as or str(path)
    raw = read_bytes(path, what="an ELF file", limit=MAX_ELF_BYTES, shown_as=name)
    try:
        header = _header(raw)
        segments = _load_segments(raw, header)
    except _Corrupt as e:
        raise ScenarioError(name, None, None, str(e)) from None
    notes: list[str] = []
    machine = _machine_name(header.machine)
    if machine not in X86_MACHINES:
        notes.append(f"machine {machine.removeprefix('EM_')}: not x86; loaded anyway (kvmtui models x86 KVM)")
    symbols = _symbols(raw, header, segments, notes)
    return ElfImage(name, machine, header.fmt.bits, header.fmt.little, header.entry, tuple(segments), symbols, tuple(notes))


def _header(raw: bytes) -> _Header:
    if raw[:4] != ELF_MAGIC:
        raise _Corrupt("not an ELF file (it does not start with \\x7fELF)")
    if len(raw) < 16 or raw[4] not in (1, 2) or raw[5] not in (1, 2):
        raise _Corrupt("truncated or corrupt ELF identification (class or byte order unknown)")
    fmt = _Format.of(raw[:16])
    if len(raw) < 16 + fmt.ehdr.size:
        raise _Corrupt(f"truncated or corrupt ELF header: the file ends at byte {len(raw)}, inside the {16 + fmt.ehdr.size}-byte header")
    _, machine, _, entry, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx = fmt.ehdr.unpack_from(raw, 16)
    return _Header(fmt, machine, entry, phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx)


def _machine_name(machine: int) -> str:
    """e_machine as pyelftools names it (EM_X86_64); an unknown number as itself."""
    if machine in _X86_NAMES:
        return _X86_NAMES[machine]
    from elftools.elf.enums import ENUM_E_MACHINE  # a non-x86 image only: the names of ~200 machines

    return next((k for k, v in ENUM_E_MACHINE.items() if v == machine and k != "_default_"), str(machine))


def _section(raw: bytes, h: _Header, index: int) -> tuple[int, ...]:
    """Section header `index`: (name, type, flags, addr, offset, size, link, info, addralign, entsize)."""
    at = h.shoff + index * h.shentsize
    if h.shentsize < h.fmt.shdr.size or at + h.fmt.shdr.size > len(raw):
        raise _Corrupt(f"section header {index} at offset {at:#x} is outside the file ({len(raw)} bytes)")
    return h.fmt.shdr.unpack_from(raw, at)


def _program_headers(raw: bytes, h: _Header) -> list[tuple[int, ...]]:
    count = _section(raw, h, 0)[7] if h.phnum == PN_XNUM else h.phnum
    if not count:
        return []
    if h.phentsize < h.fmt.phdr.size:
        raise _Corrupt(f"corrupt program headers: e_phentsize {h.phentsize} is smaller than a program header ({h.fmt.phdr.size} bytes)")
    if h.phoff + (count - 1) * h.phentsize + h.fmt.phdr.size > len(raw):  # (the last entry needs only its own bytes)
        raise _Corrupt(f"program header table ({count} entries at offset {h.phoff:#x}) runs past the end of the file ({len(raw)} bytes): truncated")
    unpack = h.fmt.phdr.unpack_from
    return [unpack(raw, h.phoff + i * h.phentsize) for i in range(count)]


def _load_segments(raw: bytes, h: _Header) -> list[ElfSegment]:
    """The PT_LOAD segments with bytes in memory, checked each against the file and together for overlaps."""
    segments: list[ElfSegment] = []
    for i, fields in enumerate(_program_headers(raw, h)):
        p_type, flags, offset, vaddr, paddr, filesz, memsz = h.fmt.segment(fields)
        if p_type != PT_LOAD:
            continue
        _check_segment(i, offset, paddr, filesz, memsz, len(raw))
        if memsz:
            segments.append(ElfSegment(i, paddr, vaddr, offset, filesz, memsz, flags, raw[offset : offset + filesz]))
    if not segments:
        raise _Corrupt("no loadable (PT_LOAD) segment with any bytes in memory")
    ordered = sorted(segments, key=lambda s: s.paddr)
    for a, b in itertools.pairwise(ordered):
        if b.paddr < a.paddr + a.memsz:
            raise _Corrupt(f"segments {a.index} and {b.index} overlap at physical address {b.paddr:#x}")
    return segments


def _check_segment(i: int, offset: int, paddr: int, filesz: int, memsz: int, file_size: int) -> None:
    if filesz > memsz:
        raise _Corrupt(f"segment {i}: p_filesz {filesz:#x} > p_memsz {memsz:#x}")
    if offset + filesz > file_size:
        raise _Corrupt(f"segment {i}: file bytes {offset:#x}..{offset + filesz:#x} run past the end of the file ({file_size} bytes): truncated")
    if paddr + memsz > U64_MAX + 1:
        raise _Corrupt(f"segment {i}: p_paddr {paddr:#x} + p_memsz {memsz:#x} runs beyond 2^64")


def _why(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:160]


def _cstring(raw: bytes, at: int) -> str:
    """A NUL-terminated name (UTF-8, as pyelftools decodes it); one running off the file reads as no name."""
    end = raw.find(b"\0", at)
    return "" if end < 0 else raw[at:end].decode("utf-8", errors="replace")


def _symbol_table(raw: bytes, h: _Header) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The section headers of .symtab (else .dynsym) and of its string table; None without either."""
    if not h.shoff:
        return None
    count = h.shnum or _section(raw, h, 0)[5]  # e_shnum 0: the count is section 0's sh_size
    strndx = _section(raw, h, 0)[6] if h.shstrndx == SHN_XINDEX else h.shstrndx
    if strndx >= count:
        raise _Corrupt(f"e_shstrndx {strndx} is not one of the {count} sections")
    names_at = _section(raw, h, strndx)[4]
    sections = [_section(raw, h, i) for i in range(count)]
    by_name: dict[str, tuple[int, ...]] = {}
    for sec in sections:
        by_name[_cstring(raw, names_at + sec[0])] = sec  # the last of a name, as pyelftools finds it
    table = by_name.get(".symtab") or by_name.get(".dynsym")
    if table is None:
        return None
    if table[1] not in (SHT_SYMTAB, SHT_DYNSYM) or table[9] < h.fmt.sym.size:
        raise _Corrupt(f"the symbol table's section header is not one (sh_type {table[1]}, sh_entsize {table[9]})")
    if table[6] >= count or sections[table[6]][1] != SHT_STRTAB:
        raise _Corrupt(f"the symbol table links to section {table[6]}, not a string table")
    strings = sections[table[6]]
    if strings[4] + strings[5] > len(raw):
        raise _Corrupt(f"the symbol names ({strings[5]} bytes at offset {strings[4]:#x}) run past the end of the file")
    return table, strings


def _raw_symbols(raw: bytes, h: _Header, table: tuple[int, ...], strings: tuple[int, ...]) -> list[tuple[str, int, int, int, int]]:
    """(name, value, size, type, shndx) of each symbol in the table."""
    offset, size, entsize = table[4], table[5], table[9]
    if offset + size > len(raw) or size % entsize:
        raise _Corrupt(f"the symbol table ({size} bytes at offset {offset:#x}, {entsize}-byte entries) is cut or runs past the end of the file")
    unpack, symbol = h.fmt.sym.unpack_from, h.fmt.symbol
    out = []
    for i in range(size // entsize):
        name, value, sym_size, info, shndx = symbol(unpack(raw, offset + i * entsize))
        out.append((_cstring(raw, strings[4] + name) if name else "", value, sym_size, info & 0xF, shndx))
    return out


def _symbols(raw: bytes, h: _Header, segments: list[ElfSegment], notes: list[str]) -> tuple[ElfSymbol, ...]:
    """.symtab, else .dynsym, moved from virtual to physical addresses by each segment's paddr - vaddr."""
    try:
        found = _symbol_table(raw, h)
        if found is None:
            notes.append("no symbol table (stripped): addresses are shown without names")
            return ()
        entries = _raw_symbols(raw, h, *found)
    except (_Corrupt, struct.error) as e:  # a broken section table costs only the symbols
        notes.append(f"section headers unreadable ({_why(e)}): symbols unavailable, segments loaded")
        return ()
    by_vaddr = sorted(segments, key=lambda s: s.vaddr)
    starts = [s.vaddr for s in by_vaddr]
    out: dict[tuple[int, str], ElfSymbol] = {}
    for name, value, size, kind, shndx in entries:
        if not name or kind not in (STT_FUNC, STT_OBJECT, STT_NOTYPE) or shndx == SHN_UNDEF or (shndx == SHN_ABS and kind == STT_NOTYPE and not size):
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
