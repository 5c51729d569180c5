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
