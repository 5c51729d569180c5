"""The progress line shown while a long load runs before the app starts."""

from __future__ import annotations

import io
import time

from kvmtui.progress import Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_slow_load_shows_a_live_line_then_erases_it():
    out = _Tty()
    with Progress("kvmtui: reading big.yaml", stream=out, delay=0.05) as p:
        time.sleep(0.5)
    text = out.getvalue()
    assert p.shown and "kvmtui: reading big.yaml" in text
    assert text.count("\r") >= 2  # redrawn as time passes
    assert text.endswith("\r\x1b[K")  # gone before the app takes the screen


def test_a_quick_load_shows_nothing():
    out = _Tty()
    with Progress("kvmtui: reading small.yaml", stream=out):
        pass
    assert out.getvalue() == ""


def test_nothing_is_written_to_a_pipe():
    out = io.StringIO()  # not a terminal
    with Progress("kvmtui: reading big.yaml", stream=out, delay=0):
        time.sleep(0.2)
    assert out.getvalue() == ""
