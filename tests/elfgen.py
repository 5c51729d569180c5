"""A small ELF writer for tests (pyelftools only reads): 32/64-bit, either byte order, any segments,
symbols in .symtab or .dynsym or none. Just enough of the format for a loader to meet real cases."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4
EM_386, EM_X86_64, EM_PPC64, EM_AARCH64, EM_RISCV = 3, 62, 21, 183, 243
STT_OBJECT, STT_FUNC = 1, 2


@dataclass
class Seg:
    paddr: int
    data: bytes
    flags: int = PF_R | PF_X
    memsz: int | None = None  # default len(data)
    vaddr: int | None = None  # default paddr
    pad: int = 0  # extra bytes before the data in the file: makes p_offset unaligned


@dataclass
class Elf:
    bits: int = 64
    little: bool = True
    machine: int = EM_X86_64
    entry: int = 0
    segments: list[Seg] = field(default_factory=list)
    symbols: list[tuple[str, int, int, int]] = field(default_factory=list)  # name, vaddr, size, type
    symtab: str | None = ".symtab"  # or ".dynsym", or None for no section headers at all

    def build(self) -> bytes:
        e = "<" if self.little else ">"
        w = "Q" if self.bits == 64 else "I"
        ehsize = 64 if self.bits == 64 else 52
        phentsize = 56 if self.bits == 64 else 32
        shentsize = 64 if self.bits == 64 else 40
        out = bytearray(ehsize + phentsize * len(self.segments))
        offsets = []
        for s in self.segments:
            out += b"\xcc" * s.pad
            offsets.append(len(out))
            out += s.data
        phdrs = bytearray()
        for s, off in zip(self.segments, offsets, strict=True):
            memsz = len(s.data) if s.memsz is None else s.memsz
            vaddr = s.paddr if s.vaddr is None else s.vaddr
            if self.bits == 64:
                phdrs += struct.pack(e + "IIQQQQQQ", PT_LOAD, s.flags, off, vaddr, s.paddr, len(s.data), memsz, 0x1000)
            else:
                phdrs += struct.pack(e + "IIIIIIII", PT_LOAD, off, vaddr, s.paddr, len(s.data), memsz, s.flags, 0x1000)
        out[ehsize : ehsize + len(phdrs)] = phdrs
        shoff = shnum = shstrndx = 0
        if self.symtab is not None:
            strtab = bytearray(b"\0")
            syms = bytearray(b"\0" * (24 if self.bits == 64 else 16))
            for name, value, size, kind in self.symbols:
                idx = len(strtab)
                strtab += name.encode() + b"\0"
                info = (1 << 4) | kind
                if self.bits == 64:
                    syms += struct.pack(e + "IBBHQQ", idx, info, 0, 1, value, size)
                else:
                    syms += struct.pack(e + "IIIBBH", idx, value, size, info, 0, 1)
            names = {"": 0}
            shstr = bytearray(b"\0")
            for n in (self.symtab, ".dynstr" if self.symtab == ".dynsym" else ".strtab", ".shstrtab"):
                names[n] = len(shstr)
                shstr += n.encode() + b"\0"
            sym_off = len(out)
            out += syms
            str_off = len(out)
            out += strtab
            shstr_off = len(out)
            out += shstr
            while len(out) % 8:
                out += b"\0"
            shoff = len(out)
            entsize = 24 if self.bits == 64 else 16
            sym_type = 2 if self.symtab == ".symtab" else 11
            sections = [
                (0, 0, 0, 0, 0, 0, 0),
                (names[self.symtab], sym_type, sym_off, len(syms), 2, 1, entsize),
                (names[".dynstr" if self.symtab == ".dynsym" else ".strtab"], 3, str_off, len(strtab), 0, 0, 0),
                (names[".shstrtab"], 3, shstr_off, len(shstr), 0, 0, 0),
            ]
            for name, typ, off, size, link, info, ent in sections:
                if self.bits == 64:
                    out += struct.pack(e + "IIQQQQIIQQ", name, typ, 0, 0, off, size, link, info, 1, ent)
                else:
                    out += struct.pack(e + "IIIIIIIIII", name, typ, 0, 0, off, size, link, info, 1, ent)
            shnum, shstrndx = len(sections), 3
        ident = b"\x7fELF" + bytes([2 if self.bits == 64 else 1, 1 if self.little else 2, 1]) + b"\0" * 9
        header = ident + struct.pack(e + "HHI" + w + w + w + "IHHHHHH", 2, self.machine, 1, self.entry, ehsize, shoff, 0,
                                     ehsize, phentsize, len(self.segments), shentsize, shnum, shstrndx)
        out[:ehsize] = header
        return bytes(out)
