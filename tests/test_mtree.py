"""QEMU's `info mtree -f` output (tests/data/layouts/*.mtree are real QEMU 7.2 captures) and naming slots by it."""

from pathlib import Path

import pytest

from kvmtui.engine.memslots import MemSlot
from kvmtui.layouts import layout_at, map_rows
from kvmtui.runner import ScenarioRun
from kvmtui.scenario import ScenarioError
from kvmtui.scenario.loader import parse_scenario
from kvmtui.scenario.mtree import name_slot, parse_mtree, read_mtree, view_of

LAYOUTS = Path(__file__).parent / "data" / "layouts"


@pytest.mark.parametrize("name", ["pc", "q35", "q35-4G", "memfd", "microvm", "nodefaults", "ovmf-pc", "ovmf-q35"])
def test_every_capture_has_a_memory_view_whose_ranges_tile_in_order(name):
    views = read_mtree(LAYOUTS / f"{name}.mtree")
    mem = view_of(views, 0)
    assert mem is not None and "memory" in mem.address_spaces
    assert all(a.end <= b.gpa for a, b in zip(mem.ranges, mem.ranges[1:], strict=False))
    assert any(r.accel == "KVM" for r in mem.ranges) and any(r.type == "i/o" and r.accel is None for r in mem.ranges)
    assert view_of(views, 1) is None  # no SMM address space on this machine's kernel


def test_the_fields_of_a_range_line():
    mem = view_of(read_mtree(LAYOUTS / "pc.mtree"), 0)
    assert mem is not None
    r = next(r for r in mem.ranges if r.gpa == 0xC0000)
    assert (r.size, r.prio, r.type, r.name, r.offset, r.accel) == (0x1FF40000, 0, "ram", "pc.ram", 0xC0000, "KVM")
    bios = next(r for r in mem.ranges if r.name == "pc.bios")
    assert (bios.gpa, bios.end, bios.type, bios.accel) == (0xFFFC0000, 1 << 32, "rom", "KVM")
    assert any(r.name == "vga ioports remapped" for r in mem.ranges)  # names with spaces
    assert name_slot(mem, 0xC0000, 0x1FF40000) == "pc.ram @0xc0000"
    assert name_slot(mem, 0x100000, 0x1000) == "pc.ram @0x100000"  # a slot inside a range: the offset follows
    assert name_slot(mem, 0x20000000, 0x1000) is None


SMM = """\
FlatView #0
 AS "memory", root: system
 Root memory region: system
  0000000000000000-000000000009ffff (prio 0, ram): pc.ram KVM
  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem
  00000000fffc0000-00000000ffffffff (prio 0, nv-rom): pc.bios KVM

FlatView #1
 AS "KVM-SMRAM", root: mem-container-smram
 Root memory region: mem-container-smram
  0000000000000000-000000000009ffff (prio 0, ram): pc.ram KVM
  00000000000a0000-00000000000bffff (prio 1, ram): pc.ram @00000000000a0000 KVM

FlatView #2
 AS "I/O", root: io
 Root memory region: (none)
  No rendered FlatView

"""


def test_the_smm_view_names_address_space_1():
    views = parse_mtree(SMM)
    smram = view_of(views, 1)
    assert smram is not None and name_slot(smram, 0xA0000, 0x20000) == "pc.ram @0xa0000"
    assert next(r for r in view_of(views, 0).ranges if r.name == "pc.bios").type == "nv-rom"
    assert views[2].ranges == ()
    slot = MemSlot(0, 0xA0, 0x20, 0x7F0000000000, 0, as_id=1)
    assert name_slot(smram, slot.base_gfn << 12, slot.npages << 12) == "pc.ram @0xa0000"


def test_not_an_mtree_is_refused(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("FlatView #0\n AS \"I/O\", root: io\n")
    with pytest.raises(ScenarioError, match="info mtree -f"):
        read_mtree(p)
    with pytest.raises(ScenarioError):
        read_mtree(tmp_path)  # a directory


def test_a_device_under_a_slot_is_marked_shadowed_and_one_in_a_hole_cuts_it():
    sc = parse_scenario("""\
host: {ram: {size: 1M}}
mmio:
  - {name: uart, gpa: 0x20000, size: 4K}
  - {name: rtc, gpa: 0x200000, size: 4K}
slots:
  - {slot: 0, gpa: 0, host: ram}
steps:
  - read: 0x200000
""", "<t>")
    rows = map_rows(layout_at(ScenarioRun(sc), "<t>"))
    ram = next(r for r in rows if r.slot is not None)
    assert ram.name == "ram" and ram.shadowed == ("uart",)
    kinds = [(r.gpa, r.kind, r.name) for r in rows if r.gpa < 0x300000]
    assert kinds == [(0, "slot", "ram"), (0x100000, "hole", None), (0x200000, "mmio", "rtc"), (0x201000, "hole", None)]
