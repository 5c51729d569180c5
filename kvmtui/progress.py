"""A progress line on the terminal while a long load runs, so a big file never means a silent screen.

Nothing is shown for loads under DELAY seconds, nor when stderr is not a terminal (pipes and logs stay
clean); the line is erased when the load ends, before the app takes the screen. A load can go through
stages (reading the file, then starting the app): `stage` changes what the line says, and the clock keeps
counting from the start, since the user has waited since then.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import Self, TextIO

DELAY = 0.3
TICK = 0.2


class Progress:
    def __init__(self, label: str, stream: TextIO | None = None, delay: float = DELAY) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.shown = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = 0.0

    def __enter__(self) -> Self:
        isatty = getattr(self.stream, "isatty", None)
        if isatty is not None and isatty():
            self._start = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="kvmtui-progress", daemon=True)
            self._thread.start()
        return self

    def stage(self, label: str) -> None:
        """What the line says from its next redraw on (the thread reads the label at each tick)."""
        self.label = label

    def _run(self) -> None:
        if self._done.wait(self.delay):
            return
        spinner = "|/-\\"
        k = 0
        while not self._done.is_set():
            self.stream.write(f"\r{spinner[k % 4]} {self.label} … {time.monotonic() - self._start:.1f} s\x1b[K")
            self.stream.flush()
            self.shown = True
            k += 1
            self._done.wait(TICK)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
            if self.shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
