"""Issue 11, writing: the one writer (scenario/outfile.py) behind ctrl+s, `import -o` and the exports.
Nothing a user has is replaced, changed in kind, or written without --force / confirmation."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from kvmtui.cli import main
from kvmtui.scenario import ScenarioError, load_scenario
from kvmtui.scenario.outfile import output_problem, write_output
from kvmtui.scenario.save import load_document, save_document

ROOT = Path(__file__).parent.parent
LOG = ROOT / "tests" / "data" / "import" / "pc.log"
ROM = ROOT / "samples" / "rom.yaml"


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_file_gets_0644_under_the_usual_umask(tmp_path, umask022):
    p = tmp_path / "new.yaml"
    assert write_output(p, "a: 1\n") == p
    assert stat.S_IMODE(p.stat().st_mode) == 0o644 and p.read_text() == "a: 1\n"
    assert [q.name for q in tmp_path.iterdir()] == ["new.yaml"]  # no temporary file left


def test_an_existing_file_needs_overwrite_and_keeps_its_mode(tmp_path):
    p = tmp_path / "f.yaml"
    p.write_text("old\n")
    p.chmod(0o640)
    with pytest.raises(ScenarioError, match="exists"):
        write_output(p, "new\n")
    assert p.read_text() == "old\n"
    write_output(p, "new\n", overwrite=True)
    assert p.read_text() == "new\n" and stat.S_IMODE(p.stat().st_mode) == 0o640


def test_hard_links_are_kept(tmp_path):
    p, q = tmp_path / "a.yaml", tmp_path / "b.yaml"
    p.write_text("a long old text that is longer than the new one\n")
    os.link(p, q)
    ino = p.stat().st_ino
    write_output(q, "new\n", overwrite=True)
    assert p.read_text() == "new\n" and q.read_text() == "new\n"
    assert p.stat().st_ino == q.stat().st_ino == ino and p.stat().st_nlink == 2


def test_a_symlink_is_written_through(tmp_path):
    real = tmp_path / "real.yaml"
    real.write_text("old\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(real.name)
    with pytest.raises(ScenarioError, match="exists"):
        write_output(link, "new\n")
    assert write_output(link, "new\n", overwrite=True) == real
    assert link.is_symlink() and real.read_text() == "new\n"


def test_a_dangling_symlink_needs_overwrite_and_then_creates_its_target(tmp_path):
    link = tmp_path / "link.yaml"
    link.symlink_to("target.yaml")
    with pytest.raises(ScenarioError, match="dangling symbolic link"):
        write_output(link, "new\n")
    assert link.is_symlink() and not (tmp_path / "target.yaml").exists()
    write_output(link, "new\n", overwrite=True)
    assert link.is_symlink() and (tmp_path / "target.yaml").read_text() == "new\n"


@pytest.mark.parametrize("kind", ["fifo", "dir", "device", "proc", "link-to-device"])
def test_non_regular_files_are_never_replaced(kind, tmp_path):
    if kind == "fifo":
        p = tmp_path / "pipe"
        os.mkfifo(p)
    elif kind == "dir":
        p = tmp_path
    elif kind == "device":
        p = Path("/dev/full")
    elif kind == "proc":
        p = Path("/proc/self/comm")
    else:
        p = tmp_path / "dev-link"
        p.symlink_to("/dev/null")
    before = os.stat(p)
    with pytest.raises(ScenarioError, match="regular files only"):
        write_output(p, "x\n", overwrite=True)
    after = os.stat(p)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


def test_a_missing_folder_is_named(tmp_path):
    assert "does not exist" in output_problem(tmp_path / "no" / "f.yaml", overwrite=True)


# -- import -o --------------------------------------------------------------------------------------------
def _one_line(capsys) -> str:
    _out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("target", ["/dev/full", "/proc/self/comm", "DIR", "DIR/missing/out.yaml"])
def test_import_never_writes_a_non_regular_file(target, tmp_path, capsys):
    target = target.replace("DIR", str(tmp_path))
    before = os.stat(target) if os.path.exists(target) else None
    assert main(["import", str(LOG), "-o", target, "--force"]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"kvmtui: {target}: ")
    if before is not None:
        assert stat.S_IFMT(os.stat(target).st_mode) == stat.S_IFMT(before.st_mode)


def test_import_writes_through_links_keeps_modes_and_needs_force(tmp_path, capsys, umask022):
    out = tmp_path / "new.yaml"
    assert main(["import", str(LOG), "-o", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    capsys.readouterr()
    link = tmp_path / "link.yaml"
    link.symlink_to("dangling.yaml")
    assert main(["import", str(LOG), "-o", str(link)]) == 2
    assert "dangling" in _one_line(capsys) and not (tmp_path / "dangling.yaml").exists()
    assert main(["import", str(LOG), "-o", str(link), "--force"]) == 0
    assert link.is_symlink() and load_scenario(tmp_path / "dangling.yaml").steps


# -- ctrl+s (save_document) and the app ---------------------------------------------------------------------
def test_saving_over_a_symlinked_scenario_edits_the_real_file(tmp_path):
    real = tmp_path / "rom.yaml"
    shutil.copy(ROM, real)
    link = tmp_path / "via-link.yaml"
    link.symlink_to(real)
    doc = load_document(link)
    doc["title"] = "edited"
    save_document(doc, link, overwrite=True)
    assert link.is_symlink() and load_scenario(real).title == "edited"


@pytest.mark.asyncio
async def test_the_apps_export_refuses_a_dangling_link_and_a_device(tmp_path, monkeypatch):
    from kvmtui.tui.app import KvmApp

    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.jsonl").symlink_to("nowhere.jsonl")
    app = KvmApp(str(ROM))
    async with app.run_test(size=(120, 40)) as pilot:
        for path in ("t.jsonl", "/dev/full"):
            await pilot.press("x")
            app.screen.query_one("Input").value = path
            await pilot.press("enter")
            await pilot.pause()
            assert "exists" in str(app.screen.query_one("#prompt-error").render())
            await pilot.press("escape")
    assert not (tmp_path / "nowhere.jsonl").exists() and stat.S_ISCHR(os.stat("/dev/full").st_mode)
