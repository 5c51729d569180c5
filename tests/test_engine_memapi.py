"""Today's memory API in the model (kvm-semantics.md §i): guest_memfd, REGION2, VM types, manual protect,
KVM_CLEAR_DIRTY_LOG and the dirty ring, each against the facts measured on this machine."""

import pytest

from kvmtui.runner import ScenarioRun
from kvmtui.scenario import ScenarioError
from kvmtui.scenario.loader import parse_scenario

HEAD = """\
kvmtui: 1
host:
  ram: {size: 1M, fill: 0xaa}
"""


def run(body: str, path: str = "native", head: str = HEAD):
    sc = parse_scenario(head + body, "t.yaml")
    return [e.record for e in ScenarioRun(sc, path=path).entries()]


def outcomes(recs):
    return [r.outcome for r in recs]


# -- i.0 / i.4: VM types, KVM_CREATE_GUEST_MEMFD, capabilities -------------------------------------------
@pytest.mark.parametrize("vm_type", ["sw_protected", "sev", "sev_es", "snp", "tdx"])
def test_refused_vm_type_is_the_first_record_and_nothing_after_runs(vm_type):
    recs = run(f"vm_type: {vm_type}\nslots:\n  - {{slot: 0, gpa: 0, host: ram}}\nsteps:\n  - read: 0\n  - check_extension: NR_MEMSLOTS\n")
    assert [(r.op, r.outcome) for r in recs] == [("create_vm", "EINVAL"), ("set_memory_region", "unsupported"),
                                                  ("read", "unsupported"), ("check_extension", "unsupported")]
    assert recs[2].value is None and recs[3].value is None and recs[1].kind is None


def test_default_vm_type_adds_no_record():
    assert [r.op for r in run("vm_type: default\nsteps:\n  - read: 0\n")] == ["read"]


@pytest.mark.parametrize(("size", "flags", "outcome"), [
    ("0", "[]", "EINVAL"), ("0x800", "[]", "EINVAL"), ("0x1001", "[]", "EINVAL"), ("4K", "[0x4]", "EINVAL"),
    ("4K", "[0x80]", "EINVAL"), ("4K", "[mmap]", "ok"), ("4K", "[init_shared]", "ok"), ("4K", "[mmap, init_shared]", "ok"),
    ("1T", "[]", "ok"), ("0x4000000000000000", "[]", "ok"),
])
def test_create_guest_memfd_checks(size, flags, outcome):
    assert outcomes(run(f"steps:\n  - create_guest_memfd: {{name: g, size: {size}, flags: {flags}}}\n")) == [outcome]


def test_capabilities_of_this_kernel():
    caps = {"GUEST_MEMFD_FLAGS": 3, "USER_MEMORY2": 1, "GUEST_MEMFD": 1, "VM_TYPES": 1, "MEMORY_ATTRIBUTES": 0,
            "MANUAL_DIRTY_LOG_PROTECT2": 3, "DIRTY_LOG_RING": 1 << 20, "DIRTY_LOG_RING_ACQ_REL": 1 << 20,
            "DIRTY_LOG_RING_WITH_BITMAP": 0, "PRE_FAULT_MEMORY": 0, "COALESCED_MMIO": 2, "X86_DISABLE_EXITS": 0xE}
    body = "steps:\n" + "".join(f"  - check_extension: {c}\n" for c in caps)
    assert [r.value for r in run(body)] == list(caps.values())
    new_api = [c for c in caps if c not in ("COALESCED_MMIO", "X86_DISABLE_EXITS")]  # those two existed in 3.x
    old = "kernel: '3.7'\nsteps:\n" + "".join(f"  - check_extension: {c}\n" for c in new_api)
    assert [r.value for r in run(old)] == [0] * len(new_api)


# -- REGION2 binding rules ----------------------------------------------------------------------------------
GMEM = HEAD + """\
guest_memfd:
  g: {size: 64K, flags: [mmap]}
  plain: {size: 64K}
"""


@pytest.mark.parametrize(("slot", "outcome"), [
    ("{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g, ioctl: 1}", "EINVAL"),
    ("{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: 0x8}", "EINVAL"),
    ("{slot: 1, gpa: 0x100000, host: ram, size: 16K, guest_memfd: g}", "ok"),
    ("{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: other_vm}", "EINVAL"),
    ("{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g+0x800}", "EINVAL"),
    ("{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g+0xe000}", "EINVAL"),
    ("{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g+0x10000}", "EINVAL"),
    ("{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd, readonly], guest_memfd: g}", "EINVAL"),
    ("{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd, log_dirty_pages], guest_memfd: g}", "EINVAL"),
    ("{slot: 1, gpa: 0x100000, userspace_addr: 0, size: 16K, flags: [guest_memfd], guest_memfd: g}", "ok"),
    ("{slot: 1, gpa: 0x0, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g}", "EEXIST"),
    ("{slot: 32764, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g}", "EINVAL"),
    ("{slot: 0x10001, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g}", "EINVAL"),
])
def test_region2_binding_rules(slot, outcome):
    recs = run(f"slots:\n  - {{slot: 0, gpa: 0, host: ram, size: 64K}}\nsteps:\n  - set_memory_region: {slot}\n", head=GMEM)
    assert recs[-1].outcome == outcome, recs[-1].chain[-1]


def test_a_refused_guest_memfd_is_fd_minus_one():
    recs = run("steps:\n  - create_guest_memfd: {name: bad, size: 0x800}\n"
               "  - set_memory_region: {slot: 1, gpa: 0, host: ram, size: 4K, flags: [guest_memfd], guest_memfd: bad}\n"
               "  - set_memory_region: {slot: 1, gpa: 0, host: ram, size: 4K, guest_memfd: bad}\n")
    assert outcomes(recs) == ["EINVAL", "EBADF", "ok"]


def test_file_range_bound_twice_and_changes_to_a_gmem_slot():
    recs = run("""\
slots:
  - {slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g}
steps:
  - set_memory_region: {slot: 2, gpa: 0x200000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g+0x2000}
  - set_memory_region: {slot: 2, gpa: 0x200000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g+0x4000}
  - set_memory_region: {slot: 1}
  - set_memory_region: {slot: 1, gpa: 0x300000}
  - set_memory_region: {slot: 1, flags: 0}
  - set_memory_region: {slot: 1, flags: 0, ioctl: 1}
  - set_memory_region: {slot: 1, guest_memfd: g+0x8000}
  - delete_slot: 1
  - set_memory_region: {slot: 3, gpa: 0x300000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g}
  - set_memory_region: {slot: 4, gpa: 0x400000, host: ram, size: 4K}
  - set_memory_region: {slot: 4, flags: [guest_memfd], guest_memfd: g+0xc000}
""", head=GMEM)
    assert outcomes(recs)[3:] == ["EINVAL", "ok", "EINVAL", "EINVAL", "EINVAL", "EINVAL", "EINVAL", "ok", "ok", "ok", "EINVAL"]
    assert recs[10].args["ioctl"] == 2 and recs[10].args["guest_memfd"] == {"name": "g", "offset": 0}
    fns = [c.fn for c in recs[2].chain]
    assert fns.index("kvm_gmem_bind") < fns.index("kvm_set_memslot")


# -- guest accesses (F1-F6) -----------------------------------------------------------------------------------------
ACCESS = """\
guest_memfd:
  g: {size: 64K, flags: [mmap, init_shared]}
  plain: {size: 64K}
  private: {size: 64K, flags: [mmap]}
slots:
  - {slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g}
  - {slot: 2, gpa: 0x200000, host: ram+0x10000, size: 16K, flags: [guest_memfd], guest_memfd: plain}
  - {slot: 3, gpa: 0x300000, host: g+0x8000, size: 16K, flags: [guest_memfd], guest_memfd: g+0x8000}
  - {slot: 4, gpa: 0x400000, userspace_addr: 0, size: 16K, flags: [guest_memfd], guest_memfd: private}
  - {slot: 5, gpa: 0x500000, userspace_addr: 0, size: 16K, flags: [guest_memfd], guest_memfd: plain+0x8000}
steps:
  - read: 0x100000
  - write: 0x100000
    value: 0x11223344
  - read: 0x100000
  - read: 0x200000
  - write: 0x200000
    value: 0x55
  - host_write: {host: ram+0x10000, data: "77"}
  - read: 0x200000
  - host_write: {host: g+0x8000, data: "99"}
  - read: 0x300000
  - write: 0x300004
    value: 0x66
  - read: 0x400000
  - write: 0x400000
    value: 0x42
  - read: 0x400000
  - fetch: 0x400000
  - read: 0x500000
  - fetch: 0x500000
"""


def test_gmem_accesses_native():
    recs = run(ACCESS, "native", GMEM.split("guest_memfd:")[0])[8:]
    vals = [(r.op, r.outcome, r.value) for r in recs]
    assert vals[0] == ("read", "ok", 0)  # F2: the file's fresh page, not the mapping's 0xaa
    assert vals[2] == ("read", "ok", 0x11223344)
    assert vals[3] == ("read", "ok", 0xAAAAAAAA)  # F1: no mmap flag, so userspace_addr
    assert vals[6] == ("read", "ok", 0x77)  # the guest wrote 55 00 00 00, the VMM then 77 at byte 0
    assert vals[8] == ("read", "ok", 0x99)  # F3 with INIT_SHARED: the VMM's mmap and the guest share the page
    assert vals[10:14] == [("read", "ok", 0), ("write", "ok", 0x42), ("read", "ok", 0x42), ("fetch", "ok", 0x42)]  # F2/F5
    assert vals[14][1] == "efault" and vals[15][1] == "efault"  # F5: no mmap flag and userspace_addr 0
    assert any(c.fn == "kvm_gmem_get_pfn" for c in recs[0].chain)


def test_gmem_accesses_emulated():
    recs = run(ACCESS, "emulated", GMEM.split("guest_memfd:")[0])[8:]
    vals = [(r.op, r.outcome, r.value) for r in recs]
    assert vals[0] == ("read", "ok", 0xAAAAAAAA)  # F4: through userspace_addr
    assert vals[2] == ("read", "ok", 0x11223344)
    assert vals[8] == ("read", "ok", 0x99)  # userspace_addr is the file's own mmap: both paths agree
    assert [v[1] for v in vals[10:16]] == ["mmio", "mmio", "mmio", "internal_error", "mmio", "internal_error"]  # F5


def test_native_and_emulated_disagree_unless_userspace_addr_is_the_files_mmap():
    nat = run(ACCESS, "native", GMEM.split("guest_memfd:")[0])
    emu = run(ACCESS, "emulated", GMEM.split("guest_memfd:")[0])
    assert nat[8].value != emu[8].value and nat[16].value == emu[16].value


def test_gmem_data_lives_in_the_file_across_delete_and_recreate():
    recs = run("""\
guest_memfd:
  g: {size: 64K, flags: [mmap]}
slots:
  - {slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g}
  - {slot: 2, gpa: 0x200000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g+0x4000}
steps:
  - write: 0x100000
    value: 1
  - write: 0x200000
    value: 2
  - delete_slot: 1
  - read: 0x100000
  - set_memory_region: {slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g}
  - read: 0x100000
  - read: 0x200000
  - host_write: {host: g, data: "01"}
""")
    assert [(r.outcome, r.value) for r in recs[6:10]] == [("mmio", 0xFFFFFFFF), ("ok", None), ("ok", 1), ("ok", 2)]
    assert recs[10].outcome == "EFAULT"  # F3: without INIT_SHARED the VMM cannot touch the pages


# -- manual protect and KVM_CLEAR_DIRTY_LOG (F14-F18) ----------------------------------------------------------------
LOGGED = "slots:\n  - {slot: 0, gpa: 0, host: ram, size: 400K, flags: [log_dirty_pages]}\nsteps:\n"


@pytest.mark.parametrize("path", ["native", "emulated"])
def test_manual_protect_get_does_not_clear_and_clear_reprotects(path):
    recs = run(LOGGED + """\
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 1}
  - write: 0x1000
    value: 1
  - get_dirty_log: 0
  - write: 0x3000
    value: 1
  - get_dirty_log: 0
  - clear_dirty_log: {slot: 0, first_page: 0, num_pages: 64}
  - get_dirty_log: 0
  - write: 0x1000
    value: 2
  - get_dirty_log: 0
  - enable_cap: {cap: MANUAL_DIRTY_LOG_PROTECT2, args: 0}
  - write: 0x5000
    value: 1
  - get_dirty_log: 0
  - get_dirty_log: 0
""", path)
    dirty = [r.dirty for r in recs if r.op == "get_dirty_log"]
    assert dirty == [(1,), (1, 3), (), (1,), (1, 5), ()]
    assert recs[1].value == 0 and outcomes(recs) == ["ok"] * len(recs)


@pytest.mark.parametrize(("first", "num", "outcome"), [
    (1, 64, "EINVAL"), (100, 0, "EINVAL"), (128, 0, "EINVAL"), (64, 36, "ok"), (64, 37, "EINVAL"), (0, 10, "EINVAL"),
    (0, 0, "ok"), (64, 0, "ok"), (0, 100, "ok"),
])
def test_clear_dirty_log_argument_rules(first, num, outcome):
    recs = run(f"slots:\n  - {{slot: 0, gpa: 0, host: ram, size: 400K, flags: [log_dirty_pages]}}\nsteps:\n"
               f"  - clear_dirty_log: {{slot: 0, first_page: {first}, num_pages: {num}}}\n")
    assert recs[-1].outcome == outcome


def test_clear_on_unlogged_or_missing_slot_is_enoent_and_classic_clear_works():
    recs = run(LOGGED + """\
  - set_memory_region: {slot: 1, gpa: 0x100000, host: ram, size: 4K}
  - clear_dirty_log: {slot: 1, first_page: 0, num_pages: 1}
  - clear_dirty_log: {slot: 7, first_page: 0, num_pages: 0}
  - write: 0x2000
    value: 1
  - clear_dirty_log: {slot: 0, first_page: 0, num_pages: 64}
  - write: 0x4000
    value: 1
  - get_dirty_log: 0
""")
    assert outcomes(recs)[2:4] == ["ENOENT", "ENOENT"]
    assert recs[-1].dirty == (4,)  # F16


def test_initially_set():
    recs = run("""\
slots:
  - {slot: 1, gpa: 0x100000, host: ram, size: 16K}
steps:
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 2}
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 4}
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 7}
  - write: 0x101000
    value: 1
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 3}
  - set_memory_region: {slot: 1, flags: [log_dirty_pages]}
  - get_dirty_log: 1
  - clear_dirty_log: {slot: 1, first_page: 0, num_pages: 4}
  - get_dirty_log: 1
  - write: 0x101000
    value: 2
  - get_dirty_log: 1
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 1}
  - set_memory_region: {slot: 2, gpa: 0x200000, host: ram, size: 8K, flags: [log_dirty_pages]}
  - get_dirty_log: 2
  - get_dirty_log: 1
""")
    assert outcomes(recs)[1:4] == ["EINVAL", "EINVAL", "EINVAL"]
    assert [r.dirty for r in recs if r.op == "get_dirty_log"] == [(0, 1, 2, 3), (), (1,), (), (1,)]


# -- the dirty ring (F7-F13) ----------------------------------------------------------------------------------------------
RING = LOGGED.replace("400K", "1M").replace("steps:\n", "steps:\n  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 4096}\n")


def test_native_pushes_once_per_harvest_and_reset():
    recs = run(RING + """\
  - write: 0x1000
    value: 1
  - write: 0x1000
    value: 2
  - read: 0x2000
  - write: 0x2ffe
    size: 4
    value: 3
  - harvest_dirty_ring: {vcpu: 0}
  - write: 0x1000
    value: 3
  - harvest_dirty_ring: {}
  - reset_dirty_rings: {}
  - write: 0x1000
    value: 4
  - reset_dirty_rings: {}
  - harvest_dirty_ring: {vcpu: 0}
  - reset_dirty_rings: {}
""")
    rings = [r.ring for r in recs if r.op == "harvest_dirty_ring"]
    assert rings == [((0, 1), (0, 2), (0, 3)), (), ((0, 1),)]
    assert [r.value for r in recs if r.op == "reset_dirty_rings"] == [3, 0, 1]
    assert any(c.fn == "kvm_dirty_ring_push" for c in recs[2].chain)


def test_emulated_pushes_every_write():
    recs = run(RING + """\
  - write: 0x1000
    value: 1
  - write: 0x1000
    value: 2
  - harvest_dirty_ring: {}
  - write: 0x1000
    value: 3
  - harvest_dirty_ring: {}
""", "emulated")
    assert [r.ring for r in recs if r.op == "harvest_dirty_ring"] == [((0, 1), (0, 1)), ((0, 1),)]


def test_ring_goes_to_the_writing_vcpu():
    recs = run(RING + "  - write: 0x1000\n    value: 1\n    vcpu: 1\n  - harvest_dirty_ring: {vcpu: 0}\n  - harvest_dirty_ring: {vcpu: 1}\n")
    assert [r.ring for r in recs[-2:]] == [(), ((0, 1),)]


@pytest.mark.parametrize("path", ["native", "emulated"])
def test_full_ring(path):
    writes = "".join(f"  - write: {p << 12:#x}\n    value: 1\n" for p in range(193))
    recs = run(RING + writes + "  - read: 0\n  - harvest_dirty_ring: {}\n  - reset_dirty_rings: {}\n  - write: 0x0\n    value: 5\n"
               "  - harvest_dirty_ring: {}\n", path)
    acc = [r for r in recs if r.op in ("write", "read")]
    # native: the write whose fault pushes the 192nd entry stops at the next entry; emulated: that write and the
    # OUT after it complete in the same KVM_RUN, and the next KVM_RUN stops (both measured live)
    first_full = 191 if path == "native" else 192
    assert [r.outcome for r in acc[:first_full]] == ["ok"] * first_full
    assert [r.outcome for r in acc[first_full:194]] == ["dirty_ring_full"] * (194 - first_full)
    assert recs[-4].ring == tuple((0, p) for p in range(192)) and recs[-3].value == 192
    assert recs[-2].outcome == "ok" and recs[-1].ring == ((0, 0),)


def test_ring_enable_rules_and_enxio():
    recs = run(LOGGED + """\
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 0}
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 1000}
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 2048}
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 2M}
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, args: 1}
  - reset_dirty_rings: {}
  - harvest_dirty_ring: {}
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 64K}
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING_ACQ_REL, args: 64K}
  - get_dirty_log: 0
  - get_dirty_log: 9
  - clear_dirty_log: {slot: 0, first_page: 3, num_pages: 1}
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 1}
""")
    assert outcomes(recs)[1:] == ["EINVAL", "EINVAL", "EINVAL", "E2BIG", "EINVAL", "EINVAL", "EINVAL", "ok", "EINVAL",
                                  "ENXIO", "ENXIO", "ENXIO", "ok"]


def test_ring_after_a_vcpu_ran_is_refused():
    recs = run(LOGGED + "  - read: 0\n  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 4096}\n")
    assert recs[-1].outcome == "EINVAL"


# -- the loader -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "vm_type: sev\nsteps:\n  - read: 0\n",
    "guest_memfd:\n  g: {size: 4K}\nsteps:\n  - read: 0\n",
    "steps:\n  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 4096}\n",
    "steps:\n  - reset_dirty_rings: {}\n",
    "steps:\n  - set_memory_region: {slot: 0, gpa: 0, host: ram, ioctl: 2}\n",
])
def test_new_keys_are_refused_in_the_3x_eras(text):
    with pytest.raises(ScenarioError) as e:
        parse_scenario(HEAD + "kernel: '3.7'\n" + text, "old.yaml")
    assert "today's memory API" in e.value.message and e.value.line is not None and e.value.col is not None
