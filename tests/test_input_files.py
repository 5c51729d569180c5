"""Issue 11, reading: the one bounded reader of input files, the YAML pre-checks and the importers' number
bounds. Every hostile input ends in one line and exit 2, quickly, without reading what it should not."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from kvmtui.cli import main
from kvmtui.scenario import ScenarioError, inputfile, load_scenario
from kvmtui.scenario.importers import parse_qemu_trace, parse_strace

ROOT = Path(__file__).parent.parent
GOOD_LINE = "kvm_set_user_memory Slot#0 flags=0x0 gpa=0x0 size=0x1000 ua=0x7f0000000000 ret=0"


def one_line_exit_2(argv: list[str], capsys, budget: float = 10.0) -> str:
    t = time.monotonic()
    assert main(argv) == 2
    assert time.monotonic() - t < budget
    _out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("kvmtui: ") and "Traceback" not in err, err
    assert len(err) < 400, err  # values in messages are shortened
    return err


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    p = tmp_path / "pipe.yaml"
    os.mkfifo(p)
    return p


# -- not regular files ----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["trace"], ["check"], ["import", "-o", "OUT"], []])
def test_a_fifo_never_blocks(command, fifo, tmp_path, capsys):
    argv = [a if a != "OUT" else str(tmp_path / "out.yaml") for a in command] + [str(fifo)]
    err = one_line_exit_2(argv, capsys)
    assert f"{fifo}: is a FIFO" in err
    assert not (tmp_path / "out.yaml").exists()


@pytest.mark.parametrize("path,words", [("/dev/zero", "character device"), ("/dev/null", "character device"),
                                        ("/proc/self/status", "/proc or /sys file"), ("/proc/self/maps", "/proc or /sys file"),
                                        ("/sys/kernel/mm/transparent_hugepage/enabled", "/proc or /sys file")])
def test_devices_and_proc_files_are_refused(path, words, capsys):
    if not os.path.exists(path):
        pytest.skip(f"{path} is not on this machine")
    err = one_line_exit_2(["trace", path], capsys)
    assert f"kvmtui: {path}: " in err and words in err


def test_a_directory_is_refused_everywhere(tmp_path, capsys):
    assert "is a directory" in one_line_exit_2(["trace", str(tmp_path)], capsys)
    assert "is a directory" in one_line_exit_2(["import", str(tmp_path), "-o", str(tmp_path / "o.yaml")], capsys)


def test_size_cap_is_checked_before_reading(tmp_path, capsys):
    big = tmp_path / "huge.yaml"
    with open(big, "wb") as f:  # sparse: the cap must come from fstat, not from reading 1 TiB of zeros
        f.truncate(1 << 40)
    err = one_line_exit_2(["trace", str(big)], capsys, budget=5)
    assert "file too large" in err
    log = tmp_path / "huge.log"
    with open(log, "wb") as f:
        f.truncate(inputfile.MAX_LOG_BYTES + 1)
    assert "file too large" in one_line_exit_2(["import", str(log), "-o", str(tmp_path / "o.yaml")], capsys, budget=5)


def test_the_reader_stops_at_the_cap_even_when_the_size_lies(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"a" * 100)
    with pytest.raises(ScenarioError, match="too large"):
        inputfile.read_bytes(p, limit=10)
    assert inputfile.read_bytes(p, limit=100) == b"a" * 100


def test_maps_may_come_from_proc_and_are_bounded():
    from kvmtui.scenario.importers import read_maps

    assert "-" in read_maps("/proc/self/maps")
    with pytest.raises(ScenarioError, match="character device"):
        read_maps("/dev/zero")


def test_sniffing_never_blocks(fifo):
    from kvmtui.scenario.elf import is_elf
    from kvmtui.scenario.importers import looks_like_log

    assert inputfile.read_head(fifo) is None
    assert not is_elf(fifo) and not looks_like_log(fifo) and not is_elf("/dev/zero")


def test_an_image_or_elf_file_that_is_a_fifo(fifo, tmp_path, capsys):
    s = tmp_path / "s.yaml"
    s.write_text(f"host:\n  ram: {{size: 4K, file: {fifo.name}}}\nsteps:\n  - read: 0\n")
    assert "is a FIFO" in one_line_exit_2(["trace", str(s)], capsys)
    s.write_text(f"elf: [{fifo.name}]\nsteps:\n  - read: 0\n")
    assert "is a FIFO" in one_line_exit_2(["trace", str(s)], capsys)


# -- YAML pre-checks ------------------------------------------------------------------------------------
def test_deep_flow_nesting_is_refused_before_parsing(tmp_path, capsys):
    p = tmp_path / "deep.yaml"
    p.write_text("a: " + "[" * 10_000 + "\n")
    err = one_line_exit_2(["trace", str(p)], capsys, budget=5)
    assert "nested too deeply" in err and ":1:" in err


def test_deep_block_nesting_is_refused(tmp_path, capsys):
    p = tmp_path / "deep.yaml"
    p.write_text("a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 3000)))
    assert "nested too deeply" in one_line_exit_2(["trace", str(p)], capsys, budget=5)


def test_brackets_inside_strings_and_comments_do_not_count(tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text(f'title: "{"[" * 200}"\n# {"{" * 200}\nhost:\n  ram: {{size: 4K}}\n'
                 "slots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0\n")
    assert load_scenario(p).title == "[" * 200


def test_complex_keys_are_refused(tmp_path, capsys):
    for text in ("a: 1\n[[x]]: 1\n", "? [x]\n: 1\n", "steps:\n  - {read: 0, {a: 1}: 2}\n"):
        p = tmp_path / "k.yaml"
        p.write_text(text)
        assert "complex YAML key" in one_line_exit_2(["trace", str(p)], capsys)


@pytest.mark.parametrize("digits", [25, 4000, 5000, 100_000])
def test_long_integers_are_refused_by_digit_count(digits, tmp_path, capsys):
    p = tmp_path / "n.yaml"
    p.write_text("host:\n  ram: {size: 4K}\nsteps:\n  - read: " + "9" * digits + "\n")
    err = one_line_exit_2(["trace", str(p)], capsys, budget=5)
    assert ":4:11:" in err and ("out of range" in err)


def test_long_size_strings_are_refused(tmp_path, capsys):
    p = tmp_path / "n.yaml"
    p.write_text("host:\n  ram: {size: 4K}\nsteps:\n  - read: '" + "9" * 5000 + "K'\n")
    assert "not a number or size" in one_line_exit_2(["trace", str(p)], capsys, budget=5)


def test_duplicate_key_with_a_multi_line_value_is_one_line(tmp_path, capsys):
    p = tmp_path / "d.yaml"
    p.write_text("title: |\n" + "".join(f"  line {i}\n" for i in range(60)) + "steps:\n  - read: 0\ntitle: |\n"
                 + "".join(f"  other {i}\n" for i in range(60)))
    assert "duplicate key" in one_line_exit_2(["trace", str(p)], capsys)


def test_overlapping_hvas_are_a_scenario_error(tmp_path, capsys):
    p = tmp_path / "o.yaml"
    p.write_text("host:\n  a: {size: 2M, hva: 0x7f0000000000}\n  b: {size: 4K, hva: 0x7f0000100000}\nsteps:\n  - read: 0\n")
    assert ":3:3: host mapping 'b'" in one_line_exit_2(["trace", str(p)], capsys)
    p.write_text("host:\n  a: {size: 2M, hva: 0xfffffffffff00000}\nsteps:\n  - read: 0\n")
    assert "past the end of the 64-bit address space" in one_line_exit_2(["trace", str(p)], capsys)


# -- VMM logs -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("field,value,words", [
    ("size", "0x1ffffffffffffffff000", "at most 64 bits"),
    ("gpa", "0x" + "f" * 5000, "at most 64 bits"),
    ("ua", "0x" + "1" * 17, "at most 64 bits"),
])
def test_log_numbers_are_bounded_and_name_the_log_line(field, value, words, tmp_path, capsys):
    log = tmp_path / "x.log"
    log.write_text("qemu: starting\n" + re.sub(rf"\b{field}=0x[0-9a-f]+", f"{field}={value}", GOOD_LINE) + "\n")
    out = tmp_path / "out.yaml"
    for argv in (["trace", str(log)], ["import", str(log), "-o", str(out)]):
        err = one_line_exit_2(argv, capsys, budget=5)
        assert err.startswith(f"kvmtui: {log}:2:") and words in err and "out.yaml" not in err
    assert not out.exists()


def test_log_slot_and_ret_are_bounded():
    with pytest.raises(ScenarioError, match="slot 99999999999 is out of range"):
        parse_qemu_trace(GOOD_LINE.replace("Slot#0", "Slot#99999999999"), "x.log")
    with pytest.raises(ScenarioError, match=r"memory_size .* must not be negative"):
        parse_strace("ioctl(5, KVM_SET_USER_MEMORY_REGION, {slot=0, flags=0, guest_phys_addr=0, memory_size=-4096, "
                     "userspace_addr=0x7f0000000000}) = 0", "x.strace")


def test_an_unaligned_userspace_address_runs_and_the_kernel_refuses_it(tmp_path, capsys):
    log = tmp_path / "u.log"
    log.write_text(GOOD_LINE.replace("ua=0x7f0000000000", "ua=0x7f0000000123") + "\n")
    assert main(["trace", str(log)]) in (0, 1)
    out, err = capsys.readouterr()
    assert "EINVAL" in out and err == ""


def test_a_log_of_only_failure_lines_is_a_log(tmp_path, capsys):
    log = tmp_path / "f.log"
    log.write_text("qemu-system-x86_64: KVM_SET_USER_MEMORY_REGION failed, slot=3, start=0x100000, size=0x1000, "
                   "flags=0x0: Invalid argument\n")
    assert main(["trace", str(log)]) in (0, 1)
    out, err = capsys.readouterr()
    assert "slot 3" in out and "YAML" not in err


def test_mtree_and_config_files_go_through_the_bounded_reader(fifo, capsys):
    from kvmtui.config import load_config
    from kvmtui.scenario.mtree import read_mtree

    for read in (read_mtree, load_config):
        with pytest.raises(ScenarioError, match="is a FIFO"):
            read(str(fifo))
        with pytest.raises(ScenarioError, match="character device"):
            read("/dev/zero")
