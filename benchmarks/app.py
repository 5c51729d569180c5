"""App benchmark: time to first frame and the latency of one step (key press to updated screen).

Run: uv run python benchmarks/app.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kvmtui.scenario.generate import large_layout  # noqa: E402
from kvmtui.tui.app import KvmApp  # noqa: E402


async def first_frame(make) -> float:
    t = time.perf_counter()
    app = make()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        return time.perf_counter() - t


async def step_latency(make, start: int, n: int) -> tuple[float, float, float, float]:
    app = make()
    async with app.run_test(size=(120, 40)) as pilot:
        app.goto_step(start)
        await pilot.pause()
        idle = []
        for _ in range(n):  # the test harness's own cost: a key nothing is bound to
            t = time.perf_counter()
            await pilot.press("z")
            await pilot.pause()
            idle.append(time.perf_counter() - t)
        fwd, back = [], []
        for _ in range(n):
            t = time.perf_counter()
            await pilot.press("n")
            await pilot.pause()
            fwd.append(time.perf_counter() - t)
        for _ in range(n):
            t = time.perf_counter()
            await pilot.press("b")
            await pilot.pause()
            back.append(time.perf_counter() - t)
        return statistics.median(fwd), max(fwd), statistics.median(back), statistics.median(idle)


async def main() -> None:
    rom = str(ROOT / "samples" / "rom.yaml")
    t = time.perf_counter()
    big = large_layout()
    print(f"generated 32,764 slots + 100,000 steps in {time.perf_counter() - t:.2f} s")
    print(f"first frame, samples/rom.yaml:             {await first_frame(lambda: KvmApp(rom)):.2f} s   [target <= 1.0 s]")
    print(f"first frame, 32,764 slots / 100,000 steps: {await first_frame(lambda: KvmApp(scenario=big)):.2f} s   [target <= 1.5 s]")
    med, worst, back, idle = await step_latency(lambda: KvmApp(scenario=big), 32764 + 500, 20)
    print(f"step on the large scenario (all slots in place), key press to updated screen: median {med * 1000:.0f} ms, "
          f"worst {worst * 1000:.0f} ms; step back median {back * 1000:.0f} ms   [target <= 50 ms]")
    print(f"  (of which the Pilot harness itself, an unbound key to a settled screen: median {idle * 1000:.0f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
