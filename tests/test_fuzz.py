"""Issue 11: fuzzing. Hypothesis mutates the samples and the real VMM logs of tests/data/import and feeds
them to the loader, `trace`, `check` and `import`, and feeds typed text to the app's prompt parsers.

Every run must end in exit 0, 1 or 2; exit 2 with exactly one line `kvmtui: ...`; never a traceback;
each input within a time budget, and the whole test within a memory budget.

Budget: a few dozen examples under HYPOTHESIS_PROFILE=ci (and the default dev profile); for a long run by
hand: `HYPOTHESIS_PROFILE=fuzz uv run pytest tests/test_fuzz.py` (thousands of examples, see README).
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvmtui.cli import main
from kvmtui.tui.commands import CommandError, parse_breakpoint, parse_edit, parse_goto, parse_probe

ROOT = Path(__file__).parent.parent
SEEDS = sorted((ROOT / "samples").glob("*.yaml")) + sorted(
    p for p in (ROOT / "tests" / "data" / "import").iterdir() if p.suffix in (".log", ".strace", ".maps", ".trace"))
TEXTS = {p.name: p.read_bytes() for p in SEEDS}
EXAMPLES = {"ci": 25, "dev": 25, "fuzz": 3000}.get(os.environ.get("HYPOTHESIS_PROFILE", "dev"), 25)
SECONDS_PER_INPUT = 10
MEMORY_BUDGET = 2 << 30

HOSTILE = [
    b"[" * 500, b"{" * 300, b"9" * 5000, b"0x" + b"f" * 40, b"-1", b"1T", b"16E", b"0xffffffffffffffff", b"? [x]\n: 1\n",
    b"[[x]]: 1\n", b"&a [1, 2]\n", b"*a", b"!!python/object:os.system", b"\x00", b"\xff\xfe", b"\n  - ", b": ", b"'", b'"', b"#",
    b"\t", b"size: 1T", b"hva: 0x7f0000000000", b"fill: 0xaa", b"backing: file", b"host: ram+1T", b"poison: {host: ram, size: 1T}",
    b"evict: {host: ram}", b"slot: 0xffffffff", b"Slot#99999999999", b"ua=0x7f0000000123", b"size=0x1ffffffffffffffff000",
    b"ret=-22", b"KVM_SET_USER_MEMORY_REGION failed, slot=1, start=0x0, size=0x1000: Invalid argument", b"file: /dev/zero",
    b"file: /proc/self/status", b"elf: [/dev/null]",
]


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(TEXTS)))
    data = bytearray(TEXTS[name])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "duplicate", "replace", "swap_lines", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if kind == "insert":
            data[at:at] = draw(st.sampled_from(HOSTILE) | st.binary(max_size=16))
        elif kind == "delete":
            del data[at: at + draw(st.integers(1, 64))]
        elif kind == "duplicate":
            span = bytes(data[at: at + draw(st.integers(1, 200))])
            data[at:at] = span * draw(st.integers(1, 20))
        elif kind == "replace":
            data[at: at + draw(st.integers(1, 8))] = draw(st.sampled_from(HOSTILE))
        elif kind == "swap_lines":
            lines = bytes(data).split(b"\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
        else:
            del data[at:]
    return name, bytes(data)


def _run(argv: list[str], capsys) -> None:
    t = time.monotonic()
    code = main(argv)
    elapsed = time.monotonic() - t
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("kvmtui: "), err
        assert len(err) < 600, err  # values shortened
    assert elapsed < SECONDS_PER_INPUT, (argv, elapsed)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                                       HealthCheck.data_too_large])
@given(mutated())
def test_mutated_inputs_end_in_one_line_or_a_clean_run(tmp_path_factory, capsys, case):
    name, data = case
    d = tmp_path_factory.mktemp("fuzz")
    for seed in ("firmware",):  # relative files a sample names stay reachable
        link = d / seed
        if not link.exists():
            link.symlink_to(ROOT / "samples" / seed)
    path = d / name
    path.write_bytes(data)
    _run(["trace", str(path)], capsys)
    _run(["check", str(path)], capsys)
    out = d / "out.yaml"
    _run(["import", str(path), "-o", str(out)], capsys)
    if out.exists():  # what import wrote loads again
        _run(["trace", str(out)], capsys)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 < MEMORY_BUDGET


PROMPT_WORDS = ["r", "w", "f", "slot", "delete", "dirty", "cap", "mprotect", "munmap", "madvise", "evict", "poison", "hostwrite",
                "add", "move", "flags", "step", "gpa", "gfn", "outcome", "clear", "ram", "rom", "nope", "gpa=1M", "host=ram",
                "size=4K", "flags=readonly", "1T", "0x" + "f" * 17, "9" * 50, "-1", "reset_vector", "EFAULT", "bogus", "'", '"', "=",
                "1Q", "0xfffe0000", "16E"]


@settings(max_examples=EXAMPLES * 5, deadline=None)
@given(st.lists(st.sampled_from(PROMPT_WORDS) | st.text(max_size=6), max_size=6))
def test_prompt_text_never_raises_anything_but_a_command_error(words):
    text = " ".join(words)
    symbols = {"reset_vector": 0xFFFFFFF0}.get
    for parse in (lambda t: parse_probe(t, ("ram", "rom"), symbols), lambda t: parse_edit(t, ("ram", "rom")),
                  lambda t: parse_goto(t, 10, symbols), lambda t: parse_breakpoint(t, symbols)):
        t = time.monotonic()
        try:
            parse(text)
        except CommandError:
            pass
        assert time.monotonic() - t < 1


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_every_seed_runs_cleanly_unmutated(name, tmp_path, capsys):
    path = ROOT / ("samples" if name.endswith(".yaml") else "tests/data/import") / name
    _run(["trace", str(path)], capsys)
