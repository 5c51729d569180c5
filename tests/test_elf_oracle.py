"""kvmtui reads ELF images with `struct` (start-up: pyelftools costs more to import than a 3,000-segment read);
pyelftools, which reads every ELF, is the oracle: same segments, same symbols, same machine, on generated images
of both classes and byte orders and on the same images with bytes flipped."""

from __future__ import annotations

import io
import itertools

from elfgen import EM_386, EM_AARCH64, EM_PPC64, EM_RISCV, EM_X86_64, PF_R, PF_W, PF_X, STT_FUNC, STT_OBJECT, Elf, Seg
from hypothesis import given, settings
from hypothesis import strategies as st

from kvmtui.scenario import ScenarioError
from kvmtui.scenario.elf import read_elf


def _pyelftools(raw: bytes):
    """(machine, entry, PT_LOAD program headers, symbols) as pyelftools reads them; None where it fails."""
    from elftools.common.utils import struct_parse
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(raw))
        h = elf.header
        phdrs = []
        for i in range(elf.num_segments()):
            seg = struct_parse(elf.structs.Elf_Phdr, elf.stream, stream_pos=h["e_phoff"] + i * h["e_phentsize"])
            if seg["p_type"] == "PT_LOAD":
                phdrs.append((i, seg["p_paddr"], seg["p_vaddr"], seg["p_offset"], seg["p_filesz"], seg["p_memsz"], seg["p_flags"]))
    except Exception:  # noqa: BLE001 -- any pyelftools failure: nothing to compare
        return None
    try:
        table = elf.get_section_by_name(".symtab") or elf.get_section_by_name(".dynsym")
        symbols = None if table is None else [
            (s.name, s["st_value"], s["st_size"]) for s in table.iter_symbols()
            if s.name and s["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE") and s["st_shndx"] != "SHN_UNDEF"]
    except Exception:  # noqa: BLE001 -- a broken section table: kvmtui notes it
        symbols = "unreadable"
    return str(h["e_machine"]), h["e_entry"], phdrs, symbols


def _kvmtui(path):
    try:
        return read_elf(path)
    except ScenarioError as e:
        return e


def _compare(tmp_path, raw: bytes, strict: bool = True) -> None:
    """strict: the same symbols; else (a damaged file) kvmtui may also say the section table is unreadable."""
    p = tmp_path / "x.elf"
    p.write_bytes(raw)
    ref = _pyelftools(raw)
    got = _kvmtui(p)
    if ref is None:
        return  # pyelftools cannot read it: kvmtui names a problem or reads it; either is fine here
    machine, entry, phdrs, symbols = ref
    loaded = [ph for ph in phdrs if ph[5]]
    if isinstance(got, ScenarioError):
        # a refusal must be one of kvmtui's own checks on what pyelftools read
        h = (raw[4] == 2 and 54) or 42  # e_phentsize's offset
        small = int.from_bytes(raw[h : h + 2], "little" if raw[5] == 1 else "big") < (56 if raw[4] == 2 else 32)
        assert not loaded or small or any(ph[4] > ph[5] or ph[3] + ph[4] > len(raw) or ph[1] + ph[5] > 1 << 64 for ph in loaded) \
            or _overlap(loaded), str(got)
        return
    im = got
    assert (im.machine, im.entry) == (machine, entry)
    assert [(s.index, s.paddr, s.vaddr, s.offset, s.filesz, s.memsz, s.flags) for s in im.segments] == loaded
    assert all(s.data == raw[s.offset : s.offset + s.filesz] for s in im.segments)
    if not strict and any("symbols unavailable" in n or "no symbol table" in n for n in im.notes):
        assert im.symbols == ()
    elif symbols == "unreadable":
        assert im.symbols == () and any("symbols unavailable" in n for n in im.notes)
    elif symbols is None:
        assert im.symbols == () and any("no symbol table" in n for n in im.notes)
    else:
        by_vaddr = sorted(im.segments, key=lambda s: s.vaddr)
        in_memory = {}
        for n, v, sz in symbols:
            seg = next((s for s in reversed(by_vaddr) if s.vaddr <= v), None)  # the segment starting last at or below v
            if seg is not None and v < seg.vaddr + seg.memsz:
                in_memory[(n, v - seg.vaddr + seg.paddr)] = sz  # a name at an address once: the last
        assert {(s.name, s.paddr): s.size for s in im.symbols} == in_memory


def _overlap(loaded) -> bool:
    spans = sorted((ph[1], ph[1] + ph[5]) for ph in loaded)
    return any(b[0] < a[1] for a, b in itertools.pairwise(spans))


_seg = st.builds(lambda page, n, flags, bss: Seg(0x100000 + page * 0x1000, bytes(range(n % 256)) * (n // 256 + 1), flags, None if not bss else n * 2 + bss),
                 st.integers(0, 64), st.integers(1, 600), st.sampled_from([PF_R, PF_R | PF_W, PF_R | PF_X]), st.integers(0, 0x3000))
_elf = st.builds(
    lambda bits, little, machine, segs, syms, symtab: Elf(bits=bits, little=little, machine=machine, entry=0x100000,
                                                          segments=segs, symbols=syms, symtab=symtab),
    st.sampled_from([32, 64]), st.booleans(), st.sampled_from([EM_X86_64, EM_386, EM_AARCH64, EM_PPC64, EM_RISCV, 0x4242]),
    st.lists(_seg, min_size=1, max_size=5),
    st.lists(st.tuples(st.text("abcxyz_é", min_size=1, max_size=8), st.integers(0x100000, 0x150000), st.integers(0, 64),
                       st.sampled_from([STT_FUNC, STT_OBJECT, 0, 3])), max_size=6),
    st.sampled_from([".symtab", ".dynsym", None]))


@settings(max_examples=60, deadline=None)
@given(_elf)
def test_same_reading_as_pyelftools(tmp_path_factory, elf):
    _compare(tmp_path_factory.mktemp("elf"), elf.build())


@settings(max_examples=80, deadline=None)
@given(_elf, st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=4))
def test_flipped_bytes_read_as_pyelftools_reads_them_or_are_named(tmp_path_factory, elf, flips):
    raw = bytearray(elf.build())
    for at, value in flips:
        raw[at % len(raw)] = value
    _compare(tmp_path_factory.mktemp("elf"), bytes(raw), strict=False)
