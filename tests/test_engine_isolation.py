"""The engine is the core and knows nothing of the UI (ui.md: proven the way harlequin proves it)."""

import subprocess
import sys


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_engine_import_loads_neither_textual_nor_rich():
    mods = _loaded_after("import kvmtui.engine")
    assert not {m for m in mods if m.split(".")[0] in ("textual", "rich", "ruamel")}


def test_cli_help_and_headless_trace_do_not_import_textual():
    mods = _loaded_after("from kvmtui.cli import main; import contextlib, io; f=io.StringIO(); "
                         "stack=contextlib.redirect_stdout(f); stack.__enter__(); main(['trace', 'samples/rom.yaml', '--json'])")
    assert "textual" not in {m.split(".")[0] for m in mods}
