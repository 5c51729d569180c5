"""Make screenshots/*.svg from the real app, driven headlessly. Run: uv run python scripts/screenshots.py"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kvmtui.scenario.generate import large_layout  # noqa: E402
from kvmtui.tui.app import KvmApp  # noqa: E402

OUT = ROOT / "screenshots"


async def shoot(name: str, app: KvmApp, size: tuple[int, int], keys: list[str]) -> None:
    async with app.run_test(size=size) as pilot:
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        path = OUT / f"{name}.svg"
        path.write_text(app.export_screenshot(title=f"kvmtui · {name}"), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    rom = str(ROOT / "samples" / "rom.yaml")
    ro_write = ["n"] * 5
    await shoot("rom-ro-write", KvmApp(rom), (120, 36), ro_write)
    await shoot("rom-ro-write-80x24", KvmApp(rom), (80, 24), ro_write)
    await shoot("rom-page-map", KvmApp(rom), (120, 36), ["end", "2"])
    lesson = ["n", "1", "n", "n", "1", "n", "1", "n"]  # to the question before the read-only write
    await shoot("rom-lesson-question-80x24", KvmApp(rom, lesson=True), (80, 24), lesson)
    await shoot("rom-lesson-reveal-80x24", KvmApp(rom, lesson=True), (80, 24), [*lesson, "2"])
    await shoot("rom-ro-write-high-contrast-80x24", KvmApp(rom, theme="high-contrast"), (80, 24), ro_write)
    await shoot("before-after-3.6-beside-3.7", KvmApp(str(ROOT / "samples" / "before-after.yaml")), (120, 36), ["v"])
    big = KvmApp(scenario=large_layout(32764, 100_000))
    await shoot("large-layout-32764-slots", big, (120, 36), ["end", "2"])
    await shoot("help", KvmApp(rom), (100, 36), ["question_mark"])
    migration = str(ROOT / "tests" / "data" / "import" / "migration-cancel.log")
    await shoot("migration-layout-timeline", KvmApp(migration), (120, 36), ["t", *["down"] * 40])
    await shoot("firmware-elf", KvmApp(str(ROOT / "samples" / "firmware" / "firmware.elf")), (120, 36), [])
    layouts = ROOT / "tests" / "data" / "layouts"
    pc = KvmApp(str(layouts / "pc.log"), mtree=str(layouts / "pc.mtree"))
    await shoot("pc-address-space", pc, (120, 36), ["end", "a"])
    await shoot("migration-diff", KvmApp(migration), (120, 36), ["end", "d", "enter"])


if __name__ == "__main__":
    asyncio.run(main())
