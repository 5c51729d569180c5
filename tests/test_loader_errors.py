"""Every class of bad scenario gives one line naming file, line and what is wrong; exit 2; no traceback."""

from pathlib import Path

import pytest

from kvmtui.cli import main
from kvmtui.scenario import ScenarioError, load_scenario, parse_scenario

BAD = Path(__file__).parent / "bad_scenarios"

EXPECTED = {
    "a_directory.yaml": (None, "is a directory"),
    "alias_bomb.yaml": (2, "alias bomb"),
    "bad_cap.yaml": (2, "did you mean 'KVM_CAP_READONLY_MEM'"),
    "bad_expect.yaml": (3, "not an access outcome"),
    "bad_expect_key.yaml": (3, "did you mean 'outcome'"),
    "bad_flag.yaml": (4, "did you mean 'readonly'"),
    "bad_hex.yaml": (2, "is not hex bytes"),
    "bad_kernel.yaml": (1, "kernel era '4.0' is not known"),
    "bad_number.yaml": (2, "'12Q' is not a number or size"),
    "bad_offset.yaml": (4, "offset 'zz'"),
    "bad_prot.yaml": (2, "did you mean 'rw'"),
    "bad_size.yaml": (3, "size 3 is not an access size"),
    "bad_unit.yaml": (2, "'1Q' is not a number or size"),
    "bad_version.yaml": (1, "format 2 is not supported"),
    "binary.yaml": (None, "binary file"),
    "comments_only.yaml": (None, "empty scenario"),
    "data_and_file.yaml": (2, "both `data:` and `file:`"),
    "data_too_big.yaml": (2, "do not fit"),
    "duplicate_key.yaml": (3, "duplicate key"),
    "empty.yaml": (None, "empty scenario"),
    "expect_not_applicable.yaml": (3, "does not apply to a get_dirty_log step"),
    "fetch_size.yaml": (3, "fetch size 16 is out of range"),
    "list_top.yaml": (1, "must be a mapping, not a list"),
    "missing_file.yaml": (2, "'no-such-image.bin' not found"),
    "mprotect_no_prot.yaml": (4, "mprotect needs `prot:`"),
    "negative.yaml": (2, "must not be negative"),
    "no_steps.yaml": (1, "nothing to run"),
    "not_mapping.yaml": (1, "must be a mapping"),
    "not_utf8.yaml": (3, "not UTF-8"),
    "slot_no_gpa.yaml": (4, "needs `gpa:`"),
    "syntax.yaml": (3, "YAML syntax error"),
    "tag.yaml": (2, "tag"),
    "too_big.yaml": (2, "out of range"),
    "two_ops.yaml": (3, "two operations"),
    "unaligned_hva.yaml": (2, "must be page aligned"),
    "unknown_host.yaml": (4, "did you mean 'ram'"),
    "unknown_step.yaml": (2, "did you mean 'read'"),
    "unknown_step_key.yaml": (3, "did you mean 'size'"),
    "unknown_top.yaml": (2, "did you mean 'steps'"),
    "value_too_big.yaml": (4, "does not fit in 1 byte"),
    "vcpu_range.yaml": (3, "vcpu 5000 is out of range (at most 1023)"),
    "wrong_type.yaml": (2, "must be a number or size like 4K, not a mapping"),
}


def test_every_bad_file_has_an_expectation():
    assert sorted(p.name for p in BAD.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_scenario_gives_one_line_and_exit_2(name, capsys):
    line, text = EXPECTED[name]
    path = BAD / name
    assert main(["trace", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    where = f"kvmtui: {path}:{line}:" if line else f"kvmtui: {path}: "
    assert err.startswith(where), err
    assert text in err


def test_bad_file_in_check_is_exit_2_and_others_still_run(capsys):
    assert main(["check", str(BAD / "bad_size.yaml"), "samples/rom.yaml"]) == 2
    out, err = capsys.readouterr()
    assert "ok   samples/rom.yaml" in out and "bad_size.yaml:3:11" in err


def test_missing_file():
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario("does/not/exist.yaml")


def test_yaml_floats_for_kernel_versions_are_read_as_eras():
    sc = parse_scenario("kernel: 3.7\nsteps:\n  - read: 0\n")
    assert sc.kernel == "3.7"


def test_sizes_units_and_host_offsets():
    sc = parse_scenario('host:\n  ram: {size: 2M}\nslots:\n  - {slot: 1, gpa: 1G, host: "ram+0x1000", size: 4K}\n')
    p = sc.setup[0].params
    assert (p["gpa"], p["size"], p["host"].offset, sc.host[0].size) == (1 << 30, 4096, 0x1000, 2 << 20)


def test_positions_are_kept_for_expectations():
    sc = parse_scenario("steps:\n  - read: 0\n    expect: {outcome: ok}\n")
    assert (sc.steps[0].pos.line, sc.steps[0].expect.pos.line) == (2, 3)


def test_notes_and_expectations_per_era_and_path_pick_the_most_specific():
    from kvmtui.scenario import parse_scenario

    text = """kvmtui: 1
host: {ram: {size: 8K}}
slots: [{slot: 0, gpa: 0, host: ram}]
steps:
  - read: 0x0
    note: {"3.6": old, emulated: emu, "3.6/emulated": old-emu}
    expect: {"3.6/emulated": mmio, native: {outcome: ok, spte: ro}}
"""
    step = parse_scenario(text).steps[0]
    assert step.note_for("3.6", "emulated") == "old-emu"
    assert step.note_for("3.6", "native") == "old"
    assert step.note_for("modern", "emulated") == "emu"
    assert step.note_for("modern", "native") is None
    assert step.expect.for_era("3.6", "emulated").outcome == "mmio"
    assert step.expect.for_era("modern", "native").spte == "ro"
    assert step.expect.for_era("modern", "emulated") is None


def test_a_note_keyed_by_something_else_is_refused_with_its_line():
    from kvmtui.scenario import ScenarioError, parse_scenario

    text = "kvmtui: 1\nhost: {ram: {size: 8K}}\nslots: [{slot: 0, gpa: 0, host: ram}]\nsteps:\n  - read: 0x0\n    note: {\"3.6\": a, \"4.0\": b}\n"
    with pytest.raises(ScenarioError) as e:
        parse_scenario(text)
    assert e.value.line == 6 and "4.0" in str(e.value)


def test_data_at_offsets_places_bytes_over_the_fill():
    from kvmtui.scenario import ScenarioError, parse_scenario

    sc = parse_scenario('kvmtui: 1\nhost: {rom: {size: 8K, fill: 0xff, data: {0x1ff0: "ea 5b", 0: "01"}}}\nslots: [{slot: 0, gpa: 0, host: rom}]\n')
    img = sc.host[0].image
    assert len(img) == 0x1ff2 and img[0] == 1 and img[1] == 0xFF and img[0x1FF0:] == b"\xea\x5b"
    with pytest.raises(ScenarioError) as e:
        parse_scenario('kvmtui: 1\nhost: {rom: {size: 8K, data: {0x1fff: "ea 5b"}}}\nslots: [{slot: 0, gpa: 0, host: rom}]\n')
    assert "ends past" in str(e.value)
