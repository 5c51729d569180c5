"""A VM: apply one step, return its StepRecord. The ioctls live here, as kvm_vm_ioctl() dispatches them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .addresses import PAGE_MASK, split_slot
from .calls import KernelCall, errno_call, error_call, make_call
from .emulator import MmioRead
from .guest_memfd import commit_binding, make_binder
from .host import Mapping
from .kvm import Kvm
from .memslots import MemSlot, MemslotUpdate, kvm_set_memory_region
from .profiles import Profile
from .records import SlotChange, SpteChange, SpteState, StepRecord, region_args, slot_summary
from .settings import DEFAULT_SETTINGS, HostSettings
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
    EFAULT,
    ENXIO,
    KVM_CAP_NAMES,
    KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
    KVM_MEM_GUEST_MEMFD,
    KVM_MEM_LOG_DIRTY_PAGES,
    errno_name,
)
from .values import builder
from .vcpu import kvm_access
from .vocabulary import AccessKind, AccessPath, Op, Outcome

_SWAP_NOTE = "mmio sptes of older generations are now stale"
# StepRecord(...), SlotChange(...) as plain functions (values.builder): one of each per slot created
_record, _slot_change = builder(StepRecord), builder(SlotChange)
# read once: an Enum class attribute costs ~120 ns a lookup (Python 3.11), and every slot created made two
_SET_MEMORY_REGION, _OK = Op.SET_MEMORY_REGION, Outcome.OK


def _fill_answer(fill: int) -> MmioRead:
    return lambda _gpa, n: bytes([fill]) * n


class Machine:
    """One VM under one kernel profile. Deterministic: the same steps always give the same records."""

    def __init__(
        self,
        profile: Profile,
        mappings: Iterable[Mapping] = (),
        path: AccessPath = "native",
        mmio_read: MmioRead | None = None,
        settings: HostSettings = DEFAULT_SETTINGS,
    ) -> None:
        self.kvm = Kvm(profile, settings=settings)
        for m in mappings:
            self.kvm.host.mmap(m)
        self.path: AccessPath = path
        self.mmio_read: MmioRead = mmio_read or _fill_answer(0xFF)

    @property
    def profile(self) -> Profile:
        return self.kvm.profile

    # -- snapshots ------------------------------------------------------------------------------------
    def snapshot(self) -> Kvm:
        return self.kvm.copy()

    def restore(self, snap: Kvm) -> None:
        self.kvm = snap.copy()  # the snapshot stays untouched for the next restore

    # -- dispatch -------------------------------------------------------------------------------------
    def apply(self, step: Step) -> StepRecord:
        kvm = self.kvm
        if kvm.vm.vm_type_refused is not None:
            from .memapi import unsupported  # (memapi.py: imported when first needed, _memapi_handler says why)

            return unsupported(kvm, step)
        if isinstance(step, Access):
            return self.access(step.kind, step.gpa, step.size, step.value, step.vcpu)
        for cls, handler in _HANDLERS:
            if isinstance(step, cls):
                return handler(self, step)
        raise TypeError(f"not a step: {step!r}")

    def access(self, kind: AccessKind, gpa: int, size: int, value: int | None = None, vcpu: int = 0) -> StepRecord:
        """apply(Access(kind, gpa, size, value, vcpu)), without building the step: the runner's hot path."""
        kvm = self.kvm
        vm = kvm.vm
        if vm.vm_type_refused is not None:
            from .memapi import unsupported

            return unsupported(kvm, Access(kind, gpa, size, value, vcpu))
        if vm.dirty_ring_size:
            from .memapi import ring_full

            full = ring_full(kvm, Access(kind, gpa, size, value, vcpu))
            if full is not None:
                return full
        vm.created_vcpus.add(vcpu)
        return kvm_access(kvm, vcpu, kind, gpa, size, value, self.path, self.mmio_read)

    # -- KVM_SET_USER_MEMORY_REGION ----------------------------------------------------------------------
    def set_user_memory_region(self, step: SetMemoryRegion) -> StepRecord:
        kvm = self.kvm
        p = kvm.profile
        mem = step.region
        if mem.ioctl == 2 and not p.guest_memfd:
            from .memapi import no_such_ioctl

            return no_such_ioctl(kvm, step, "KVM_SET_USER_MEMORY_REGION2")
        as_id = split_slot(mem.slot)[0] if p.slot_as_id else 0
        binder = make_binder(kvm) if mem.flags & KVM_MEM_GUEST_MEMFD and p.guest_memfd else None  # only REGION2 gmem slots bind
        u = kvm_set_memory_region(p, kvm.memslots_of(as_id), mem, binder)
        args = region_args(step)
        if u.errno:
            ioctl = "KVM_SET_USER_MEMORY_REGION2" if mem.ioctl == 2 else "KVM_SET_USER_MEMORY_REGION"
            return StepRecord(
                op=Op.SET_MEMORY_REGION, args=args, outcome=errno_name(u.errno), chain=u.chain, kind=None,
                message=f"{ioctl} slot {mem.slot}: -{errno_name(u.errno)} ({u.chain[-1].note})",
            )
        chain = list(u.chain)
        spte: list[SpteChange] = []
        self._commit(u, chain, spte)
        kind, old, new = u.kind, u.old, u.new
        changes = () if kind == "noop" and old == new else (_slot_change(old, new),)
        return _record(
            _SET_MEMORY_REGION, args, _OK, tuple(chain), kind=kind,
            slot_changes=changes, spte=tuple(spte) if spte else (), message="" if kind == "create" else _slot_summary(u),
        )

    def _commit(self, u: MemslotUpdate, chain: list[KernelCall], spte: list[SpteChange]) -> None:
        """__kvm_set_memory_region()'s second half and kvm_arch_commit_memory_region(), by the era's rules."""
        kvm = self.kvm
        p = kvm.profile
        kind, old, new = u.kind, u.old, u.new
        changed = new or old
        as_id = changed.as_id if changed is not None else 0
        if not p.mr_change_kinds:  # 3.x: one update path for every request
            if kind == "delete":
                self._zap_all("a slot is deleted", chain, spte)
            if old is None and new is None:  # the empty slot went through the update all the same
                kvm.install_memslots(as_id, kvm.memslots_by_as[as_id].bump_generation())
                return
            kvm.commit_memslots(as_id, u)
            if new is None:
                return
            if p.write_protect_on_every_commit:
                self._write_protect(new, "3.x write-protects the slot on every commit", chain, spte)
            old_base = old.base_gfn if old is not None else 0
            if p.flush_all_on_create_or_move and old_base != new.base_gfn:
                self._zap_all("base_gfn changed: clear all mmio sptes" if old is None else "the slot moved", chain, spte)
            return

        if kind == "noop":
            return
        if old is None and new is None:  # a delete of an empty slot an era accepts
            kvm.install_memslots(as_id, kvm.memslots_by_as[as_id].bump_generation())
            return
        if kind in ("delete", "move"):
            chain.append(KernelCall("kvm_invalidate_memslot", f"slot={old.id if old else '?'}", "", note="KVM_MEMSLOT_INVALID during the update: faults retry"))
            self._zap_all("KVM_X86_QUIRK_SLOT_ZAP_ALL (the default)", chain, spte)
        table = kvm.commit_memslots(as_id, u)
        if (old is not None and old.gmem is not None) or (new is not None and new.gmem is not None):  # no file to (un)bind otherwise
            commit_binding(kvm, old, new)
        if new is not None and p.write_protect_on_every_commit:
            self._write_protect(new, "the era write-protects the slot on every commit", chain, spte)
        elif new is not None and new.flags & KVM_MEM_LOG_DIRTY_PAGES and (old is None or not old.log_dirty):
            from .memapi import initially_set

            if initially_set(kvm, table.dirty_bitmaps, new.id, new.npages):
                chain.append(KernelCall("kvm_alloc_dirty_bitmap", f"slot={new.id}", "",
                                        note="KVM_DIRTY_LOG_INITIALLY_SET: every bit set, nothing write-protected (§i F18)"))
            else:
                self._write_protect(new, "dirty logging enabled", chain, spte)
        if new is not None and p.flush_all_on_create_or_move and (old is None or old.base_gfn != new.base_gfn):
            self._zap_all("base_gfn changed: clear all mmio sptes", chain, spte)
        chain.append(make_call("kvm_swap_active_memslots", "", f"generation {table.generation}", _SWAP_NOTE))

    def _zap_all(self, why: str, chain: list[KernelCall], spte: list[SpteChange]) -> None:
        sptes = self.kvm.sptes
        gone = [(g, s.state) for g, s in sptes.items()]
        sptes.zap_all()
        spte.extend(SpteChange(g, st, SpteState.NONE) for g, st in gone)
        chain.append(KernelCall(self.kvm.profile.name_of("flush_all"), "", "", note=f"{len(gone)} sptes zapped: {why}"))

    def _write_protect(self, slot: MemSlot, why: str, chain: list[KernelCall], spte: list[SpteChange]) -> None:
        # kvm_mmu_slot_remove_write_access(): every rw spte of the slot becomes wp
        sptes = self.kvm.sptes
        gfns = [g for g in sptes.gfns_in(slot.base_gfn, slot.npages) if sptes.state(g) is SpteState.RW]
        sptes.write_protect(gfns)
        spte.extend(SpteChange(g, SpteState.RW, SpteState.WP) for g in gfns)
        chain.append(KernelCall("kvm_mmu_slot_remove_write_access", f"slot={slot.id}", "", note=f"{len(gfns)} sptes write-protected: {why}"))

    # -- KVM_GET_DIRTY_LOG ---------------------------------------------------------------------------------
    def get_dirty_log(self, slot_id: int) -> StepRecord:
        kvm = self.kvm
        p = kvm.profile
        args = {"slot": slot_id}
        chain = [KernelCall("kvm_vm_ioctl_get_dirty_log", f"slot={slot_id}", "")]
        if kvm.vm.dirty_ring_size:
            chain.append(errno_call("kvm_get_dirty_log_protect", "", "ENXIO", bad=True, note="the dirty ring is on: no bitmaps (§i F13)"))
            return StepRecord(Op.GET_DIRTY_LOG, args, errno_name(ENXIO), tuple(chain), message=f"KVM_GET_DIRTY_LOG slot {slot_id}: -ENXIO (the dirty ring is on)")
        as_id, sid = split_slot(slot_id) if p.slot_as_id else (0, slot_id)
        if as_id >= p.address_spaces or sid >= p.user_mem_slots:
            chain.append(errno_call("kvm_get_dirty_log", "", "EINVAL", bad=True, note=f"slot id out of range (< {p.user_mem_slots})"))
            return StepRecord(Op.GET_DIRTY_LOG, args, "EINVAL", tuple(chain), message=f"KVM_GET_DIRTY_LOG slot {slot_id}: -EINVAL")
        table = kvm.memslots_of(as_id)
        slot = table.id_to_memslot(sid)
        bitmap = table.dirty_bitmaps.get(sid) if slot else None
        if slot is None or bitmap is None:
            why = "no such slot" if slot is None else "slot does not log dirty pages"
            chain.append(errno_call("kvm_get_dirty_log", "", "ENOENT", bad=True, note=why))
            return StepRecord(Op.GET_DIRTY_LOG, args, "ENOENT", tuple(chain), message=f"KVM_GET_DIRTY_LOG slot {slot_id}: -ENOENT ({why})")
        dirty = bitmap.pages()
        if kvm.vm.manual_protect & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE:
            chain.append(KernelCall("kvm_get_dirty_log_protect", f"slot={sid}", f"{len(dirty)} dirty pages",
                                    note="manual protect: bits copied, nothing cleared or write-protected (KVM_CLEAR_DIRTY_LOG does that)"))
            return StepRecord(Op.GET_DIRTY_LOG, args, Outcome.OK, tuple(chain), dirty=dirty,
                              message=f"KVM_GET_DIRTY_LOG slot {slot_id}: {len(dirty)} dirty (manual protect: still set)" + (f" {list(dirty[:8])}" if dirty else ""))
        bitmap.clear()
        from .memapi import rw_sptes_in

        rw = rw_sptes_in(kvm.sptes, slot.base_gfn, dirty)
        kvm.sptes.write_protect(rw)
        chain.append(KernelCall("kvm_get_dirty_log_protect", f"slot={sid}", f"{len(dirty)} dirty pages", note="bitmap snapshot, then cleared"))
        chain.append(KernelCall("kvm_arch_mmu_enable_log_dirty_pt_masked", "", "", note=f"{len(rw)} sptes write-protected again"))
        return StepRecord(
            Op.GET_DIRTY_LOG, args, Outcome.OK, tuple(chain), dirty=dirty,
            spte=tuple(SpteChange(g, SpteState.RW, SpteState.WP) for g in rw),
            message=f"KVM_GET_DIRTY_LOG slot {slot_id}: {len(dirty)} dirty page{'s' if len(dirty) != 1 else ''}" + (f" {list(dirty[:8])}" if dirty else ""),
        )

    # -- KVM_CHECK_EXTENSION -------------------------------------------------------------------------------
    def check_extension(self, cap: int) -> StepRecord:
        value = self.kvm.profile.check_extension(cap)
        name = KVM_CAP_NAMES.get(cap, str(cap))
        chain = (KernelCall("kvm_vm_ioctl_check_extension", name, str(value)),)
        return StepRecord(Op.CHECK_EXTENSION, {"cap": name}, Outcome.OK, chain, cap_value=value, value=value,
                          message=f"KVM_CHECK_EXTENSION {name} = {value}")

    # -- the VMM's own memory ----------------------------------------------------------------------------------
    def host_op(self, step: HostOp) -> StepRecord:
        kvm = self.kvm
        host = kvm.host
        args: dict[str, int | str] = {"hva": step.hva, "size": step.size}
        if step.prot is not None:
            args["prot"] = step.prot
        if step.data:
            args["data"] = step.data.hex()
        start, size = step.hva, step.size
        if start & PAGE_MASK and step.op != "host_write":
            return StepRecord(Op(step.op), args, "EINVAL", (errno_call(step.op, f"addr={start:#x}", "EINVAL", bad=True, note="address not page aligned"),),
                              message=f"{step.op} at {start:#x}: -EINVAL (not page aligned)")
        if step.op != "host_write" and start + ((size + PAGE_MASK) & ~PAGE_MASK) > 1 << 64:
            # mprotect/madvise/munmap: `end < start` after PAGE_ALIGN(len) is -EINVAL; nothing is changed
            return StepRecord(Op(step.op), args, "EINVAL", (errno_call(step.op, f"addr={start:#x}, len={size:#x}", "EINVAL", bad=True, note="the range wraps past the end of the address space"),),
                              message=f"{step.op} at {start:#x}: -EINVAL (range wraps past 2^64)")
        if step.op in ("mprotect", "madvise_dontneed") and _has_hole(host, start, start + size):
            return StepRecord(Op(step.op), args, "ENOMEM", (errno_call(step.op, f"addr={start:#x}, len={size:#x}", "ENOMEM", bad=True, note="part of the range is not mapped"),),
                              message=f"{step.op} at {start:#x}: -ENOMEM (range not fully mapped)")
        chain: list[KernelCall] = []
        spte: list[SpteChange] = []
        rng: tuple[int, int] | None = None  # the hva range the mmu notifier invalidates
        if step.op == "host_write":
            err = self._host_write(step.hva, step.data, chain, spte)
            if err:
                return StepRecord(Op(step.op), args, errno_name(err), tuple(chain), message=f"host write at {start:#x}: the VMM would take SIGSEGV")
        else:
            note = ""
            if step.op == "mprotect":
                assert step.prot is not None
                rng = host.mprotect(start, size, step.prot, kvm.profile.mprotect_try_change_writable)
            elif step.op == "evict":
                rng = host.evict(start, size, kvm.settings.swap)
                note = "" if kvm.settings.swap else "no swap: anonymous pages stay resident; file pages are written back and dropped"
            else:
                ops: dict[str, Callable[[int, int], tuple[int, int]]] = {
                    "munmap": host.munmap, "madvise_dontneed": host.madvise_dontneed, "poison": host.poison}
                rng = ops[step.op](start, size)
            kernel_fn = {"mprotect": "mprotect", "munmap": "munmap", "madvise_dontneed": "madvise(MADV_DONTNEED)",
                         "evict": "reclaim (swap/page cache)", "poison": "memory_failure"}[step.op]
            chain.append(KernelCall(kernel_fn, f"addr={start:#x}, len={size:#x}" + (f", prot={step.prot}" if step.prot else ""), "0", note=note))
        if rng is not None:
            zapped = kvm.mmu_notifier_invalidate(*rng)
            spte.extend(zapped)
            chain.append(KernelCall("kvm_mmu_notifier_invalidate_range_start", f"{rng[0]:#x}-{rng[1]:#x}", "", note=f"{len(zapped)} sptes zapped"))
        return StepRecord(Op(step.op), args, Outcome.OK, tuple(chain), spte=tuple(spte), message=f"{step.op} {start:#x}+{size:#x}: done")

    def _host_write(self, hva: int, data: bytes, chain: list[KernelCall], spte: list[SpteChange]) -> int:
        host = self.kvm.host
        pos = 0
        while pos < len(data):
            at = hva + pos
            n = min(len(data) - pos, 4096 - (at & PAGE_MASK))
            before = host.page(at)
            r = host.get_user_pages(at, write=True, nowait=False)
            if r.pfn is None:
                chain.append(error_call("(VMM store)", f"addr={at:#x}", "SIGSEGV", bad=True, note=f"the VMM cannot write here: {r.error}"))
                return EFAULT
            if before is None or before.pfn != r.pfn:
                page = at & ~PAGE_MASK
                zapped = self.kvm.mmu_notifier_invalidate(page, page + 4096)
                spte.extend(zapped)
                if zapped:
                    chain.append(KernelCall("kvm_mmu_notifier_invalidate_range_start", f"{page:#x}", "", note="COW gave the page a new pfn: sptes zapped"))
            host.write(at, data[pos : pos + n])
            pos += n
        chain.append(KernelCall("(VMM store)", f"addr={hva:#x}, {len(data)} bytes", "0", note="userspace writes are never dirty-logged"))
        return 0

    # -- read-only views for drivers --------------------------------------------------------------------------
    def spte_state(self, gfn: int) -> SpteState:
        return self.kvm.sptes.state(gfn)


def _has_hole(host, start: int, end: int) -> bool:
    pos = start
    for v in host.vmas_in(start, end):
        if v.start > pos:
            return True
        pos = v.end
    return pos < end


def _slot_summary(u: MemslotUpdate) -> str:
    """The message of a record of any kind but a create: a create's is left empty (a layout makes tens of
    thousands and the trace table shows none), and StepRecord.summary makes it when it is read."""
    s = u.new or u.old
    if u.kind == "delete":
        return f"slot {u.old.number} deleted" if u.old else "delete of an empty slot: accepted (3.x)"
    assert s is not None and u.kind is not None
    return slot_summary(u.kind, s)



def _memapi_handler(name: str) -> Callable[[Machine, Any], StepRecord]:
    """The handler `name` of memapi.py (today's memory API: VM types, guest_memfd, KVM_ENABLE_CAP, the dirty
    ring, manual dirty-log protect). memapi.py is imported by the first step that needs it, here and at the
    few places above: a trace of the classic ioctls and accesses compiles none of it at a cold start."""

    def handle(m: Machine, step: Any) -> StepRecord:
        from . import memapi

        handler: Callable[[Kvm, Any], StepRecord] = getattr(memapi, name)
        return handler(m.kvm, step)

    return handle


# apply()'s dispatch for every step but an access, as kvm_vm_ioctl() switches on the ioctl.
_HANDLERS: tuple[tuple[type, Callable[[Machine, Any], StepRecord]], ...] = (
    (SetMemoryRegion, Machine.set_user_memory_region),
    (GetDirtyLog, lambda m, step: m.get_dirty_log(step.slot)),
    (CheckExtension, lambda m, step: m.check_extension(step.cap)),
    (HostOp, Machine.host_op),
    (CreateVm, _memapi_handler("create_vm")),
    (CreateGuestMemfd, _memapi_handler("create_guest_memfd")),
    (EnableCap, _memapi_handler("enable_cap")),
    (ClearDirtyLog, _memapi_handler("clear_dirty_log")),
    (HarvestDirtyRing, _memapi_handler("harvest_dirty_ring")),
    (ResetDirtyRings, _memapi_handler("reset_dirty_rings")),
)
