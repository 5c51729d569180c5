"""ELF images: placement by physical address, symbols, and every kind of bad file named with its file."""

from pathlib import Path

import pytest
from elfgen import EM_386, EM_AARCH64, EM_PPC64, EM_RISCV, PF_R, PF_W, PF_X, STT_FUNC, STT_OBJECT, Elf, Seg

from kvmtui.cli import main
from kvmtui.runner import ScenarioRun
from kvmtui.scenario import ScenarioError, load_scenario
from kvmtui.scenario.elf import read_elf
from kvmtui.scenario.firmware import scenario_from_elf

ROOT = Path(__file__).parent.parent
FIRMWARE = ROOT / "samples" / "firmware" / "firmware.elf"


def write(tmp_path, elf: Elf | bytes, name="t.elf") -> Path:
    p = tmp_path / name
    p.write_bytes(elf if isinstance(elf, bytes) else elf.build())
    return p


def test_the_sample_firmware():
    im = read_elf(FIRMWARE)
    assert (im.machine, im.elfclass, im.little_endian, im.notes) == ("EM_386", 32, True, ())
    ranges, notes = im.ranges()
    assert [(r.gpa, r.size, r.writable) for r in ranges] == [(0x20000, 0x3000, True), (0xFFFF8000, 0x8000, False)]
    assert ranges[0].image[:8] == bytes([0, 0, 0, 0, 1, 2, 3, 4])  # .data; .bss is not in the file
    names = {s.name: s.paddr for s in im.symbols}
    assert names["reset_vector"] == 0xFFFFFFF0 and names["banner"] == 0xFFFF8021 and names["stack"] == 0x20008
    assert not notes


def test_paddr_differs_from_vaddr_and_symbols_follow_the_physical_address(tmp_path):
    elf = Elf(segments=[Seg(paddr=0x1000000, vaddr=0xFFFFFFFF81000000, data=b"\x90" * 0x40)],
              symbols=[("startup_64", 0xFFFFFFFF81000000, 0x20, STT_FUNC), ("later", 0xFFFFFFFF81000020, 0x20, STT_FUNC)])
    im = read_elf(write(tmp_path, elf))
    assert [(s.name, s.paddr) for s in im.symbols] == [("startup_64", 0x1000000), ("later", 0x1000020)]
    sc = scenario_from_elf(write(tmp_path, elf))
    run = ScenarioRun(sc)
    assert run.symbol(0x1000004) == "startup_64+0x4" and run.symbol(0x1000020) == "later"
    assert run.symbol(0x1000040) is None


def test_unaligned_offset_and_bss(tmp_path):
    elf = Elf(segments=[Seg(paddr=0x100010, data=b"\x01\x02\x03", pad=3, flags=PF_R | PF_W, memsz=0x2000)])
    p = write(tmp_path, elf)
    im = read_elf(p)
    assert im.segments[0].offset % 16 != 0
    (r,), _ = im.ranges()
    assert (r.gpa, r.size, r.writable) == (0x100000, 0x3000, True)
    assert r.image == b"\0" * 0x10 + b"\x01\x02\x03"
    run = ScenarioRun(scenario_from_elf(p))
    run.entries()
    from kvmtui.engine import Access, AccessKind

    m = run.machine
    assert m.apply(Access(AccessKind.READ, 0x100010, 4)).value == 0x030201
    assert m.apply(Access(AccessKind.READ, 0x101f00, 8)).value == 0  # bss


def test_read_only_and_writable_segments_and_a_shared_page(tmp_path):
    elf = Elf(segments=[Seg(paddr=0x200000, data=b"\xc3" * 0x1800, flags=PF_R | PF_X),
                        Seg(paddr=0x201800, data=b"\x11" * 0x1000, flags=PF_R | PF_W)])
    ranges, notes = read_elf(write(tmp_path, elf)).ranges()
    assert [(r.gpa, r.size, r.writable, r.segments) for r in ranges] == [
        (0x200000, 0x1000, False, (0,)), (0x201000, 0x2000, True, (0, 1))]
    assert notes and "different permissions: mapped writable" in notes[0]
    sc = scenario_from_elf(write(tmp_path, elf))
    flags = [s.params["flags"] for s in sc.setup]
    assert flags == [0, 2, 0]  # RAM below, then the read-only page, then the writable ones


def test_symbols_only_in_dynsym_and_stripped(tmp_path):
    dyn = Elf(segments=[Seg(paddr=0x400000, data=b"\0" * 16)], symbols=[("dyn_entry", 0x400004, 4, STT_OBJECT)], symtab=".dynsym")
    assert [s.name for s in read_elf(write(tmp_path, dyn)).symbols] == ["dyn_entry"]
    stripped = Elf(segments=[Seg(paddr=0x400000, data=b"\0" * 16)], symtab=None)
    im = read_elf(write(tmp_path, stripped, "s.elf"))
    assert im.symbols == () and "stripped" in im.notes[0]


@pytest.mark.parametrize("bits,little,machine,note", [
    (32, True, EM_386, None), (64, True, 62, None), (64, False, EM_PPC64, "PPC64"), (32, False, 20, "PPC"),
    (64, True, EM_AARCH64, "AARCH64"), (64, True, EM_RISCV, "RISCV"),
])
def test_classes_byte_orders_and_machines(tmp_path, bits, little, machine, note):
    elf = Elf(bits=bits, little=little, machine=machine, segments=[Seg(paddr=0x80000000, data=b"\x12\x34\x56\x78")],
              symbols=[("_start", 0x80000000, 4, STT_FUNC)])
    im = read_elf(write(tmp_path, elf))
    assert (im.elfclass, im.little_endian) == (bits, little)
    assert [s.name for s in im.symbols] == ["_start"]
    assert im.ranges()[0][0].image == b"\x12\x34\x56\x78"
    if note:
        assert note in im.notes[0] and "not x86" in im.notes[0]
    else:
        assert im.notes == ()


def _bad(tmp_path, data: bytes) -> str:
    with pytest.raises(ScenarioError) as e:
        read_elf(write(tmp_path, data, "bad.elf"))
    assert str(e.value).startswith(str(tmp_path / "bad.elf") + ": ")
    return e.value.message


def test_bad_files_are_named_and_explained(tmp_path):
    good = Elf(segments=[Seg(paddr=0x1000, data=b"\x90" * 64)]).build()
    assert "not an ELF" in _bad(tmp_path, b"MZ\x90\x00 garbage")
    assert "truncated" in _bad(tmp_path, good[:20])
    assert "truncated" in _bad(tmp_path, good[:64 + 30])  # inside the program header table
    assert "truncated" in _bad(tmp_path, good[:64 + 56 + 10])  # inside the segment's bytes
    assert "identification" in _bad(tmp_path, b"\x7fELF\x07\x09" + b"\0" * 60)
    assert "p_filesz" in _bad(tmp_path, Elf(segments=[Seg(paddr=0x1000, data=b"\0" * 32, memsz=16)]).build())
    assert "overlap" in _bad(tmp_path, Elf(segments=[Seg(paddr=0x1000, data=b"\0" * 32), Seg(paddr=0x1010, data=b"\0" * 32)]).build())
    assert "beyond 2^64" in _bad(tmp_path, Elf(segments=[Seg(paddr=(1 << 64) - 16, data=b"\0" * 32)]).build())
    assert "no loadable" in _bad(tmp_path, Elf(segments=[]).build())


def test_unreadable_section_headers_keep_the_segments(tmp_path):
    data = bytearray(Elf(segments=[Seg(paddr=0x1000, data=b"\x90" * 64)], symbols=[("x", 0x1000, 1, STT_FUNC)]).build())
    data[0x28:0x30] = (len(data) + 0x10000).to_bytes(8, "little")  # e_shoff past the end of the file
    im = read_elf(write(tmp_path, bytes(data)))
    assert len(im.segments) == 1 and im.symbols == ()
    assert "symbols unavailable" in im.notes[0]


def test_elf_key_in_a_scenario_and_its_errors(tmp_path):
    write(tmp_path, Elf(segments=[Seg(paddr=0xFFFF0000, data=b"\xea" * 0x10000)], symbols=[("rom", 0xFFFF0000, 0x10000, STT_OBJECT)]), "fw.elf")
    f = tmp_path / "s.yaml"
    f.write_text("elf:\n  - file: fw.elf\n    readonly: never\n    slot: 7\nsteps:\n  - write: 0xffff0000\n    size: 1\n    value: 1\n")
    sc = load_scenario(f)
    assert [(s.params["slot"], s.params["flags"]) for s in sc.setup] == [(7, 0)]
    assert ScenarioRun(sc).entry(1).record.outcome == "ok"  # never: a writable slot
    f.write_text("elf:\n  - file: fw.elf\nsteps:\n  - write: 0xffff0000\n    size: 1\n    value: 1\n")
    run = ScenarioRun(load_scenario(f))
    assert run.entry(1).record.outcome == "mmio" and run.symbol(0xFFFF0010) == "rom+0x10"
    (tmp_path / "junk.elf").write_bytes(b"not an elf")
    f.write_text("elf:\n  - file: junk.elf\nsteps:\n  - read: 0\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml:2:11: junk\.elf: not an ELF file"):
        load_scenario(f)
    f.write_text("elf:\n  - file: fw.elf\n    readonly: sometimes\nsteps:\n  - read: 0\n")
    with pytest.raises(ScenarioError, match="readonly 'sometimes' is not known"):
        load_scenario(f)


def test_cli_opens_an_elf_by_content_not_extension(tmp_path, capsys):
    p = write(tmp_path, FIRMWARE.read_bytes(), "firmware.bin")
    assert main(["trace", str(p), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all('"op":"set_memory_region"' in x for x in lines)
    bad = write(tmp_path, b"\x7fELF\x02\x01\x01", "bad.elf")
    assert main(["trace", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "Traceback" not in err


def test_trace_names_addresses_by_symbol(capsys):
    assert main(["trace", str(ROOT / "samples" / "elf.yaml"), "--json"]) == 0
    import json

    recs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    symbols = [r.get("symbol") for r in recs if r["op"] in ("read", "write", "fetch")]
    assert symbols == ["reset_vector", "banner", "_start", "config_table", "boot_counter", "stack+0xff8"]
