"""`kvmtui diff` and `kvmtui map` on the real logs captured here (tests/data/import, tests/data/layouts)."""

import itertools
import json
from pathlib import Path

import pytest

from kvmtui.cli import main
from kvmtui.scenario.importers import read_log

IMPORT = Path(__file__).parent / "data" / "import"
LAYOUTS = Path(__file__).parent / "data" / "layouts"
SAMPLES = Path(__file__).parent.parent / "samples"
PAGE = 4096


def replayed(path):
    """The slot table a log implies after its last line: a plain replay of the calls the kernel accepted."""
    table = {}
    for e in read_log(path).memslot_events:
        if e.ret != "ok":
            continue
        if e.size == 0:
            table.pop(e.slot, None)
        else:
            table[e.slot] = (e.gpa, e.size, e.flags)
    return table


def reference_diff(ta, tb):
    """Cut at every slot edge of either side; keep the pieces where one side has no slot or the flags
    differ; join neighbours owned by the same pair of slots. Written apart from the engine's sweep."""
    edges = sorted({0, 1 << 64} | {g for gpa, size, _ in [*ta.values(), *tb.values()] for g in (gpa, gpa + size)})

    def owner(t, x):
        return next(((n, f) for n, (gpa, size, f) in t.items() if gpa <= x < gpa + size), None)

    out = []
    for lo, hi in itertools.pairwise(edges):
        a, b = owner(ta, lo), owner(tb, lo)
        if (a is None) == (b is None) and (a is None or a[1] == b[1]):
            continue
        pair = (a and a[0], b and b[0])
        if out and out[-1][0] + out[-1][1] == lo and out[-1][2] == pair:
            out[-1][1] = hi - out[-1][0]
        else:
            out.append([lo, hi - lo, pair])
    return [(gpa, size, sa, sb) for gpa, size, (sa, sb) in out]


def run_json(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, [json.loads(line) for line in out.out.splitlines()], out.err


PAIRS = [
    (IMPORT / "pc.log", IMPORT / "q35.log"),
    (IMPORT / "pc.log", IMPORT / "q35-5G.log"),
    (IMPORT / "pc.log", IMPORT / "pc-timestamp.log"),
    (IMPORT / "pc.log", IMPORT / "pc.strace"),
    (IMPORT / "pc.log", IMPORT / "flash-write-from-flash.log"),
    (IMPORT / "migration.log", IMPORT / "migration-cancel.log"),
    (LAYOUTS / "pc.log", LAYOUTS / "q35-4G.log"),
    (LAYOUTS / "pc.log", LAYOUTS / "memfd.log"),
    (LAYOUTS / "pc.log", LAYOUTS / "microvm.log"),
    (LAYOUTS / "pc.log", LAYOUTS / "nodefaults.log"),
    (LAYOUTS / "ovmf-pc.log", LAYOUTS / "ovmf-q35.log"),
    (LAYOUTS / "ovmf-pc.log", LAYOUTS / "pc.log"),
    (LAYOUTS / "q35.log", IMPORT / "q35.log"),
]


@pytest.mark.parametrize("a,b", PAIRS, ids=[f"{a.name}-{b.name}" for a, b in PAIRS])
def test_diff_json_is_exactly_the_differing_ranges_of_the_logs(capsys, a, b):
    """The engine's sweep over the replayed run against a reference cut written here, on pairs of real logs."""
    code, rows, err = run_json(capsys, "diff", str(a), str(b), "--json")
    want = reference_diff(replayed(a), replayed(b))
    got = [(r["gpa"], r["size"], r["a"] and r["a"]["slot"], r["b"] and r["b"]["slot"]) for r in rows]
    assert got == want
    assert code == (1 if want else 0), err
    for r in rows:
        for side, table in (("a", replayed(a)), ("b", replayed(b))):
            if r[side] is not None:
                _gpa, _, flags = table[r[side]["slot"]]
                names = r[side]["flags"]
                assert ("KVM_MEM_READONLY" in names) == bool(flags & 2) and ("KVM_MEM_LOG_DIRTY_PAGES" in names) == bool(flags & 1)


def test_the_pairs_cover_same_and_different(capsys):
    """pc and q35 with 512M agree; 5G adds RAM above 4G; a migration leaves dirty logging on in one."""
    assert main(["diff", str(IMPORT / "pc.log"), str(IMPORT / "q35.log")]) == 0
    capsys.readouterr()
    code, rows, _ = run_json(capsys, "diff", str(IMPORT / "pc.log"), str(IMPORT / "q35-5G.log"), "--json")
    assert code == 1 and any(r["gpa"] == 1 << 32 and r["a"] is None for r in rows)
    code, rows, _ = run_json(capsys, "diff", str(IMPORT / "migration.log"), str(IMPORT / "migration-cancel.log"), "--json")
    assert code == 1 and rows and all(r["a"] and r["b"] and r["a"]["flags"] != r["b"]["flags"] for r in rows)


def test_an_earlier_step_of_the_same_log(capsys):
    """migration.log: `migrate` turns dirty logging on for slot 0 (the low RAM), one ioctl that changes its flags."""
    log = IMPORT / "migration.log"
    first_log_on = next(i for i, e in enumerate(read_log(log).memslot_events, 1) if e.flags & 1 and e.slot == 0)
    code, rows, _ = run_json(capsys, "diff", str(log), str(log), "--at-a", str(first_log_on - 1), "--at-b", str(first_log_on), "--json")
    assert code == 1 and len(rows) == 1
    assert rows[0]["a"]["flags"] == [] and rows[0]["b"]["flags"] == ["KVM_MEM_LOG_DIRTY_PAGES"]
    assert main(["diff", str(log), str(log), "--at-a", "3", "--at-b", "3"]) == 0
    capsys.readouterr()


def test_diff_table_on_a_pipe_is_plain_and_aligned(capsys):
    assert main(["diff", str(LAYOUTS / "pc.log"), str(LAYOUTS / "microvm.log")]) == 1
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0].startswith("--- ") and lines[1].startswith("+++ ")
    body = [line for line in lines if line[:1] in "-+!" and not line.startswith(("---", "+++"))]
    assert [line[0] for line in body] == ["+", "-", "-", "!"]
    assert len({line.index("0000") for line in body}) == 1  # the gpa column lines up
    assert "4 ranges differ" in lines[-1]


@pytest.mark.parametrize("argv,needle", [
    (["diff", str(IMPORT / "pc.log"), "/nonexistent.log"], "/nonexistent.log"),
    (["diff", str(IMPORT / "pc.log"), str(IMPORT / "q35.log"), "--at-a", "999"], "out of range"),
    (["diff", str(SAMPLES / "rom.yaml"), str(IMPORT / "q35.log"), "--maps-a", str(IMPORT / "pc-maps.maps")], "not one"),
    (["map", str(IMPORT / "pc.log"), "--mtree", str(IMPORT / "pc.log")], "info mtree -f"),
    (["map", str(IMPORT / "COMMANDS.md")], "COMMANDS.md"),
    (["diff", str(IMPORT / "pc.log")], "required"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_map_covers_the_space_once_with_names_from_qemu(capsys):
    code, rows, _ = run_json(capsys, "map", str(LAYOUTS / "pc.log"), "--mtree", str(LAYOUTS / "pc.mtree"), "--json")
    assert code == 0
    assert rows[0]["gpa"] == 0 and sum(r["size"] for r in rows) == 1 << 64
    assert all(x["gpa"] + x["size"] == y["gpa"] for x, y in itertools.pairwise(rows))
    slots = {r["gpa"]: (r["name"], r["offset"], r["flags"]) for r in rows if r["kind"] == "slot"}
    assert slots == {0: ("pc.ram", 0, []), 0xC0000: ("pc.ram", 0xC0000, []), 0xFD000000: ("vga.vram", 0, ["KVM_MEM_LOG_DIRTY_PAGES"]),
                     0xFFFC0000: ("pc.bios", 0, ["KVM_MEM_READONLY"])}
    named_holes = {r["name"] for r in rows if r["kind"] == "qemu"}
    assert {"vga-lowmem", "e1000-mmio", "kvm-ioapic", "hpet"} <= named_holes
    assert [r["slot"] for r in rows if r["kind"] == "slot"] == sorted(replayed(LAYOUTS / "pc.log"), key=lambda s: replayed(LAYOUTS / "pc.log")[s][0])


def test_map_names_slots_by_their_mapping_path_with_maps(capsys):
    code, rows, _ = run_json(capsys, "map", str(LAYOUTS / "memfd.log"), "--maps", str(LAYOUTS / "memfd.maps"), "--json")
    assert code == 0
    names = {r["gpa"]: (r["name"], r["offset"]) for r in rows if r["kind"] == "slot"}
    ram, dimm = names[0][0], names[1 << 32][0]
    assert ram.startswith("/memfd:memory-backend-memfd") and dimm.startswith("/memfd:memory-backend-memfd")
    assert ram != dimm  # two memfds, two mappings, both named by their path
    assert names[0xC0000] == (ram, 0xC0000) and names[1 << 32] == (dimm, 0)
    assert names[0xFFFC0000][0].startswith("m")  # pc.bios is anonymous memory: no path to name it by


def test_map_of_a_scenario_shows_its_mmio_devices_and_host_names(capsys):
    code, rows, _ = run_json(capsys, "map", str(SAMPLES / "mmio.yaml"), "--json")
    assert code == 0
    assert any(r["kind"] == "mmio" for r in rows)
    assert all(r["name"] for r in rows if r["kind"] == "slot")


def test_map_of_an_elf_names_its_segments(capsys):
    code, rows, _ = run_json(capsys, "map", str(SAMPLES / "firmware" / "firmware.elf"), "--json")
    assert code == 0
    names = [r["name"] for r in rows if r["kind"] == "slot"]
    assert names and all(n for n in names) and any(n.startswith("firmware.") for n in names)


def test_map_table_marks_flags_and_holes(capsys):
    assert main(["map", str(IMPORT / "pc.log")]) == 0
    out = capsys.readouterr().out
    assert "(1 address space)" in out and "READONLY" in out and "no slot: an access is an MMIO exit" in out
    assert "0000000100000000-ffffffffffffffff" in out
