"""The command line: exit codes, the JSON contract, piped output, and every sample passing check."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from kvmtui.cli import main

ROOT = Path(__file__).parent.parent
SAMPLES = sorted((ROOT / "samples").glob("*.yaml"))
SCHEMA = json.loads((Path(__file__).parent / "data" / "trace.schema.json").read_text())


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kvmtui", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "NO_COLOR": ""})


def test_samples_exist():
    assert {p.name for p in SAMPLES} >= {"rom.yaml", "before-after.yaml", "dirty-log.yaml", "layout-errors.yaml", "mmio.yaml", "flash.yaml"}


def test_every_sample_passes_check(capsys):
    assert main(["check", *map(str, SAMPLES)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok   ") == len(SAMPLES)


@pytest.mark.parametrize("era", ["3.6", "3.7", "modern"])
def test_before_after_passes_under_every_era(era):
    assert main(["check", "--kernel", era, str(ROOT / "samples/before-after.yaml"), str(ROOT / "samples/layout-errors.yaml")]) == 0


def test_unmet_expectation_is_exit_1_with_step_and_line(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0x1000\n    expect: mmio\n")
    assert main(["check", str(f)]) == 1
    out = capsys.readouterr().out
    assert f"{f}:7:13: step 2 (read): outcome: expected mmio, got ok" in out


def test_json_lines_follow_the_contract(capsys):
    assert main(["trace", str(ROOT / "samples/rom.yaml"), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(x) for x in lines]
    for r in records:
        jsonschema.validate(r, SCHEMA)
    assert [r["step"] for r in records] == list(range(1, len(records) + 1))
    assert [r["phase"] for r in records[:2]] == ["setup", "setup"]
    ro_write = next(r for r in records if r["op"] == "write" and r["gpa"] == 0xFFFE0000)
    assert ro_write["outcome"] == "mmio" and ro_write["expect_met"] is True
    assert ro_write["exits"] == [{"reason": "KVM_EXIT_MMIO", "phys_addr": 0xFFFE0000, "len": 1, "data": "5a", "is_write": True}]
    assert {"fn": "kvm_handle_error_pfn", "ret": "RET_PF_EMULATE"}.items() <= next(c for c in ro_write["chain"] if c["fn"] == "kvm_handle_error_pfn").items()
    assert ro_write["spte"] == [{"gfn": 0xFFFE0, "before": "ro", "after": "ro"}]


@pytest.mark.parametrize("sample", [p.name for p in SAMPLES])
@pytest.mark.parametrize("era", ["3.6", "3.7", "modern"])
def test_every_sample_in_every_era_validates_against_the_schema(sample, era, capsys):
    assert main(["trace", str(ROOT / "samples" / sample), "--json", "--kernel", era]) == 0
    for line in capsys.readouterr().out.splitlines():
        jsonschema.validate(json.loads(line), SCHEMA)


def test_piped_trace_is_plain_and_unwrapped():
    p = run("trace", "samples/rom.yaml")
    assert p.returncode == 0
    assert "\x1b[" not in p.stdout
    assert "KVM_EXIT_MMIO W 0xfffe0000/1 5a" in p.stdout
    row = next(line for line in p.stdout.splitlines() if "0xfffe0000/1" in line)
    assert "kvm_handle_error_pfn=RET_PF_EMULATE" in row  # one line per step, not wrapped


def test_emulated_path_option_changes_outcomes(capsys):
    main(["trace", str(ROOT / "samples/rom.yaml"), "--json", "--path", "emulated"])
    recs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert all(r["chain"][0]["fn"] == "x86_emulate_instruction" for r in recs if r["op"] in ("read", "write"))


@pytest.mark.parametrize("args,code", [
    (["--version"], 0), (["--help"], 0), (["trace", "--help"], 0), (["check", "--help"], 0),
    ([], 2), (["trace"], 2), (["trace", "samples/rom.yaml", "--kernel", "4.0"], 2), (["check"], 2),
])
def test_exit_codes_for_usage(args, code):
    assert main(args) == code


def test_version_and_help_in_a_subprocess():
    p = run("--version")
    assert p.returncode == 0 and p.stdout.startswith("kvmtui ")
    p = run("trace", "--help")
    assert p.returncode == 0 and "--json" in p.stdout


def test_the_app_command_reports_bad_input_before_starting(capsys):
    assert main([str(ROOT / "tests/bad_scenarios/bad_size.yaml")]) == 2
    assert "bad_size.yaml:3:11: size 3 is not an access size" in capsys.readouterr().err


def test_a_bundled_samples_name_works_where_no_such_file_exists(tmp_path, capsys):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["trace", "rom"]) == 0
        assert "A ROM just under 4 GiB" in capsys.readouterr().out
        assert main(["check", "rom", "before-after.yaml"]) == 0
        assert capsys.readouterr().out.count("ok   ") == 2
        assert main(["trace", "no-such-sample"]) == 2
        assert "no-such-sample" in capsys.readouterr().err
    finally:
        os.chdir(cwd)


def test_samples_lists_every_bundled_sample_with_its_title(capsys):
    assert main(["samples"]) == 0
    out = capsys.readouterr().out
    for p in SAMPLES:
        assert p.stem in out
    assert "A ROM just under 4 GiB, as a read-only memslot" in out
    assert main(["samples", "--paths"]) == 0
    assert {Path(line).name for line in capsys.readouterr().out.split()} >= {p.name for p in SAMPLES}


@pytest.mark.parametrize("args", [["trace", "samples/rom.yaml"], ["trace", "--json", "samples/rom.yaml"], ["check", "samples/rom.yaml"]])
def test_a_batch_command_delivers_its_whole_output_before_the_process_ends(args, capsys):
    """`python -m kvmtui trace` ends with os._exit after a batch command (cli.entry): every line it wrote must
    still reach the reader, as main() in this process writes them."""
    assert main(args) == 0
    expected = capsys.readouterr().out
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout block-buffered, as users have it
    r = subprocess.run([sys.executable, "-m", "kvmtui", *args], capture_output=True, cwd=ROOT, check=False, env={**env, "NO_COLOR": ""})
    assert r.returncode == 0 and r.stderr == b""
    assert r.stdout.decode() == expected and expected


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    """| head: the pipe closes while the trace is still being written; the command ends quietly with 0."""
    steps = "".join(f"  - read: {0x1000 * (i % 16):#x}\n" for i in range(20_000))
    f = tmp_path / "long.yaml"
    f.write_text("kvmtui: 1\ntitle: long\nhost:\n  ram: {size: 64K}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n" + steps)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    p = subprocess.Popen([sys.executable, "-m", "kvmtui", "trace", "--json", str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    assert p.stdout is not None and p.stderr is not None
    first = p.stdout.readline()
    p.stdout.close()  # the reader goes away with most of the trace unwritten
    err = p.stderr.read()
    assert p.wait(timeout=60) == 0
    assert json.loads(first)["step"] == 1
    assert err == b""
