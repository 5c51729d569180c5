"""The VM ioctls of today's memory API (kvm-semantics.md §i): KVM_CREATE_VM with a type, KVM_CREATE_GUEST_MEMFD,
KVM_ENABLE_CAP (manual dirty-log protect, the dirty ring), KVM_CLEAR_DIRTY_LOG, the userspace harvest of a
vCPU's dirty ring and KVM_RESET_DIRTY_RINGS. Each returns a StepRecord, refusals included."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .addresses import split_slot
from .calls import KernelCall, errno_call, exit_call
from .guest_memfd import create_errno, gmem_host_prot
from .host import Mapping
from .kvm import Kvm
from .mmu_state import Sptes
from .records import SpteChange, SpteState, StepRecord, region_args
from .steps import (
    Access,
    CheckExtension,
    ClearDirtyLog,
    CreateGuestMemfd,
    CreateVm,
    EnableCap,
    GetDirtyLog,
    HarvestDirtyRing,
    HostOp,
    ResetDirtyRings,
    SetMemoryRegion,
    Step,
)
from .uapi import (
    EINVAL,
    ENOENT,
    ENXIO,
    GUEST_MEMFD_FLAG_MMAP,
    KVM_CAP_NAMES,
    KVM_CAPS,
    KVM_DIRTY_LOG_INITIALLY_SET,
    KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
    KVM_EXIT_DIRTY_RING_FULL,
    errno_name,
    gmem_flag_names,
)
from .vmstate import GmemFile
from .vocabulary import OP_OF_ACCESS, Op, Outcome

if TYPE_CHECKING:  # (annotations only: a trace with no dirty logging never imports dirty_bitmap.py)
    from .dirty_bitmap import DirtyBitmap, DirtyPages

CAP_MANUAL_PROTECT = KVM_CAPS["KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2"]
CAP_RING = KVM_CAPS["KVM_CAP_DIRTY_LOG_RING"]
CAP_RING_ACQ_REL = KVM_CAPS["KVM_CAP_DIRTY_LOG_RING_ACQ_REL"]
CAP_RING_WITH_BITMAP = KVM_CAPS["KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP"]
KVM_DIRTY_LOG_MANUAL_CAPS = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET


def cap_name(cap: int) -> str:
    return KVM_CAP_NAMES.get(cap, str(cap))


def step_args(step: Step) -> dict[str, Any]:
    """What a step asked, as records carry it (also for steps that could not run)."""
    if isinstance(step, Access):
        a: dict[str, Any] = {"vcpu": step.vcpu, "gpa": step.gpa, "size": step.size}
        if step.value is not None:
            a["value"] = step.value
        return a
    if isinstance(step, SetMemoryRegion):
        return region_args(step)
    if isinstance(step, GetDirtyLog):
        return {"slot": step.slot}
    if isinstance(step, CheckExtension):
        return {"cap": cap_name(step.cap)}
    if isinstance(step, HostOp):
        return {"hva": step.hva, "size": step.size}
    if isinstance(step, CreateVm):
        return {"vm_type": step.vm_type}
    if isinstance(step, CreateGuestMemfd):
        return {"name": step.name, "size": step.size, "flags": gmem_flag_names(step.flags)}
    if isinstance(step, EnableCap):
        return {"cap": cap_name(step.cap), "args": list(step.args)}
    if isinstance(step, ClearDirtyLog):
        return {"slot": step.slot, "first_page": step.first_page, "num_pages": step.num_pages}
    if isinstance(step, HarvestDirtyRing):
        return {"vcpu": step.vcpu}
    return {}


_OP_OF_TYPE: dict[type, Op] = {
    SetMemoryRegion: Op.SET_MEMORY_REGION, GetDirtyLog: Op.GET_DIRTY_LOG, CheckExtension: Op.CHECK_EXTENSION,
    CreateVm: Op.CREATE_VM, CreateGuestMemfd: Op.CREATE_GUEST_MEMFD, EnableCap: Op.ENABLE_CAP,
    ClearDirtyLog: Op.CLEAR_DIRTY_LOG, HarvestDirtyRing: Op.HARVEST_DIRTY_RING, ResetDirtyRings: Op.RESET_DIRTY_RINGS}


def op_of(step: Step) -> Op:
    if isinstance(step, Access):
        return OP_OF_ACCESS[step.kind]
    if isinstance(step, HostOp):
        return Op(step.op)
    return _OP_OF_TYPE[type(step)]


def no_such_ioctl(kvm: Kvm, step: Step, ioctl: str) -> StepRecord:
    """An ioctl the era's kernel did not have: kvm_vm_ioctl() falls through to -ENOTTY."""
    chain = (errno_call("kvm_vm_ioctl", ioctl, "ENOTTY", bad=True, note=f"{ioctl} does not exist in Linux {kvm.profile.name}"),)
    return StepRecord(op_of(step), step_args(step), "ENOTTY", chain, message=f"{ioctl}: -ENOTTY (not in Linux {kvm.profile.name})")


def unsupported(kvm: Kvm, step: Step) -> StepRecord:
    """Every step after a refused KVM_CREATE_VM: there is no VM to run it on."""
    why = f"KVM_CREATE_VM refused the {kvm.vm.vm_type_refused} type: there is no VM"
    return StepRecord(op_of(step), step_args(step), Outcome.UNSUPPORTED, (KernelCall("(no VM)", "", "", note=why),), message=f"not run: {why}")


# -- KVM_CREATE_VM ------------------------------------------------------------------------------------------
def create_vm(kvm: Kvm, step: CreateVm) -> StepRecord:
    args = step_args(step)
    if step.type_value == 0:
        return StepRecord(Op.CREATE_VM, args, Outcome.OK, (KernelCall("kvm_dev_ioctl_create_vm", "type=0", "vm fd"),), message="KVM_CREATE_VM: the default type")
    kvm.vm.vm_type_refused = step.vm_type
    chain = (KernelCall("kvm_dev_ioctl_create_vm", f"type={step.type_value}", ""),
             errno_call("kvm_arch_init_vm", f"type={step.type_value}", "EINVAL", bad=True,
                        note="kvm_is_vm_type_supported(): KVM_CAP_VM_TYPES = 1, the default VM only (§i F19)"))
    return StepRecord(Op.CREATE_VM, args, "EINVAL", chain, message=f"KVM_CREATE_VM type {step.vm_type} ({step.type_value}): -EINVAL")


# -- KVM_CREATE_GUEST_MEMFD -----------------------------------------------------------------------------------------
def create_guest_memfd(kvm: Kvm, step: CreateGuestMemfd) -> StepRecord:
    args = step_args(step)
    call = f"size={step.size:#x}, flags={step.flags:#x}"
    if not kvm.profile.guest_memfd:
        kvm.vm.gmem[step.name] = GmemFile(step.name, step.size, step.flags, False, None)
        return no_such_ioctl(kvm, step, "KVM_CREATE_GUEST_MEMFD")
    err, why = create_errno(step.size, step.flags)
    if err:
        kvm.vm.gmem[step.name] = GmemFile(step.name, step.size, step.flags, False, None)
        refused = (errno_call("kvm_gmem_create", call, errno_name(err), bad=True, note=why),)
        return StepRecord(Op.CREATE_GUEST_MEMFD, args, errno_name(err), refused,
                          message=f"KVM_CREATE_GUEST_MEMFD {step.name}: -{errno_name(err)} ({why}); the name now stands for fd -1")
    hva = None
    chain = [KernelCall("kvm_gmem_create", call, f"fd ({step.name})")]
    if step.flags & GUEST_MEMFD_FLAG_MMAP:
        hva = step.hva if step.hva is not None else kvm.host.next_free_hva()
        prot = gmem_host_prot(step.flags)
        kvm.host.mmap(Mapping(step.name, hva, step.size, prot, "anon"))  # type: ignore[arg-type]
        chain.append(KernelCall("kvm_gmem_mmap", f"{step.name}, len={step.size:#x}", f"{hva:#x}",
                                note="shared with the guest (INIT_SHARED)" if prot == "rw" else "private pages: a VMM touch is SIGBUS (§i F3)"))
    kvm.vm.gmem[step.name] = GmemFile(step.name, step.size, step.flags, True, hva)
    flags = ", ".join(gmem_flag_names(step.flags)) or "no flags"
    return StepRecord(Op.CREATE_GUEST_MEMFD, args, Outcome.OK, tuple(chain), message=f"KVM_CREATE_GUEST_MEMFD {step.name}: {step.size:#x} bytes ({flags})")


# -- KVM_ENABLE_CAP -------------------------------------------------------------------------------------------------
def enable_cap(kvm: Kvm, step: EnableCap) -> StepRecord:
    args = step_args(step)
    name = cap_name(step.cap)
    arg0 = step.args[0] if step.args else 0
    chain = [KernelCall("kvm_vm_ioctl_enable_cap_generic", f"cap={name}, args[0]={arg0:#x}", "")]
    err, why, done = 0, "", ""
    st = kvm.vm
    if not kvm.profile.guest_memfd:
        err, why = EINVAL, "not a capability this kernel can enable"
    elif step.cap == CAP_MANUAL_PROTECT:
        allowed = KVM_DIRTY_LOG_MANUAL_CAPS if arg0 & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE else KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE
        if arg0 & ~allowed:
            err, why = EINVAL, f"args[0] {arg0:#x}: only 0, 1 (ENABLE) and 3 (ENABLE | INITIALLY_SET)"
        else:
            st.manual_protect = arg0
            done = {0: "classic get-and-clear", 1: "GET no longer clears: KVM_CLEAR_DIRTY_LOG does",
                    3: "manual protect, and new bitmaps start all set (INITIALLY_SET)"}[arg0]
    elif step.cap in (CAP_RING, CAP_RING_ACQ_REL):
        from .dirty_ring import enable_dirty_log_ring_errno  # (with the ring: a VM without one compiles none of it)

        err, why = enable_dirty_log_ring_errno(arg0, st.dirty_ring_size, bool(st.created_vcpus))
        if not err:
            st.dirty_ring_size = arg0
            done = f"a {arg0 // 16}-entry ring per vCPU; GET/CLEAR_DIRTY_LOG now answer ENXIO"
        fn, call_args = "kvm_vm_ioctl_enable_dirty_log_ring", f"size={arg0:#x}"
        chain.append(errno_call(fn, call_args, errno_name(err), bad=True, note=why) if err else KernelCall(fn, call_args, "0", note=why))
        why = why if err else ""
    elif step.cap == CAP_RING_WITH_BITMAP:
        err, why = EINVAL, "KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP is 0 on this kernel"
    else:
        err, why = EINVAL, "kvm_vm_ioctl_enable_cap(): not a capability this kernel enables"
    if err:
        if not chain[-1].bad:
            chain.append(errno_call("kvm_vm_ioctl_enable_cap_generic", "", errno_name(err), bad=True, note=why))
        return StepRecord(Op.ENABLE_CAP, args, errno_name(err), tuple(chain), message=f"KVM_ENABLE_CAP {name} {arg0:#x}: -{errno_name(err)} ({why})")
    chain.append(KernelCall("kvm_vm_ioctl_enable_cap_generic", "", "0", note=done))
    return StepRecord(Op.ENABLE_CAP, args, Outcome.OK, tuple(chain), value=0, message=f"KVM_ENABLE_CAP {name} {arg0:#x}: {done}")


# -- KVM_CLEAR_DIRTY_LOG ---------------------------------------------------------------------------------------------
def clear_dirty_log(kvm: Kvm, step: ClearDirtyLog) -> StepRecord:
    if not kvm.profile.guest_memfd:
        return no_such_ioctl(kvm, step, "KVM_CLEAR_DIRTY_LOG")
    args = step_args(step)
    first, num = step.first_page, step.num_pages
    chain = [KernelCall("kvm_vm_ioctl_clear_dirty_log", f"slot={step.slot}, first_page={first}, num_pages={num}", "")]

    def fail(err: int, why: str) -> StepRecord:
        chain.append(errno_call("kvm_clear_dirty_log_protect", "", errno_name(err), bad=True, note=why))
        return StepRecord(Op.CLEAR_DIRTY_LOG, args, errno_name(err), tuple(chain), message=f"KVM_CLEAR_DIRTY_LOG slot {step.slot}: -{errno_name(err)} ({why})")

    if kvm.vm.dirty_ring_size:
        return fail(ENXIO, "the dirty ring is on: there are no bitmaps (kvm_use_dirty_bitmap() is false)")
    as_id, sid = split_slot(step.slot)
    if as_id >= 1 or sid >= kvm.profile.user_mem_slots:
        return fail(EINVAL, f"slot id out of range (< {kvm.profile.user_mem_slots}, address space 0)")
    if first & 63:
        return fail(EINVAL, "first_page is not a multiple of 64")
    slot = kvm.memslots.id_to_memslot(sid)
    bitmap = kvm.memslots.dirty_bitmaps.get(sid) if slot else None
    if slot is None or bitmap is None:
        return fail(ENOENT, "no such slot" if slot is None else "the slot does not log dirty pages")
    n = slot.npages
    if first > n or num > n - first or (num < n - first and num & 63):
        return fail(EINVAL, f"pages {first}..{first + num} on a {n}-page slot: num_pages must be a multiple of 64 unless the range ends at the slot's end")
    cleared = bitmap.clear_range(first, first + num)
    rw = rw_sptes_in(kvm.sptes, slot.base_gfn, cleared)
    kvm.sptes.write_protect(rw)
    chain.append(KernelCall("kvm_clear_dirty_log_protect", f"slot={sid}", f"{len(cleared)} bits cleared"))
    chain.append(KernelCall("kvm_arch_mmu_enable_log_dirty_pt_masked", "", "", note=f"{len(rw)} sptes write-protected: the next write is logged again"))
    shown = f" {list(cleared[:8])}" if cleared else ""
    return StepRecord(Op.CLEAR_DIRTY_LOG, args, Outcome.OK, tuple(chain), spte=tuple(SpteChange(g, SpteState.RW, SpteState.WP) for g in rw),
                      message=f"KVM_CLEAR_DIRTY_LOG slot {step.slot} pages {first}..{first + num - 1 if num else first}: {len(cleared)} bits cleared{shown}")


# -- the dirty ring ---------------------------------------------------------------------------------------------------
def harvest_dirty_ring(kvm: Kvm, step: HarvestDirtyRing) -> StepRecord:
    args = step_args(step)
    size = kvm.vm.dirty_ring_size
    if not size:
        no_ring = (errno_call("mmap", f"vcpu fd, offset=KVM_DIRTY_LOG_PAGE_OFFSET pages, len={size}", "EINVAL", bad=True,
                            note="no dirty ring: the ring is 0 bytes"),)
        return StepRecord(Op.HARVEST_DIRTY_RING, args, "EINVAL", no_ring, message=f"harvest vCPU {step.vcpu}: no dirty ring (-EINVAL)")
    kvm.vm.created_vcpus.add(step.vcpu)  # the ring lives in the vCPU fd
    ring = kvm.vm.ring(step.vcpu)
    got = ring.harvest()
    calls = (KernelCall("(VMM) read kvm_dirty_gfn entries", f"vcpu={step.vcpu}", f"{len(got)} entries",
                        note="entries with KVM_DIRTY_GFN_F_DIRTY since the last harvest, now marked F_RESET (collected)"),)
    shown = f" {[list(e) for e in got[:6]]}" + ("…" if len(got) > 6 else "") if got else ""
    return StepRecord(Op.HARVEST_DIRTY_RING, args, Outcome.OK, calls, ring=got, message=f"harvest vCPU {step.vcpu}: {len(got)} entries{shown}")


def reset_dirty_rings(kvm: Kvm, step: ResetDirtyRings) -> StepRecord:
    if not kvm.profile.guest_memfd:
        return no_such_ioctl(kvm, step, "KVM_RESET_DIRTY_RINGS")
    args = step_args(step)
    if not kvm.vm.dirty_ring_size:
        no_ring = (errno_call("kvm_vm_ioctl_reset_dirty_pages", "", "EINVAL", bad=True, note="no dirty ring"),)
        return StepRecord(Op.RESET_DIRTY_RINGS, args, "EINVAL", no_ring, message="KVM_RESET_DIRTY_RINGS: -EINVAL (no dirty ring)")
    chain = [KernelCall("kvm_vm_ioctl_reset_dirty_pages", "", "")]
    total = 0
    spte: list[SpteChange] = []
    for vcpu_id in sorted(kvm.vm.rings):
        done = kvm.vm.rings[vcpu_id].reset()
        rw = []
        for sid, off in done:
            slot = kvm.memslots.id_to_memslot(sid)
            if slot is None or off >= slot.npages:
                continue
            g = slot.base_gfn + off
            if kvm.sptes.state(g) is SpteState.RW:
                rw.append(g)
        rw = list(dict.fromkeys(rw))
        kvm.sptes.write_protect(rw)
        spte.extend(SpteChange(g, SpteState.RW, SpteState.WP) for g in rw)
        total += len(done)
        if done:
            chain.append(KernelCall("kvm_dirty_ring_reset", f"vcpu={vcpu_id}", str(len(done)),
                                    note=f"collected entries freed; {len(rw)} sptes write-protected again"))
    chain.append(KernelCall("kvm_vm_ioctl_reset_dirty_pages", "", str(total), note="stops at the first entry not yet harvested"))
    return StepRecord(Op.RESET_DIRTY_RINGS, args, Outcome.OK, tuple(chain), spte=tuple(spte), value=total,
                      message=f"KVM_RESET_DIRTY_RINGS: {total} entries reset")


def ring_full(kvm: Kvm, step: Access) -> StepRecord | None:
    """KVM_RUN on a vCPU whose ring is at the soft limit exits at once (kvm_dirty_ring_check_request)."""
    if not kvm.vm.dirty_ring_size:
        return None
    ring = kvm.vm.ring(step.vcpu)
    if not ring.soft_full:
        return None
    chain = (exit_call("kvm_dirty_ring_check_request", f"vcpu={step.vcpu}", KVM_EXIT_DIRTY_RING_FULL, bad=True,
                        note=f"{len(ring.entries)} of {ring.size} entries used (soft limit {ring.soft_limit}): harvest and reset first"),)
    return StepRecord(OP_OF_ACCESS[step.kind], step_args(step), Outcome.DIRTY_RING_FULL, chain, exit_reason=KVM_EXIT_DIRTY_RING_FULL)


def initially_set(kvm: Kvm, bitmaps: dict[int, DirtyBitmap], slot_id: int, npages: int) -> bool:
    """KVM_DIRTY_LOG_INITIALLY_SET: a bitmap made now starts with every bit set (F18). True when it did."""
    if not kvm.vm.manual_protect & KVM_DIRTY_LOG_INITIALLY_SET:
        return False
    bitmap = bitmaps.get(slot_id)
    if bitmap is not None:
        bitmap.set_range(0, npages)
    return True



def rw_sptes_in(sptes: Sptes, base_gfn: int, pages: DirtyPages) -> list[int]:
    """The gfns of these pages of a slot whose sptes are writable (the ones to write-protect again), found
    run by run through the sptes present, so a 1 TiB run costs what is mapped in it."""
    return [g for s, e in pages.runs for g in sptes.gfns_in(base_gfn + s, e - s) if sptes.state(g) is SpteState.RW]
