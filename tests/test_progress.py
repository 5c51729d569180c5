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


def test_a_stage_changes_what_the_line_says_and_the_clock_keeps_running():
    out = _Tty()
    with Progress("kvmtui: reading big.yaml", stream=out, delay=0.02) as p:
        time.sleep(0.25)
        p.stage("kvmtui: starting the app")
        time.sleep(0.3)
    text = out.getvalue()
    first, staged = text.index("reading big.yaml"), text.index("starting the app")
    assert first < staged and "reading big.yaml" not in text[staged:]
    # counted from the start, not from the stage: the first line after it says at least the 0.25 s before it
    assert float(text[staged:].split("… ")[1].split(" s")[0]) >= 0.25


def test_the_app_command_starts_textual_under_the_line_and_clears_it_first(monkeypatch):
    """Textual's import is most of a cold start: the live line covers it, and is erased before the app runs."""
    import gc
    import importlib

    import kvmtui.cli as cli
    import kvmtui.progress as progress
    import kvmtui.tui.app as app_module

    events: list[str] = []

    class Recording(Progress):
        def stage(self, label: str) -> None:
            events.append(f"stage {label}")
            super().stage(label)

        def __exit__(self, *exc):  # type: ignore[no-untyped-def]
            events.append("line erased")
            return super().__exit__(*exc)

    real_import = importlib.import_module

    def recorded_import(name: str, package: str | None = None):  # type: ignore[no-untyped-def]
        if name == ".tui.app":
            events.append("app imported")
        return real_import(name, package)

    def fake_run_app(*args, **kwargs):  # type: ignore[no-untyped-def]
        events.append("app runs")
        # the scenario lives as long as the app: out of the cyclic collector's sight (no full-collection pauses)
        scenario = kwargs["scenario"]
        frozen.append(not any(o is scenario for o in gc.get_objects()))
        return 0

    frozen: list[bool] = []
    monkeypatch.setattr(progress, "Progress", Recording)
    monkeypatch.setattr(importlib, "import_module", recorded_import)
    monkeypatch.setattr(app_module, "run_app", fake_run_app)
    try:
        assert cli.main(["rom"]) == 0
    finally:
        gc.unfreeze()
    assert events == ["stage kvmtui: starting the app", "app imported", "line erased", "app runs"]
    assert frozen == [True]
