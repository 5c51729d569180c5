"""Today's memory API on the real kernel: every case of test_engine_memapi's kind, run on /dev/kvm and held
against the simulator record by record (op, outcome, read values, exits, dirty bitmaps, ring entries, counts).

Skipped, with the reason, where /dev/kvm cannot be used."""

import pytest
from test_engine_memapi import ACCESS, GMEM, HEAD, LOGGED, RING
from test_live import AVAILABLE, WHY, both

from kvmtui.engine.compare import compare_records
from kvmtui.scenario.loader import parse_scenario

pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"live KVM unavailable: {WHY}")

REGION2 = "slots:\n  - {slot: 0, gpa: 0, host: ram, size: 64K}\nsteps:\n" + "".join(f"  - set_memory_region: {s}\n" for s in (
    "{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g, ioctl: 1}",
    "{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: 0x8}",
    "{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: other_vm}",
    "{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g+0x800}",
    "{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g+0xe000}",
    "{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g+0x10000}",
    "{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd, readonly], guest_memfd: g}",
    "{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd, log_dirty_pages], guest_memfd: g}",
    "{slot: 1, gpa: 0x0, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g}",
    "{slot: 32764, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g}",
    "{slot: 0x10001, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: g}",
    "{slot: 1, gpa: 0x100000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: plain}",
    "{slot: 2, gpa: 0x200000, host: ram, size: 16K, flags: [guest_memfd], guest_memfd: plain+0x2000}",
    "{slot: 1}", "{slot: 1, gpa: 0x300000}", "{slot: 1, flags: 0}", "{slot: 1, flags: 0, ioctl: 1}",
    "{slot: 1, guest_memfd: plain+0x8000}",
    "{slot: 3, gpa: 0x300000, userspace_addr: 0, size: 16K, flags: [guest_memfd], guest_memfd: g}",
    "{slot: 4, gpa: 0x400000, host: ram, size: 4K, guest_memfd: g}",
    "{slot: 4, flags: [guest_memfd], guest_memfd: g+0xc000}",
    "{slot: 1, size: 0}",
)) + "  - get_dirty_log: 3\n"

CREATE = "steps:\n" + "".join(f"  - create_guest_memfd: {{name: g{i}, size: {size}, flags: {flags}}}\n" for i, (size, flags) in enumerate((
    ("0", "[]"), ("0x800", "[]"), ("0x1001", "[]"), ("4K", "[0x4]"), ("4K", "[0x80]"), ("4K", "[mmap]"), ("4K", "[init_shared]"),
    ("4K", "[mmap, init_shared]"), ("1T", "[]"), ("0x4000000000000000", "[]"))))

MANUAL = LOGGED + """\
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
  - clear_dirty_log: {slot: 0, first_page: 1, num_pages: 64}
  - clear_dirty_log: {slot: 0, first_page: 100, num_pages: 0}
  - clear_dirty_log: {slot: 0, first_page: 128, num_pages: 0}
  - clear_dirty_log: {slot: 0, first_page: 64, num_pages: 36}
  - clear_dirty_log: {slot: 0, first_page: 64, num_pages: 37}
  - clear_dirty_log: {slot: 0, first_page: 0, num_pages: 10}
  - clear_dirty_log: {slot: 9, first_page: 0, num_pages: 0}
  - enable_cap: {cap: MANUAL_DIRTY_LOG_PROTECT2, args: 0}
  - write: 0x5000
    value: 1
  - get_dirty_log: 0
  - get_dirty_log: 0
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 2}
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 3}
  - set_memory_region: {slot: 1, gpa: 0x100000, host: ram+0x80000, size: 16K}
  - write: 0x101000
    value: 1
  - set_memory_region: {slot: 1, flags: [log_dirty_pages]}
  - get_dirty_log: 1
  - clear_dirty_log: {slot: 1, first_page: 0, num_pages: 4}
  - get_dirty_log: 1
  - write: 0x101000
    value: 2
  - get_dirty_log: 1
"""

RING_FULL = RING + "".join(f"  - write: {p << 12:#x}\n    value: 1\n" for p in range(193)) + """\
  - read: 0
  - harvest_dirty_ring: {}
  - reset_dirty_rings: {}
  - write: 0x0
    value: 5
  - read: 0
  - harvest_dirty_ring: {}
"""

RING_RULES = LOGGED + """\
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 1000}
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 2048}
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 2M}
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, args: 1}
  - reset_dirty_rings: {}
  - harvest_dirty_ring: {}
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 64K}
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING_ACQ_REL, args: 64K}
  - get_dirty_log: 0
  - clear_dirty_log: {slot: 0, first_page: 3, num_pages: 1}
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 1}
  - write: 0x1000
    value: 1
    vcpu: 1
  - write: 0x1000
    value: 1
  - harvest_dirty_ring: {vcpu: 1}
  - harvest_dirty_ring: {vcpu: 0}
  - reset_dirty_rings: {}
"""

VCPU_FIRST = LOGGED + "  - read: 0\n  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 4096}\n"
VM_TYPE = "vm_type: sev\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0\n  - check_extension: NR_MEMSLOTS\n"
CAPS = "steps:\n" + "".join(f"  - check_extension: {c}\n" for c in (
    "GUEST_MEMFD_FLAGS", "USER_MEMORY2", "GUEST_MEMFD", "VM_TYPES", "MEMORY_ATTRIBUTES", "MANUAL_DIRTY_LOG_PROTECT2", "DIRTY_LOG_RING",
    "DIRTY_LOG_RING_ACQ_REL", "DIRTY_LOG_RING_WITH_BITMAP", "PRE_FAULT_MEMORY", "COALESCED_MMIO", "JOIN_MEMORY_REGIONS_WORKS",
    "IOEVENTFD", "ASYNC_PF", "X86_DISABLE_EXITS", "MEMORY_FAULT_INFO", "NR_MEMSLOTS", "MULTI_ADDRESS_SPACE"))

# A private guest_memfd (mmap without INIT_SHARED) on both paths, the VMM's SIGBUS as EFAULT, INITIALLY_SET
# beside the ring (enabling logging write-protects nothing, so a page already writable pushes nothing), vCPUs
# made by a harvest
EDGES = "host:\n" + """  ram: {size: 1M, fill: 0xaa}
guest_memfd:
  priv: {size: 64K, flags: [mmap]}
slots:
  - {slot: 1, gpa: 0x100000, host: priv, size: 16K, flags: [guest_memfd], guest_memfd: priv}
  - {slot: 2, gpa: 0x200000, host: ram, size: 64K}
  - {slot: 3, gpa: 0x300000, host: ram+0x10000, size: 64K, flags: [readonly, log_dirty_pages]}
steps:
  - enable_cap: {cap: KVM_CAP_DIRTY_LOG_RING, args: 65536}
  - read: 0x100000
  - write: 0x100000
    value: 7
  - read: 0x100000
  - fetch: 0x100000
  - host_write: {host: priv, data: "01"}
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 3}
  - write: 0x200000
    value: 1
  - set_memory_region: {slot: 2, flags: [log_dirty_pages]}
  - write: 0x200000
    value: 2
  - write: 0x201000
    value: 2
  - write: 0x300000
    value: 2
  - harvest_dirty_ring: {}
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 0}
  - set_memory_region: {slot: 2, flags: []}
  - set_memory_region: {slot: 2, flags: [log_dirty_pages]}
  - write: 0x200000
    value: 3
  - write: 0x202000
    value: 3
  - set_memory_region: {slot: 2, flags: []}
  - write: 0x203000
    value: 3
  - harvest_dirty_ring: {}
  - reset_dirty_rings: {}
  - harvest_dirty_ring: {vcpu: 3}
  - check_extension: KVM_CAP_DIRTY_LOG_RING
"""

CASES = {
    "gmem_access": (GMEM.split("guest_memfd:")[0], ACCESS), "region2": (GMEM, REGION2), "create_guest_memfd": (HEAD, CREATE),
    "manual_protect": (HEAD, MANUAL), "ring_full": (HEAD, RING_FULL), "ring_rules": (HEAD, RING_RULES),
    "ring_after_vcpu": (HEAD, VCPU_FIRST), "edges": ("kvmtui: 1\n", EDGES), "vm_type": (HEAD, VM_TYPE), "caps": (HEAD, CAPS),
}


@pytest.mark.parametrize("path", ["native", "emulated"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_simulator_equals_kernel(case, path):
    head, body = CASES[case]
    sc = parse_scenario(f"path: {path}\n" + head + body, f"<{case}>")
    sim, real = both(sc)
    diffs = [d for d in compare_records([e.record for e in sim], [e.record for e in real]) if not d.same]
    assert not diffs, [(d.index + 1, d.left.op, d.fields, d.left.outcome, d.right.outcome, d.left.value, d.right.value,
                        d.left.ring, d.right.ring, d.left.dirty, d.right.dirty) for d in diffs]
