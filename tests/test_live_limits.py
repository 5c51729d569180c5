"""Issue 11, live mode: every resource released on every error path (the fd count and the mappings stay
flat over 1,000 runs with failures injected), sizes the kernel's types cannot hold refused before any
syscall with the scenario's line, file-backed fill written without building fill x size bytes."""

from __future__ import annotations

import json
import os
import random
import time

import pytest

import kvmtui.live.hostmem as hostmem
from kvmtui.cli import main
from kvmtui.live.backend import LiveRun
from kvmtui.live.kvmapi import kvm_available
from kvmtui.scenario import ScenarioError
from kvmtui.scenario.loader import parse_scenario

AVAILABLE, WHY = kvm_available()
live = pytest.mark.skipif(not AVAILABLE, reason=f"live KVM unavailable: {WHY}")

FILE_AND_ANON = """host:
  rom: {size: 64K, backing: file, fill: 0x5a, data: "ea 5b 00"}
  ram: {size: 1M, fill: 0x11, hva: 0x600000000000}
  low: {size: 16K, prot: r}
slots:
  - {slot: 0, gpa: 0, host: ram}
  - {slot: 1, gpa: 0xfff00000, host: rom, flags: [readonly]}
steps:
  - read: 0xfff00000
    size: 1
  - write: 0x10
    value: 1
"""


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _mappings() -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


@live
def test_a_thousand_live_runs_with_failures_injected_leak_nothing(monkeypatch):
    sc = parse_scenario(FILE_AND_ANON, "<live>")
    with LiveRun(sc) as run:  # warm up: libc, ctypes and caches open what they keep
        run.entries()
    before_fds, before_maps = _fds(), _mappings()
    rng = random.Random(11)
    real = {name: getattr(hostmem.os, name) for name in ("ftruncate", "pwrite", "fsync", "posix_fadvise")}
    real_mmap, real_mprotect = hostmem.k.host_mmap, hostmem.k.host_mprotect
    failures = {"ftruncate", "pwrite", "fsync", "posix_fadvise", "mmap", "mprotect", "steps", "none"}
    seen: set[str] = set()

    def failing(name, fn):
        def call(*a, **kw):
            if target == name:
                raise OSError(28 if name != "mmap" else 12, "injected failure")
            return fn(*a, **kw)
        return call

    for name, fn in real.items():
        monkeypatch.setattr(hostmem.os, name, failing(name, fn))
    monkeypatch.setattr(hostmem.k, "host_mmap", failing("mmap", real_mmap))
    monkeypatch.setattr(hostmem.k, "host_mprotect", failing("mprotect", real_mprotect))
    for _ in range(1000):
        target = rng.choice(sorted(failures))
        try:
            with LiveRun(sc) as run:
                if target == "steps":
                    run.entry(0)
                    raise RuntimeError("interrupted mid-run")
                run.entries()
        except (ScenarioError, RuntimeError, OSError):
            seen.add(target)
    assert _fds() == before_fds
    assert _mappings() == before_maps
    assert seen >= failures - {"none"}  # every failure point was hit at least once


@live
@pytest.mark.parametrize("host,words", [
    ("{size: 0xffffffffffffffff, backing: file, hva: 0}", "do not fit in the user address space"),
    ("{size: 0xfffffffffffff000, hva: 0x1000}", "do not fit in the user address space"),
    ("{size: 64G, backing: file, fill: 0xaa}", "more than live mode writes"),
    ("{size: 64G, fill: 0xaa}", "more than live mode writes"),
])
def test_sizes_that_cannot_be_mapped_are_a_scenario_error_naming_the_line(host, words, tmp_path, capsys):
    p = tmp_path / "big.yaml"
    p.write_text(f"host:\n  ram: {host}\nslots:\n  - {{slot: 0, gpa: 0, host: ram, size: 4K}}\nsteps:\n  - read: 0\n")
    t = time.monotonic()
    for argv in (["trace", "--live", str(p)], ["compare", str(p)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"kvmtui: {p}:2:3: host mapping 'ram': ") and words in err and err.count("\n") == 1, err
    assert time.monotonic() - t < 10


@live
def test_a_file_backed_fill_is_written_in_bounded_chunks(monkeypatch):
    sizes: list[int] = []
    real = hostmem.os.pwrite

    def pwrite(fd, data, offset):
        sizes.append(len(data))
        return real(fd, data, offset)

    monkeypatch.setattr(hostmem.os, "pwrite", pwrite)
    sc = parse_scenario("host:\n  rom: {size: 8M, backing: file, fill: 0x5a}\nslots:\n  - {slot: 0, gpa: 0, host: rom}\n"
                        "steps:\n  - read: 0x7ff000\n    size: 1\n    expect: {value: 0x5a}\n", "<fill>")
    with LiveRun(sc) as run:
        assert run.entries()[-1].expect_met
    assert max(sizes) <= hostmem.FILL_CHUNK and sum(sizes) == 8 << 20


@live
def test_slot_ids_that_do_not_fit_get_the_kernels_answer(capsys, tmp_path):
    p = tmp_path / "slot.yaml"
    p.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0xffffffff, gpa: 0, host: ram}\nsteps:\n  - delete_slot: 0xffffffff\n"
                 "  - get_dirty_log: 0xffffffff\n")
    assert main(["trace", "--live", "--json", str(p)]) == 0
    outcomes = [json.loads(line)["outcome"] for line in capsys.readouterr().out.splitlines()]
    assert outcomes[0] == "EINVAL" and all(o in ("EINVAL", "ENOENT") for o in outcomes[1:]), outcomes


def test_compare_reports_bad_input_before_live_availability(capsys, monkeypatch, tmp_path):
    import kvmtui.live.kvmapi as kvmapi

    monkeypatch.setattr(kvmapi, "kvm_available", lambda: (False, "no permission to open /dev/kvm"))
    assert main(["compare", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["trace", "--live", str(tmp_path / "missing.yaml")]) == 2
