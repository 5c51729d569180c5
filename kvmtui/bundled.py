"""The sample scenarios shipped inside the package, found by name.

In a wheel they live in ``kvmtui/samples/`` (pyproject's force-include copies the repository's ``samples/``
there); in a source checkout they are the repository's ``samples/``. A bundled sample's name works
wherever a file is expected and no such file exists: ``kvmtui rom``, ``kvmtui trace rom``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)


def samples_dir() -> Path | None:
    """Where the bundled samples are: inside the installed package, else the source checkout's samples/."""
    for d in (_PACKAGE / "samples", _PACKAGE.parent / "samples"):
        if (d / "rom.yaml").is_file():
            return d
    return None


@dataclass(frozen=True)
class Sample:
    name: str  # what to type: `kvmtui NAME`
    path: Path
    title: str


def bundled_samples() -> list[Sample]:
    """Every bundled scenario (*.yaml) and ELF image (firmware/*.elf), by name."""
    d = samples_dir()
    if d is None:
        return []
    out = []
    for p in sorted(d.glob("*.yaml")):
        m = _TITLE.search(p.read_text(encoding="utf-8", errors="replace")[:8192])
        out.append(Sample(p.stem, p, m.group(1).strip("'\"") if m else ""))
    for p in sorted(d.glob("*/*.elf")):
        out.append(Sample(p.stem, p, f"an ELF image ({p.parent.name}/{p.name}), opened alone"))
    return out


def find_sample(name: str) -> Path | None:
    """The bundled sample called NAME (``rom``, ``rom.yaml``, ``firmware.elf``), or None."""
    if "/" in name or "\\" in name:
        return None
    for s in bundled_samples():
        if name in (s.name, s.path.name):
            return s.path
    return None


def resolve(arg: str) -> str:
    """ARG itself when such a file (or anything) exists there, else the bundled sample of that name, else ARG
    unchanged (so the error names what the user typed)."""
    if Path(arg).exists():
        return arg
    found = find_sample(arg)
    return str(found) if found is not None else arg
