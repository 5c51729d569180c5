"""Each command imports only what it uses: every module imported is compiled at each cold start
(PYTHONDONTWRITEBYTECODE=1, a fresh clone), so a headless command must not pay for the app, Rich,
ruamel or pyelftools it does not need. benchmarks/startup.py prints the time each command takes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from elfgen import Elf, Seg

ROOT = Path(__file__).parent.parent
HEAVY = ("textual", "rich", "ruamel", "elftools", "yaml")


def _imports(argv: list[str], cwd: Path = ROOT) -> set[str]:
    """Every module `kvmtui ARGV` imports, its output piped away."""
    code = ("import sys, contextlib, io\nfrom kvmtui.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): status = main(sys.argv[1:])\n"
            "print(status, ' '.join(sorted(sys.modules)))")
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=cwd, timeout=120)
    status, _, mods = r.stdout.strip().partition(" ")
    assert status in ("0", "1"), r.stderr
    return set(mods.split())


def _heavy_imports(argv: list[str], cwd: Path = ROOT) -> set[str]:
    """The heavy libraries `kvmtui ARGV` imports, its output piped away."""
    return {m.split(".")[0] for m in _imports(argv, cwd)} & set(HEAVY)


def test_version_and_help_import_nothing_heavy():
    assert _heavy_imports(["--version"]) == set()
    assert _heavy_imports(["trace", "--help"]) == set()


def test_trace_of_a_yaml_file_reads_it_with_libyaml_only():
    assert _heavy_imports(["trace", "samples/rom.yaml"]) == {"yaml"}
    assert _heavy_imports(["trace", "--json", "samples/mmio.yaml"]) == {"yaml"}


def test_trace_of_a_yaml_file_loads_neither_the_elf_reader_nor_the_log_importer():
    mods = _imports(["trace", "samples/rom.yaml"])
    assert "kvmtui.scenario.loader" in mods
    assert not mods & {"kvmtui.scenario.elf", "kvmtui.scenario.importers", "kvmtui.scenario.firmware"}


def test_a_table_without_expect_imports_neither_the_judge_nor_a_json_writer(tmp_path):
    p = tmp_path / "plain.yaml"
    p.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0x10\n")
    mods = _imports(["trace", str(p)])
    assert "kvmtui.report" in mods and "kvmtui.table" in mods
    assert not mods & {"kvmtui.judge", "kvmtui.run", "orjson", "json"}
    assert "orjson" in _imports(["trace", "--json", str(p)])
    assert "kvmtui.judge" in _imports(["trace", "samples/rom.yaml"])  # (rom's steps expect outcomes)


@pytest.mark.parametrize("log", ["migration.log", "pc.strace"])
def test_trace_of_a_log_imports_no_yaml_library(log):
    path = ROOT / "tests" / "data" / "import" / log
    if not path.exists():
        pytest.skip(f"{log} not in tests/data/import")
    assert _heavy_imports(["trace", str(path)]) == set()


def test_trace_of_an_elf_without_symbols_needs_no_pyelftools(tmp_path):
    elf = tmp_path / "fw.elf"
    elf.write_bytes(Elf(segments=[Seg(0x100000, b"\x90" * 64), Seg(0x200000, b"x" * 32)], symtab=None).build())
    assert _heavy_imports(["trace", str(elf)]) == set()


def test_every_dataclass_of_a_trace_has_its_own_docstring():
    """dataclass() writes a missing docstring from inspect.signature(), at every start: ~0.15 ms a class."""
    code = ("import sys, contextlib, io, dataclasses\nfrom kvmtui.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['trace', '--json', 'samples/rom.yaml'])\n"
            "print(' '.join(f'{n}.{k}' for n, m in list(sys.modules.items()) if n.startswith('kvmtui') for k, v in vars(m).items()\n"
            "      if isinstance(v, type) and dataclasses.is_dataclass(v) and v.__module__ == n\n"
            "      and (v.__doc__ or '').startswith(v.__name__ + '(')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == []


def test_a_json_trace_compiles_no_table_code(tmp_path):
    """The table (table.py, richless.py) is a module of its own: a JSON trace never compiles it."""
    p = tmp_path / "plain.yaml"
    p.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0x10\n")
    mods = _imports(["trace", "--json", str(p)])
    assert "kvmtui.report" in mods
    assert not mods & {"kvmtui.table", "kvmtui.richless"}


def test_a_plain_header_is_read_without_the_libyaml_builder(tmp_path):
    """A header simpleyaml reads (as a real-size scenario's is) compiles neither PyYAML nor fastyaml's builder."""
    p = tmp_path / "plain.yaml"
    p.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0x10\n")
    mods = _imports(["trace", "--json", str(p)])
    assert "kvmtui.scenario.simpleyaml" in mods
    assert not mods & {"kvmtui.scenario.libyaml_build", "yaml"}
    assert "kvmtui.scenario.libyaml_build" in _imports(["trace", "--json", "samples/rom.yaml"])  # (a block scalar: libyaml)


def test_a_trace_compiles_no_other_command():
    """Each command that is more than a few lines runs from its own module, imported when that command runs."""
    mods = _imports(["trace", "--json", "samples/rom.yaml"])
    assert "kvmtui.cli" in mods
    assert not mods & {"kvmtui.cli_app", "kvmtui.cli_import", "kvmtui.cli_layout"}


def test_dirty_logging_code_is_compiled_by_a_scenario_that_logs_dirty_pages_only(tmp_path):
    """dirty_bitmap.py is imported where a slot with KVM_MEM_LOG_DIRTY_PAGES is committed (annotations elsewhere)."""
    p = tmp_path / "plain.yaml"
    p.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0x10\n")
    assert "kvmtui.engine.dirty_bitmap" not in _imports(["trace", "--json", str(p)])
    assert "kvmtui.engine.dirty_bitmap" in _imports(["trace", "--json", "samples/dirty-log.yaml"])


def test_the_dirty_ring_is_compiled_by_a_scenario_that_enables_it_only(tmp_path):
    """dirty_ring.py is imported with the first ring, and by KVM_ENABLE_CAP of the ring."""
    p = tmp_path / "plain.yaml"
    p.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0x10\n")
    assert "kvmtui.engine.dirty_ring" not in _imports(["trace", "--json", str(p)])
    assert "kvmtui.engine.dirty_ring" in _imports(["trace", "--json", "samples/dirty-ring.yaml"])


def test_expect_entries_are_read_by_a_module_a_scenario_without_them_never_compiles(tmp_path):
    p = tmp_path / "plain.yaml"
    p.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0x10\n")
    assert "kvmtui.scenario.expectations" not in _imports(["trace", "--json", str(p)])
    assert "kvmtui.scenario.expectations" in _imports(["trace", "--json", "samples/rom.yaml"])  # (its steps expect outcomes)


def test_todays_memory_api_is_compiled_by_a_scenario_that_uses_it_only(tmp_path):
    """engine/memapi.py (VM types, guest_memfd, KVM_ENABLE_CAP, the dirty ring) is imported by the first step it runs."""
    p = tmp_path / "plain.yaml"
    p.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0x10\n")
    assert "kvmtui.engine.memapi" not in _imports(["trace", "--json", str(p)])
    assert "kvmtui.engine.memapi" in _imports(["trace", "--json", "samples/guest-memfd.yaml"])


def test_general_list_items_are_read_by_a_module_a_scenario_of_plain_rows_never_compiles(tmp_path):
    rows = "".join(f"  - read: {hex(i * 0x1000)}\n    size: 4\n" for i in range(80))  # (runs of rows: fastitems)
    p = tmp_path / "rows.yaml"
    p.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n" + rows)
    assert "kvmtui.scenario.fastitems" in (mods := _imports(["trace", "--json", str(p)]))
    assert "kvmtui.scenario.general_items" not in mods
    p.write_text(p.read_text().replace("  - read: 0x28000\n    size: 4\n", "  - size: 4  # c\n    read: 0x28000\n"))  # (a general item)
    assert "kvmtui.scenario.general_items" in _imports(["trace", "--json", str(p)])
