"""The app on today's memory API: the slot table's guest_memfd binding and ioctl, the chain's two paths for a
guest_memfd slot, the manual-protect state and the dirty-ring panel, and the probe's new steps (Pilot)."""

from pathlib import Path

import pytest

from kvmtui.tui.app import KvmApp
from kvmtui.tui.widgets.dirty_ring import DirtyRings
from kvmtui.tui.widgets.memslots import MemslotTable
from kvmtui.tui.widgets.resolution import Resolution

ROOT = Path(__file__).parent.parent
GMEM = str(ROOT / "samples" / "guest-memfd.yaml")
RING = str(ROOT / "samples" / "dirty-ring.yaml")
MANUAL = str(ROOT / "samples" / "manual-protect.yaml")


async def type_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press({" ": "space", "_": "underscore"}.get(ch, ch))


def text_of(app: KvmApp, selector: str) -> str:
    return str(app.query_one(selector).render())


@pytest.mark.asyncio
async def test_guest_memfd_slot_shows_its_binding_and_both_paths():
    app = KvmApp(GMEM)
    async with app.run_test(size=(140, 40)) as pilot:
        app.goto_step(5)  # the first read of slot 1 (2 files and 3 slots made at setup)
        await pilot.pause()
        assert app.view.record.op == "read" and app.view.record.slot == 1
        table = app.query_one(MemslotTable)
        line = table.line_text(app.view.slot(1), 140)
        assert "gmem0+0x0" in line and "gmem-only" in line and "REGION2" in line
        res = app.query_one(Resolution).text
        assert "kvm_gmem_get_pfn" in res
        assert "native ─▸ gmem0+0x0" in res and "emulated ─▸ userspace_addr" in res and "disagree" in res
        app.goto_step(9)  # slot 2, whose userspace_addr is gmem0's own mmap
        await pilot.pause()
        assert "the same memory" in app.query_one(Resolution).text


@pytest.mark.asyncio
async def test_dirty_ring_panel_counts_entries_harvest_and_reset():
    app = KvmApp(RING)
    async with app.run_test(size=(140, 40)) as pilot:
        app.goto_step(3)  # two writes to page 0 after the ring was enabled
        await pilot.pause()
        panel = str(app.query_one(DirtyRings).render())
        assert "4096 bytes per vCPU, 256 entries, full at 192" in panel and "vCPU 0: 1 in the ring (0 harvested ✓) · 1 pushed · 0 reset" in panel
        full = next(i for i, e in enumerate(app.run_.entries()) if e.record.outcome == "dirty_ring_full")
        app.goto_step(full)
        await pilot.pause()
        assert "FULL: KVM_EXIT_DIRTY_RING_FULL" in str(app.query_one(DirtyRings).render())
        reset = next(i for i, e in enumerate(app.run_.entries()) if e.record.op == "reset_dirty_rings" and e.record.value == 192)
        app.goto_step(reset)
        await pilot.pause()
        panel = str(app.query_one(DirtyRings).render())
        assert "vCPU 0: 0 in the ring" in panel and "193 reset" in panel and "FULL" not in panel


@pytest.mark.asyncio
async def test_manual_protect_state_and_probe_of_the_new_steps():
    app = KvmApp(MANUAL)
    async with app.run_test(size=(140, 40)) as pilot:
        assert "manual protect: off" in str(app.query_one(DirtyRings).render())
        app.goto_step(2)
        await pilot.pause()
        assert "manual protect: on + INITIALLY_SET" in str(app.query_one(DirtyRings).render())
        app.action_last()
        await pilot.pause()
        n = len(app.run_)
        await pilot.press("colon")
        await type_text(pilot, "clear 0 0 64")
        await pilot.press("enter")
        assert len(app.run_) == n + 1 and app.view.record.op == "clear_dirty_log" and app.view.record.outcome == "ENOENT"
        await pilot.press("colon")
        await type_text(pilot, "enable DIRTY_LOG_RING 4096")
        await pilot.press("enter")
        await pilot.pause()
        # the guest has run, so a vCPU exists: too late for the ring (§i F12)
        assert app.view.record.op == "enable_cap" and app.view.record.outcome == "EINVAL"
        assert "dirty ring: off" in str(app.query_one(DirtyRings).render())
