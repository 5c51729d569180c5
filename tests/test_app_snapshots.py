"""SVG snapshots pin the look: fixed sizes, the default theme, no cursor in view.

Regenerate after an intended change with: KVMTUI_UPDATE_SNAPSHOTS=1 uv run pytest tests/test_app_snapshots.py
"""

import os
import re
from pathlib import Path

import pytest

from kvmtui.tui.app import KvmApp

ROOT = Path(__file__).parent.parent
SNAPSHOTS = Path(__file__).parent / "snapshots"
CASES = {
    "rom-ro-write-80x24": (ROOT / "samples" / "rom.yaml", (80, 24), ["n"] * 5),
    "rom-page-map-100x30": (ROOT / "samples" / "rom.yaml", (100, 30), ["end", "2"]),
    "before-after-compare-100x30": (ROOT / "samples" / "before-after.yaml", (100, 30), ["v"]),
    "help-80x24": (ROOT / "samples" / "rom.yaml", (80, 24), ["question_mark"]),
    "pc-log-address-space-120x36": (ROOT / "tests" / "data" / "layouts" / "pc.log", (120, 36), ["end", "a"]),
    "migration-diff-step-0-120x30": (ROOT / "tests" / "data" / "import" / "migration-cancel.log", (120, 30), ["end", "d", "enter"]),
}
LESSON_TO_RO_WRITE = ["n", "1", "n", "n", "1", "n", "1", "n"]  # answer "1" to each question before the write's
KWARGS = {  # cases that open the app with options
    "rom-lesson-question-80x24": (ROOT / "samples" / "rom.yaml", (80, 24), LESSON_TO_RO_WRITE, {"lesson": True}),
    "rom-lesson-reveal-80x24": (ROOT / "samples" / "rom.yaml", (80, 24), [*LESSON_TO_RO_WRITE, "2"], {"lesson": True}),
    "rom-ro-write-high-contrast-80x24": (ROOT / "samples" / "rom.yaml", (80, 24), ["n"] * 5, {"theme": "high-contrast"}),
}
CASES.update({name: case[:3] for name, case in KWARGS.items()})


def _normalise(svg: str) -> str:
    # Rich names its CSS classes after a hash of the whole terminal; compare the drawing, not the hash.
    return re.sub(r"terminal-\d+", "terminal", svg)


@pytest.mark.asyncio
@pytest.mark.parametrize("name", sorted(CASES))
async def test_snapshot(name):
    scenario, size, keys = CASES[name]
    app = KvmApp(str(scenario), **(KWARGS[name][3] if name in KWARGS else {}))
    async with app.run_test(size=size) as pilot:
        for k in keys:
            await pilot.press(k)
        await pilot.pause()
        await pilot.pause()  # a screen pushed by the last key draws its footer a frame later
        svg = _normalise(app.export_screenshot(title=name))
    path = SNAPSHOTS / f"{name}.svg"
    actual = path.with_suffix(".actual.svg")
    if os.environ.get("KVMTUI_UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(svg, encoding="utf-8")
        actual.unlink(missing_ok=True)
        return
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"snapshot {path.name} is missing (make it with KVMTUI_UPDATE_SNAPSHOTS=1)")
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(svg, encoding="utf-8")  # a first run outside CI records the look; CI never does
        return
    if svg != path.read_text(encoding="utf-8"):
        actual.write_text(svg, encoding="utf-8")  # beside the expected one, to open both and compare
        pytest.fail(f"{name} looks different: see {actual.name} beside {path.name}; if intended, regenerate the snapshots")
    actual.unlink(missing_ok=True)
