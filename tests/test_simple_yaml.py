"""The plain-header reader (simpleyaml.read_simple, no YAML library) gives exactly what fastyaml's libyaml
builder gives, values and every position, wherever it reads a text at all; anything else it leaves alone
(None), so every refusal still comes from the YAML path."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from kvmtui.scenario import fastitems, libyaml_build, loader
from kvmtui.scenario.fastyaml import YMap, YSeq
from kvmtui.scenario.simpleyaml import read_simple

ROOT = Path(__file__).resolve().parent.parent
YAML_FILES = sorted(p for p in ROOT.rglob("*.y*ml") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(ROOT).parts))


def _deep(node):
    """A node with its types, values and the positions of it, its keys, values and items."""
    if isinstance(node, YMap):
        return ("map", node.line, node.col, tuple(node._marks), tuple((type(k).__name__, k, _deep(v)) for k, v in node.items()))
    if isinstance(node, YSeq):
        return ("seq", node.line, node.col, tuple(node._marks), tuple(_deep(v) for v in node))
    return (type(node).__name__, node)


def _agrees(text: str) -> bool:
    """True when read_simple reads `text` (the libyaml builder must then give the same), False when it leaves it."""
    got = read_simple(text)
    if got is None:
        return False
    ref, aliases = libyaml_build.build(text, "t.yaml")  # raises if libyaml would refuse what read_simple took
    assert aliases is None and _deep(got) == _deep(ref), text
    return True


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_and_its_scanned_copy(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return
    _agrees(text)
    try:
        scan = fastitems.scan(text, loader.fast_step, loader.fast_rows)
    except Exception:  # noqa: BLE001  (a run the loader refuses: the whole text goes the YAML way)
        return
    if scan is not None:
        _agrees(scan.text)


def test_the_real_size_headers_are_read_without_a_yaml_library():
    header = ("kvmtui: 1\ntitle: 100,000 accesses\nhost:\n  ram:\n    size: 64M\n  rom: {size: 64K, prot: r}\nslots:\n"
              "  - slot: 0  # the RAM\n    gpa: 0x0\n    host: ram\n  - {slot: 1, gpa: 0xfffe0000, host: rom, flags: [readonly]}\n"
              "steps:\n- " + fastitems.PLACEHOLDER + ": 0\n" + "\n" * 1000 + "- read: 0x10\n")
    assert _agrees(header)
    doc = read_simple(header)
    assert doc["host"]["rom"] == {"size": "64K", "prot": "r"} and doc["slots"][1]["flags"] == ["readonly"]
    assert doc["steps"].lc.item(1) == (1013, 2) and doc["slots"][0].lc.value("gpa") == (8, 9)


@pytest.mark.parametrize("text", [
    "a:\nb: 1\n",  # an empty value: null, placed by the parser
    "a: |\n  text\n",  # a block scalar
    "a: 1\na: 2\n",  # a duplicate key: the YAML path's message
    "a: &x 1\nb: *x\n",  # anchors and aliases
    "a: 1\n  b: 2\n",  # a deeper line after a scalar
    "a: x\n  y\n",  # a plain scalar on two lines
    "a:\n\t- 1\n",  # a tab
    "a: caf\u00e9\n",  # not ASCII
    "a: 1\r\nb: 2\r\n",  # a CR
    "- 1\n- 2\n",  # a list document
    "a: x#y\n",  # a `#` without a space is text
    "a: " + "1" * 100 + "\n",  # an over-long number: the YAML path's message
    "a: {b: 1, b: 2}\n",
    "--- \na: 1\n",
])
def test_what_it_leaves_to_the_yaml_path(text):
    assert read_simple(text) is None


def _tree(r: random.Random, depth: int):
    roll = r.random()
    if depth > 3 or roll < 0.4:
        return ("s", r.choice(["1", "0x10", "abc", "a b", "100,000 x", '"q: #x"', "'s'", "[readonly]", "[a, b]", "[]", "{size: 1G}",
                               "{a: 1, b: [x]}", "{}", "3.6", "yes", "null", "x # c", '""', "64K", "ram+0x1000", "true",
                               "{a: 'x, y', b: \"z\"}", "x   # c", "a-b", "(p)", "1.5.2", "1.5", "1_000", "0o17"]))
    if roll < 0.7:
        return ("m", [(k, _tree(r, depth + 1)) for k in r.sample(["a", "b", "title", "null", "true", "x_1", "False", "k"], r.randint(1, 4))])
    return ("q", [_tree(r, depth + 1) for _ in range(r.randint(1, 3))])


def _render(r: random.Random, node, ind: int, out: list[str], first: str | None = None) -> None:
    def noise():
        if r.random() < 0.1:
            out.append(r.choice(["", "   ", " " * r.randint(0, 6) + "# note"]))
    if node[0] == "m":
        step = r.randint(1, 4)
        for j, (k, v) in enumerate(node[1]):
            pre = first if j == 0 and first is not None else " " * ind
            if v[0] == "s":
                out.append(f"{pre}{k}: {v[1]}")
                noise()
            else:
                out.append(f"{pre}{k}:{r.choice(['', ' # c', '  '])}")
                noise()
                _render(r, v, ind + (0 if v[0] == "q" and r.random() < 0.3 else step), out)
    else:
        for v in node[1]:
            if v[0] == "s":
                out.append(" " * ind + "- " + v[1])
                noise()
            elif v[0] == "m":
                _render(r, v, ind + 2, out, first=" " * ind + "- ")
            else:
                out.append(" " * ind + "- - x")


def test_generated_documents_read_as_libyaml_reads_them():
    r = random.Random(10)
    read = 0
    for _ in range(3000):
        root = _tree(r, 0)
        out: list[str] = []
        _render(r, root if root[0] == "m" else ("m", [("a", root)]), r.choice([0, 0, 2]), out)
        read += _agrees("\n".join(out) + r.choice(["\n", "", "\n\n"]))
    assert read > 1000  # most are in the grammar: the comparison is not vacuous


def test_a_plain_scenario_loads_without_importing_pyyaml(tmp_path):
    import subprocess

    text = "title: t\nhost:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n" + "".join(f"  - read: {i * 4096:#x}\n" for i in range(100))
    (tmp_path / "s.yaml").write_text(text)
    code = "import sys\nfrom kvmtui.scenario.loader import load_scenario\nsc = load_scenario(sys.argv[1])\nprint(len(sc.steps), 'yaml' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.yaml")], capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["100", "False"], r.stderr
