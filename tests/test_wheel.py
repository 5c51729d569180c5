"""The wheel carries its samples: built here, installed in a fresh environment outside the repository, it
lists and runs them by name (`kvmtui samples`, `kvmtui trace rom`, an ELF sample whose firmware file travels
with it)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def _uv(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    return subprocess.run(["uv", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    if shutil.which("uv") is None:
        pytest.skip("uv is not on PATH: cannot build and install the wheel")
    tmp = tmp_path_factory.mktemp("wheel")
    built = _uv("build", "--wheel", "-o", str(tmp / "dist"), str(ROOT), cwd=tmp)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "dist").glob("kvmtui-*.whl")
    venv = tmp / "venv"
    made = _uv("venv", "-q", str(venv), cwd=tmp)
    assert made.returncode == 0, made.stderr
    inst = _uv("pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel), cwd=tmp)
    if inst.returncode != 0:
        inst = _uv("pip", "install", "-q", "--offline", "--python", str(venv / "bin" / "python"), str(wheel), cwd=tmp)
    if inst.returncode != 0:
        pytest.skip(f"cannot install the wheel's dependencies here (offline?): {inst.stderr.strip()[-300:]}")
    return venv


def _kvmtui(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": ""}
    return subprocess.run([str(venv / "bin" / "kvmtui"), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def test_wheel_runs_a_bundled_sample_by_name_outside_the_repo(installed, tmp_path):
    out = _kvmtui(installed, "trace", "rom", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "A ROM just under 4 GiB" in out.stdout and "KVM_EXIT_MMIO" in out.stdout
    where = _kvmtui(installed, "samples", "--paths", cwd=tmp_path)
    paths = [Path(p) for p in where.stdout.split()]
    assert paths and all(p.is_file() and ROOT not in p.parents for p in paths)  # the installed copies, not the repo's


def test_wheel_lists_and_checks_every_sample(installed, tmp_path):
    listed = _kvmtui(installed, "samples", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
    assert {"rom", "before-after", "elf", "mmio", "firmware"} <= set(names)
    yaml_names = [n for n in names if n != "firmware"]
    checked = _kvmtui(installed, "check", *yaml_names, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("ok   ") == len(yaml_names)  # elf.yaml found its firmware/firmware.elf


def test_a_file_of_that_name_wins_over_the_sample(installed, tmp_path):
    (tmp_path / "rom").write_text("kvmtui: 1\ntitle: mine\nhost: {ram: {size: 4K}}\nslots: [{slot: 0, gpa: 0, host: ram}]\n")
    out = _kvmtui(installed, "trace", "rom", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "mine" in out.stdout and "A ROM just under" not in out.stdout
