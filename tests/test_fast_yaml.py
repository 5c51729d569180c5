"""The fast YAML path (libyaml events, fastyaml.py) and the careful one (ruamel round trip) agree: the same
values, the same positions, the same scenario, the same one-line error, for every YAML file in the repo,
every bad-input fixture and the corners of YAML 1.2 a scenario could meet."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmtui.scenario import ScenarioError, parse_scenario
from kvmtui.scenario.fastyaml import CAREFUL_MESSAGE_BYTES, load_fast
from kvmtui.scenario.yamlsafe import load_yaml, read_text

ROOT = Path(__file__).resolve().parent.parent
YAML_FILES = sorted(p for p in ROOT.rglob("*.y*ml") if not any(part.startswith(".") for part in p.relative_to(ROOT).parts))


def _shape(node, path="$"):
    """Every node as (path, type, value, position): positions as ruamel's `lc` gives them."""
    out = []
    if isinstance(node, dict):
        out.append((path, "map", node.lc.line, node.lc.col))
        for k, v in node.items():
            out.append((f"{path}.{k!r}", "key", node.lc.key(k), node.lc.value(k)))
            out += _shape(v, f"{path}.{k!r}")
    elif isinstance(node, list):
        out.append((path, "seq", node.lc.line, node.lc.col))
        for i, v in enumerate(node):
            out.append((f"{path}[{i}]", "item", node.lc.item(i)))
            out += _shape(v, f"{path}[{i}]")
    else:
        base = next(t for t in (bool, int, float, str, type(None)) if isinstance(node, t)) if node is None or isinstance(
            node, (bool, int, float, str)) else type(node)
        out.append((path, base.__name__, repr(node)))
    return out


def _outcome(fn):
    try:
        return "ok", fn()
    except ScenarioError as e:
        return "error", str(e)


def _both(text: str, name: str = "t.yaml", base: Path | None = None):
    fast = _outcome(lambda: parse_scenario(text, name, base))
    careful = _outcome(lambda: parse_scenario(text, name, base, careful=True))
    return fast, careful


def test_the_repo_has_yaml_files_to_compare():
    names = {p.name for p in YAML_FILES}
    assert {"rom.yaml", "syntax.yaml", "duplicate_key.yaml", "alias_bomb.yaml"} <= names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_same_on_both_paths(path: Path):
    if path.is_dir():
        pytest.skip("a directory named like a YAML file (a fixture)")
    try:
        text = read_text(path)
    except ScenarioError as e:  # refused before either parser sees it (binary, empty, not UTF-8): shared code
        assert "binary" in str(e) or "empty" in str(e) or "UTF-8" in str(e)
        return
    fast, careful = _both(text, str(path), path.parent)
    assert fast == careful
    # below the scenario: the parsed values and every position agree too
    raw_fast, raw_careful = _outcome(lambda: _shape(load_fast(text, str(path)))), _outcome(lambda: _shape(load_yaml(text, str(path))))
    assert raw_fast == raw_careful


CORNERS = {
    "yaml11_words": "title: yes\ndescription: on\nsteps:\n  - read: 0\n    note: off\n",
    "base60": "title: 1:30\nsteps:\n  - read: 0\n",
    "numbers": "kvmtui: 1\nmmio_fill: 0o17\nsteps:\n  - read: 0x1F\n  - read: 1_000\n  - read: 017\n  - write: 0x10\n    value: +3\n",
    "floats": "kernel: 3.7\nsteps:\n  - read: 1e3\n  - read: .inf\n",
    "nulls": "description: ~\nsteps:\n  - read: 0\n    note: null\n  - read: 0\n    note:\n",
    "dates": "title: 2024-01-01\nsteps:\n  - read: 0\n",
    "quoted": "title: '0x10'\ndescription: \"yes\"\nsteps:\n  - read: '0x1000'\n",
    "blocks": "description: |\n  two\n  lines\ntitle: >\n  folded\n  text\nsteps:\n  - read: 0\n",
    "flow": "host: {ram: {size: 1M}}\nslots: [{slot: 0, gpa: 0, host: ram}]\nsteps: [{read: 0}, {write: 8, value: 1, expect: {outcome: ok}}]\n",
    "duplicate": "steps:\n  - read: 0\n    read: 4\n",
    "duplicate_top": "title: a\nsteps:\n  - read: 0\ntitle: b\n",
    "duplicate_then_tag": "title: a\ntitle: b\nsteps:\n  - read: !!int 3\n",
    "duplicate_then_syntax": "title: a\ntitle: b\nsteps: [\n",
    "duplicate_mapping_value": "host:\n  ram: {size: 1M}\n  ram: {size: 2M}\nsteps:\n  - read: 0\n",
    "tag": "steps:\n  - read: !!python/object/apply:os.system [\"true\"]\n",
    "local_tag": "steps: !foo\n  - read: 0\n",
    "nonspecific_tag": "steps:\n  - read: ! 0\n",
    "syntax": "steps:\n  - read: [0x1000\n",
    "bad_indent": "steps:\n  - read: 0\n   size: 4\n",
    "tab": "steps:\n\t- read: 0\n",
    "undefined_alias": "steps: *nothing\n",
    "anchors": "host:\n  ram: &r {size: 1M}\n  rom: *r\nsteps:\n  - read: 0\n",
    "merge": "base: &b {size: 1M}\nhost:\n  ram:\n    <<: *b\n    prot: rw\nsteps:\n  - read: 0\n",
    "complex_key": "? [a, b]\n: 1\nsteps:\n  - read: 0\n",
    "two_documents": "steps:\n  - read: 0\n---\nsteps:\n  - read: 4\n",
    "scalar_document": "just text\n",
    "list_document": "- read: 0\n",
    "era_keys": "steps:\n  - write: 0\n    value: 1\n    expect: {3.6: efault, 3.7: ok, modern: ok}\n",
    "unicode": "title: \"caf\u00e9 \u2192 \u2603\"\nsteps:\n  - read: 0\n    note: \u00fcber\n",
    "bool_value": "steps:\n  - read: true\n",
    "nel_ls_ps": "title: \"a\u2028b\x85c\u2029d\"\n# e\u2028# f\ndescription: g\u2028 h\nsteps:\n  - read: 0\n",
    "lone_cr": "title: a\r# c\rsteps:\n  - read: 0\n",
    "int_key": "steps:\n  - read: 0\n    1: x\n",
}


@pytest.mark.parametrize("name", sorted(CORNERS))
def test_corners_same_on_both_paths(name: str):
    text = CORNERS[name]
    fast, careful = _both(text)
    assert fast == careful
    if fast[0] == "ok":
        assert _shape(load_fast(text, "t.yaml")) == _shape(load_yaml(text, "t.yaml"))


def test_yaml11_words_stay_text():
    sc = parse_scenario(CORNERS["yaml11_words"], "t.yaml")
    assert (sc.title, sc.description, sc.steps[0].note) == ("yes", "on", "off")


def test_refusals_are_one_line_with_positions():
    for name, where, what in (("duplicate", ":3:5:", 'duplicate key "read"'), ("tag", ":2:11:", "YAML tag"),
                              ("syntax", ":3:1:", "YAML syntax error"), ("duplicate_then_tag", ":4:11:", "YAML tag")):
        kind, msg = _both(CORNERS[name])[0]
        assert kind == "error" and where in msg and what in msg and "\n" not in msg, (name, msg)


def test_a_big_file_with_a_syntax_error_is_reported_by_libyaml_quickly():
    """Beyond CAREFUL_MESSAGE_BYTES the careful parser is not consulted: the message is libyaml's, same form."""
    body = "".join(f"  - read: {i * 4096:#x}\n" for i in range(CAREFUL_MESSAGE_BYTES // 16))
    text = "steps:\n" + body + "  - read: [0x1000\n"
    kind, msg = _outcome(lambda: parse_scenario(text, "big.yaml"))
    line = text.count("\n") + 1
    assert kind == "error" and msg.startswith(f"big.yaml:{line}:") and "YAML syntax error" in msg


def test_nesting_too_deep_is_refused_without_a_crash():
    text = "steps: " + "[" * 5000 + "]" * 5000 + "\n"
    kind, msg = _outcome(lambda: parse_scenario(text, "deep.yaml"))
    assert kind == "error" and "nested too deeply" in msg


# -- runs of plain list items read by regex (fastitems) -------------------------------------------------------
# parse_scenario reads long runs of plain access steps and slots: entries without the YAML parser. Here the
# run threshold is 1, so every generated text takes that route where it can; each outcome (scenario or
# one-line error) must be the one of the libyaml path without it (items=False) and of the careful path.

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kvmtui.scenario import fastitems, loader  # noqa: E402


@pytest.fixture
def every_run(monkeypatch):
    monkeypatch.setattr(fastitems, "MIN_RUN_ITEMS", 1)
    monkeypatch.setattr(fastitems, "MIN_RUN_LEN", 1)


def _three(text: str, name: str = "t.yaml"):
    fast = _outcome(lambda: parse_scenario(text, name))
    plain = _outcome(lambda: parse_scenario(text, name, items=False))
    careful = _outcome(lambda: parse_scenario(text, name, careful=True))
    return fast, plain, careful


HEADER = "host:\n  ram: {size: 1M}\n  rom: {size: 64K, prot: r}\n"
U64 = (1 << 64) - 1
numbers = st.one_of(st.integers(0, 16), st.integers(0, 1 << 32), st.integers(0, 1 << 32), st.sampled_from([255, 256, 1023, 1024, 4096, 0xFFFFF, 1 << 32, U64 - 7, U64, U64 + 1]),
                    st.integers(0, 1 << 70))
spellings = st.sampled_from(["hex", "hex", "hex", "hex", "dec", "dec", "dec", "HEX", "lead0", "quoted", "size", "under", "neg", "float", "word"])


def spell(n: int, how: str) -> str:
    return {"hex": f"{n:#x}", "dec": str(n), "HEX": f"0X{n:X}", "lead0": f"0{n}", "quoted": f'"{n:#x}"',
            "size": f"{n >> 10}K" if n and not n % 1024 else str(n), "under": f"{n:_}", "neg": f"-{n}",
            "float": f"{n}.0", "word": "true"}[how]


@st.composite
def access_item(draw, ind: str) -> str:
    op = draw(st.sampled_from(["read", "read", "write", "write", "fetch"]))
    lines = [f"{op}: {spell(draw(numbers), draw(spellings))}"]
    keys = draw(st.lists(st.sampled_from(["size", "value", "vcpu", "expect", "note", "size", "value"]), max_size=4))
    if draw(st.booleans()):
        keys = [k for k in ("size", "value", "vcpu", "expect") if k in keys]  # the usual order, mostly
    for k in keys:
        if k == "size":
            v = spell(draw(st.sampled_from([0, 1, 2, 3, 4, 8, 15, 16])), draw(st.sampled_from(["dec", "dec", "hex", "quoted"])))
        elif k == "vcpu":
            v = spell(draw(st.sampled_from([0, 1, 1023, 1024])), draw(st.sampled_from(["dec", "hex"])))
        elif k == "expect":
            v = draw(st.sampled_from(["ok", "mmio", "efault", "oops", "null", "{outcome: ok}"]))
        elif k == "note":
            v = draw(st.sampled_from(["a note", "'quoted'", "x # comment", '"dq: text # not a comment"', "x, y (z) 1.5",
                                      "true", "123", "null", "'it''s'", '"esc \\" q"', "a: b"]))
        else:
            v = spell(draw(numbers), draw(spellings))
        lines.append(f"{k}: {v}")
    trail = draw(st.sampled_from(["", "", "", " ", "  # c"]))
    if draw(st.integers(0, 3)) == 0:
        return f"{ind}- {{{', '.join(lines)}}}{trail}\n"
    return f"{ind}- {lines[0]}{trail}\n" + "".join(f"{ind}  {ln}\n" for ln in lines[1:])


@st.composite
def valid_access_item(draw, ind: str) -> str:
    """A step the loader accepts, in the shapes a generator writes (most often read by regex)."""
    op = draw(st.sampled_from(["read", "write", "fetch"]))
    size = draw(st.sampled_from([1, 2, 4, 8] if op != "fetch" else [1, 3, 15]))
    lines = [f"{op}: {spell(draw(st.integers(0, 1 << 40)), draw(st.sampled_from(['hex', 'dec', 'size'])))}"]
    if draw(st.booleans()) or op == "write":
        lines.append(f"size: {size}")
    if op == "write":
        lines.append(f"value: {spell(draw(st.integers(0, (1 << 8 * size) - 1)), draw(st.sampled_from(['hex', 'dec'])))}")
    if draw(st.booleans()):
        lines.append(f"vcpu: {draw(st.integers(0, 1023))}")
    if draw(st.booleans()):
        lines.append(f"expect: {draw(st.sampled_from(['ok', 'mmio', 'efault', 'internal_error']))}")
    if draw(st.integers(0, 3)) == 0:  # flow style: `- {read: 0x10, size: 4}`
        return f"{ind}- {{{', '.join(lines)}}}\n"
    return f"{ind}- {lines[0]}\n" + "".join(f"{ind}  {ln}\n" for ln in lines[1:])


@st.composite
def slot_item(draw, ind: str, n: int) -> str:
    host = draw(st.sampled_from(["ram", "ram", "ram+0x1000", "rom", "nope", "true", "ram+0x1000", "ram+4K", "ram+0x100000", "ram+x"]))
    lines = [f"slot: {spell(draw(st.sampled_from([n, n, 0, 1 << 32])), draw(st.sampled_from(['dec', 'dec', 'hex', 'lead0'])))}",
             f"gpa: {spell(draw(numbers), draw(st.sampled_from(['hex', 'hex', 'dec', 'quoted', 'size'])))}", f"host: {host}"]
    if draw(st.booleans()):
        lines.append(f"size: {draw(st.sampled_from(['4K', '64K', '0x1000', '4096', '1M', '0', '0x10000000000000000']))}")
    if draw(st.booleans()):
        lines.append(f"flags: {draw(st.sampled_from(['[readonly]', '[log_dirty_pages]', '[readonly, log_dirty_pages]', '[bogus]', '2', '[]']))}")
    if draw(st.integers(0, 3)) == 0:  # what a general item may also carry (general_items.general_item)
        lines.append(draw(st.sampled_from(['note: "slot note"', "note: plain words", "note: 12", "expect: ok", "expect: EEXIST",
                                           "expect: mmio", "expect: null", "question: q", 'host: "ram+0x2000"'])))
    if draw(st.integers(0, 5)) == 0:
        lines = draw(st.permutations(lines))
    if draw(st.integers(0, 3)) == 0:
        return f"{ind}- {{{', '.join(lines)}}}\n"
    return f"{ind}- {lines[0]}\n" + "".join(f"{ind}  {ln}\n" for ln in lines[1:])


NOTES = ['"log:1: `kvm_set_user_memory Slot#0 ret=0`"', '"caf\\u00e9 \\"q\\""', "plain words", '""', '" spaced "', "'single'"]


@st.composite
def region_item(draw, ind: str) -> str:
    """A set_memory_region step as `kvmtui import` writes them, now and then not quite."""
    host = draw(st.sampled_from(['"ram"', '"ram+0x1000"', '"rom+4K"', '"nope"', '"null"', "ram", '"ram+x"', '"ram+0x100000000"']))
    flags = draw(st.sampled_from(["[]", "[]", "[KVM_MEM_READONLY]", "[KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY]", "[bogus]", "0x2", "[ ]"]))
    size = draw(st.sampled_from(["0x1000", "0x200000", "0", "4K", "0x10000000000000000"]))
    slot = draw(st.sampled_from(["0", "1", "0x10001", "4294967296", "01"]))
    text = f"{ind}- set_memory_region: {{slot: {slot}, gpa: {spell(draw(numbers), 'hex')}, host: {host}, size: {size}, flags: {flags}}}\n"
    if draw(st.booleans()):
        note = draw(st.sampled_from(NOTES))
        text += f"{ind}  note: {note}\n"
    if draw(st.booleans()):
        text += f"{ind}  expect: {draw(st.sampled_from(['ok', 'EINVAL', 'EEXIST', 'unsupported', 'efault', 'null', '{outcome: ok}']))}\n"
    return text


gaps = st.sampled_from(["", "", "", "", "\n", "  # between\n", "# at column 0\n"])


@st.composite
def scenario_text(draw) -> str:
    ind = draw(st.sampled_from(["  ", "  ", "", "    "]))
    text = HEADER
    if draw(st.booleans()):
        text += "slots:\n" + "".join(draw(slot_item(ind, i)) + draw(gaps) for i in range(draw(st.integers(1, 4))))
    items = st.one_of(valid_access_item(ind), valid_access_item(ind), valid_access_item(ind), access_item(ind), region_item(ind))
    text += "steps:\n" + "".join(draw(items) + draw(gaps) for _ in range(draw(st.integers(1, 5))))
    tail = draw(st.sampled_from(["", "", "title: after\n", "steps: []\n", "  - note: x\n    read: 0\n", "    deeper: 1\n"]))
    text += tail
    if draw(st.integers(0, 5)) == 0:  # CRLF line ends (fastitems reads them as "\n")
        text = text.replace("\n", "\r\n")
    return text


@settings(deadline=None, max_examples=max(50, settings.default.max_examples // 2))  # the careful path is ruamel: slow
@given(scenario_text())
def test_generated_steps_and_slots_same_on_every_path(text):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fastitems, "MIN_RUN_ITEMS", 1)
        mp.setattr(fastitems, "MIN_RUN_LEN", 1)
        fast, plain, careful = _three(text)
    assert fast == plain == careful


@settings(deadline=None, max_examples=max(50, settings.default.max_examples // 2))
@given(scenario_text(), st.integers(1, 80))
def test_generated_steps_same_when_read_a_few_bytes_at_a_time(text, stretch):
    """Runs of block access steps are read a stretch of text at a time (fastitems._rows): wherever a stretch
    ends (within an item, between items, at a note or a comment), the outcome is the YAML path's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fastitems, "MIN_RUN_ITEMS", 1)
        mp.setattr(fastitems, "MIN_RUN_LEN", 1)
        mp.setattr(fastitems, "FIRST_STRETCH", stretch)
        fast = _outcome(lambda: parse_scenario(text, "t.yaml"))
    assert fast == _outcome(lambda: parse_scenario(text, "t.yaml", items=False))


def _mmio(n: int) -> str:
    return "".join(f"  - read: {i:#x}\n" for i in range(n))


PLACEMENTS = {
    # a run's text where it is not a list item of steps: or slots: must not be read as one
    "in_literal_block": "description: |\n" + "".join(f"  - read: {i:#x}\n" for i in range(3)) + "steps:\n  - read: 0\n",
    "in_folded_block": "description: >\n  - read: 0\n  - read: 4\nsteps:\n  - read: 0\n",
    "in_quoted": 'description: "x\n  - read: 0\n  - read: 4\n  "\nsteps:\n  - read: 0\n',
    "in_single_quoted": "description: 'x\n  - read: 0\n  '\nsteps:\n  - read: 0\n",
    "under_mmio": "mmio:\n" + _mmio(3) + "steps:\n  - read: 0\n",
    "under_unknown_key": "stepz:\n  - read: 0\nsteps:\n  - read: 0\n",
    "nested_list": "steps:\n  - - read: 0\n    - read: 4\n",
    "aliased_steps": "steps: &s\n  - read: 0\n  - read: 4\nother: *s\n",
    "alias_elsewhere": "title: &t x\ndescription: *t\nsteps:\n  - read: 0\n",
    "two_steps_keys": "steps:\n  - read: 0\nsteps:\n  - read: 4\n",
    "list_document": "- read: 0\n- read: 4\n",
    "continued_plain": "steps:\n  - read: 0x10\n      0x20\n",
    "continued_after_blank": "steps:\n  - read: 0x10\n\n      0x20\n",
    "continued_after_comment": "steps:\n  - read: 0\n    # c\n    size: 8\n",
    "deeper_key": "steps:\n  - read: 0\n    size: 4\n      value: 1\n",
    "tab_after": "steps:\n  - read: 0\n\tsize: 4\n",
    "crlf": "steps:\r\n  - read: 0\r\n    size: 4\r\n",
    "no_final_newline": "steps:\n  - read: 0\n  - read: 4",
    "trailing_spaces_at_end": "steps:\n  - read: 0\n  ",
    "placeholder_text": f"title: {fastitems.PLACEHOLDER}\nsteps:\n  - read: 0\n",
    "placeholder_key": f"steps:\n  - {fastitems.PLACEHOLDER}: 0\n  - read: 0\n",
    "flow_then_block": "steps: [{read: 0}]\n  - read: 4\n",
    "mixed_ops": "steps:\n  - read: 0\n  - set_memory_region: {slot: 0, gpa: 0, host: ram}\n  - write: 8\n    value: 1\n"
                 "  - delete_slot: 0\n  - fetch: 0\n",
    "indent_changes": "steps:\n  - read: 0\n   - read: 4\n",
    "same_indent_as_key": "steps:\n- read: 0\n  size: 8\n- write: 0\n  value: 1\ntitle: t\n",
    "duplicate_in_item": "steps:\n  - read: 0\n    size: 4\n    size: 8\n",
    "slots_in_steps": "steps:\n  - slot: 0\n    gpa: 0\n    host: ram\n",
    "steps_in_slots": "slots:\n  - read: 0\nsteps:\n  - read: 0\n",
    "slot_unknown_host": "slots:\n  - slot: 0\n    gpa: 0\n    host: nope\n",
    "slot_host_word": "host:\n  'null': {size: 1M}\nslots:\n  - slot: 0\n    gpa: 0\n    host: null\n",
    "slot_quoted_word_host": "host:\n  'true': {size: 1M}\nslots:\n  - slot: 0\n    gpa: 0\n    host: true+0x1000\n",
    "slots_twice": "slots:\n  - slot: 0\n    gpa: 0\n    host: ram\nslots:\n  - slot: 1\n    gpa: 0x1000\n    host: ram\n",
    "gmem_before_slots": "guest_memfd:\n  g: {size: 1M}\nslots:\n  - slot: 0\n    gpa: 0\n    host: ram\n",
    "old_kernel": "kernel: 3.6\nslots:\n  - slot: 0\n    gpa: 0\n    host: ram\n    flags: [readonly]\nsteps:\n  - fetch: 0\n    size: 15\n",
    "region_kernel_36": "kernel: 3.6\nsteps:\n  - set_memory_region: {slot: 0, gpa: 0x0, host: \"ram\", size: 0x1000, flags: []}\n"
                        "    note: \"n\"\n    expect: ok\n",
    "region_then_access": "steps:\n  - set_memory_region: {slot: 0, gpa: 0x0, host: \"ram+0x1000\", size: 0x1000, flags: []}\n"
                          "    expect: EINVAL\n  - read: 0x10\n  - delete_slot: 0\n",
    "region_note_then_more": "steps:\n  - set_memory_region: {slot: 0, gpa: 0x0, host: \"ram\", size: 0x1000, flags: []}\n"
                             "    note: \"n\"\n    expect: ok\n    question: why?\n",
    "flow_items_spaced": "steps:\n  - { read: 0 }\n  - {read: 0,size: 4}\n  - {read: 0}  \n  - {read: 0}\n    size: 4\n",
    "flow_then_deeper": "steps:\n  - {read: 0}\n      more\n",
    "flow_slot_then_block": "slots:\n  - {slot: 0, gpa: 0, host: ram}\n  - slot: 1\n    gpa: 0x100000\n    host: rom\n",
    "nel_ls_ps_before": "title: \"a\u2028b\"\n# c\x85# d\ndescription: e\u2029 f\nsteps:\n  - read: 0\n  - read: 4\n",
    "lone_cr_before": "title: a\r# c\rsteps:\n  - read: 0\n  - read: 4\n",
    "merge_key_before": "base: &b {size: 1M}\nhost:\n  ram:\n    <<: *b\nsteps:\n  - read: 0\n  - read: 4\n",
    "merge_key_valid": "host:\n  ram: {<<: {size: 1M}}\nsteps:\n  - read: 0\n  - read: 4\n",
    "bad_header": "title: [unclosed\nsteps:\n  - read: 0\n",
    # general items (keys in any order, notes, comments after values) and CRLF line ends
    "general_items": "steps:\n  - size: 8  # c\n    write: 0x10\n    note: \"w: #1\"\n    value: 3\n    expect: ok\n"
                     "  - {note: 'r', read: 16, expect: mmio}\n  - read: \"0x20\"\n    note: x, y (z)\n",
    "note_after_expect": "steps:\n  - read: 0\n    expect: ok\n    note: 12\n  - read: 4\n    expect: ok\n    note: a b, c\n"
                         "  - read: 8\n    note: \"q: x\"\n  - read: 8\n    expect: ok\n    note: null\n  - read: 8\n    note: 1e3\n",
    "general_duplicate": "steps:\n  - size: 8\n    write: 0x10\n    size: 4\n    value: 3\n",
    "general_two_ops": "steps:\n  - note: n\n    read: 0\n    write: 8\n",
    "general_deeper": "steps:\n  - note: n\n    read: 0\n      more\n",
    "general_slot": "slots:\n  - host: \"ram+0x1000\"  # c\n    slot: 0\n    gpa: \"4K\"\n    note: 'first'\n    expect: ok\n"
                    "  - {slot: 1, gpa: 0x100000, host: rom, expect: EEXIST, note: n}\nsteps:\n  - read: 4K\n",
    "crlf_block_scalar": "description: |\r\n  two\r\n  lines\r\ntitle: \"a\r\n  b\"\r\nsteps:\r\n  - read: 0\r\n    note: n\r\n  - read: 4\r\n",
    "crlf_and_lone_cr": "steps:\r\n  - read: 0\r  - read: 4\r\n",
    "tag_in_header": "title: !!str x\nsteps:\n  - read: 0\n",
}


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_placements_same_on_every_path(every_run, name):
    text = PLACEMENTS[name]
    if "host:" not in text.split("\n", 1)[0] and not text.startswith("host:"):
        text = HEADER + text if not text.startswith("- ") else text
    fast, plain, careful = _three(text)
    assert fast == plain == careful


def test_plain_items_take_the_regex_route(monkeypatch):
    """The speed is real: a long run of plain steps and slots is not handed to libyaml (only its placeholder is)."""
    texts: list[str] = []
    real = loader.load_fast
    monkeypatch.setattr(loader, "load_fast", lambda text, name, **kw: texts.append(text) or real(text, name, **kw))
    body = "".join(f"  - slot: {i}\n    gpa: {i * 4096:#x}\n    host: ram+{i * 4096:#x}\n    size: 4K\n" for i in range(200))
    body = "slots:\n" + body + "steps:\n" + "".join(f"  - write: {i * 8:#x}\n    size: 8\n    value: {i}\n" for i in range(500))
    text = "host:\n  ram: {size: 1M}\n" + body
    sc = parse_scenario(text, "t.yaml")
    assert len(texts) == 1 and texts[0].count(fastitems.PLACEHOLDER) == 2 and "write" not in texts[0]
    assert texts[0].count("\n") == text.count("\n")  # every other line keeps its number
    assert (len(sc.setup), len(sc.steps)) == (200, 500)
    assert sc == parse_scenario(text, "t.yaml", items=False)
    assert (sc.steps[-1].pos.line, sc.steps[-1].pos.col) == (text.count("\n") - 2, 5)


def test_a_star_that_is_no_alias_keeps_the_regex_route(monkeypatch):
    """Only a real alias in the rest of the text sends the file the libyaml way (alias bombs count nodes)."""
    texts: list[str] = []
    real = loader.load_fast
    monkeypatch.setattr(loader, "load_fast", lambda text, name, **kw: texts.append(text) or real(text, name, **kw))
    steps = "".join(f"  - read: {i * 4096:#x}\n" for i in range(100))
    sc = parse_scenario('title: "a*b"\nsteps:\n' + steps, "t.yaml")
    assert sc.title == "a*b" and len(texts) == 1 and fastitems.PLACEHOLDER in texts[0]
    texts.clear()
    sc2 = parse_scenario("title: &t x\ndescription: *t\nsteps:\n" + steps, "t.yaml")
    assert sc2.description == "x" and len(texts) == 2 and fastitems.PLACEHOLDER not in texts[1]


def test_an_error_in_a_long_run_is_the_ordinary_message():
    steps = "".join(f"  - read: {i * 4096:#x}\n" for i in range(300))
    text = "host:\n  ram: {size: 1M}\nsteps:\n" + steps + "  - write: 0x10\n    size: 2\n    value: 0x10000\n" + steps
    fast, plain = _outcome(lambda: parse_scenario(text, "t.yaml")), _outcome(lambda: parse_scenario(text, "t.yaml", items=False))
    assert fast == plain and fast[0] == "error" and ":306:12: value 0x10000 does not fit in 2 bytes" in fast[1]


@pytest.mark.parametrize("path", [p for p in YAML_FILES if p.is_file()], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_same_with_every_run_read_by_regex(every_run, path: Path):
    try:
        text = read_text(path)
    except ScenarioError:
        return  # refused before either reading (binary, empty, not UTF-8): test_every_yaml_file_same_on_both_paths
    fast = _outcome(lambda: parse_scenario(text, str(path), path.parent))
    plain = _outcome(lambda: parse_scenario(text, str(path), path.parent, items=False))
    assert fast == plain


@pytest.mark.parametrize("text", ["", " \n\t\n", "# only\n  # comments\n", "\n\n  # c\nsteps: []\n", "  steps: []", "\ufeffsteps: []\n",
                                  "#c\n\x0c\nread: 0\n", "\x85# c\n", "\u2028x\n"])
def test_the_empty_check_reads_as_before(tmp_path, text):
    """read_text answers "empty" exactly when no line holds anything but a comment (its shortcut included)."""
    p = tmp_path / "s.yaml"
    p.write_text(text, encoding="utf-8")
    empty = not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines())
    got = _outcome(lambda: read_text(p))
    assert (got[0] == "error" and "empty scenario" in got[1]) == empty


def test_general_items_take_the_regex_route(monkeypatch):
    """Steps and slots with notes, expectations, keys in another order, comments after values, quoted values,
    flow mappings and CRLF line ends are read by regex too (general_items.general_item), not handed to libyaml."""
    texts: list[str] = []
    real = loader.load_fast
    monkeypatch.setattr(loader, "load_fast", lambda text, name, **kw: texts.append(text) or real(text, name, **kw))
    slots = "".join(f"  - host: \"ram+{i * 4096:#x}\"  # bank {i}\n    slot: {i}\n    gpa: {i * 4096}\n    size: 4K\n"
                    f"    note: 'slot {i}'\n    expect: ok\n" for i in range(100))
    steps = "".join(f"  - size: 8\n    write: {i * 8:#x}  # why\n    value: {i}\n    note: \"write #{i}: x\"\n    expect: ok\n"
                    f"  - {{read: {i * 8}, note: plain words, expect: ok}}\n" for i in range(100))
    text = "host:\n  ram: {size: 1M}\nslots:\n" + slots + "steps:\n" + steps
    for t in (text, text.replace("\n", "\r\n")):
        texts.clear()
        sc = parse_scenario(t, "t.yaml")
        assert len(texts) == 1 and texts[0].count(fastitems.PLACEHOLDER) == 2 and "note" not in texts[0]
        assert (len(sc.setup), len(sc.steps)) == (100, 200)
        assert sc.steps[0].note == "write #0: x" and sc.steps[1].note == "plain words" and sc.setup[3].note == "slot 3"
        assert sc == parse_scenario(t, "t.yaml", items=False) == parse_scenario(t, "t.yaml", careful=True)


def test_short_runs_between_other_steps_take_the_regex_route(monkeypatch):
    """Accesses between steps fastitems does not read (host ops, dirty logs, deletes) form short runs; a file
    of them is not handed to libyaml whole, and reads as on the other routes."""
    texts: list[str] = []
    real = loader.load_fast
    monkeypatch.setattr(loader, "load_fast", lambda text, name, **kw: texts.append(text) or real(text, name, **kw))
    group = "".join(f"  - read: {i * 4096:#x}\n" for i in range(5)) + "  - get_dirty_log: 0\n" \
        + "  - madvise_dontneed: {host: \"ram+0x1000\", size: 4K}\n  - write: 0x10\n    value: 1\n    note: n\n"
    text = "host:\n  ram: {size: 1M}\nslots:\n  - slot: 0\n    gpa: 0\n    host: ram\n    flags: [log_dirty_pages]\nsteps:\n" + group * 40
    sc = parse_scenario(text, "t.yaml")
    assert len(texts) == 1 and texts[0].count(fastitems.PLACEHOLDER) == 40 and "read:" not in texts[0]
    assert len(sc.steps) == 40 * 8
    assert sc == parse_scenario(text, "t.yaml", items=False) == parse_scenario(text, "t.yaml", careful=True)
