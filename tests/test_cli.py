"""The ember-tf command line: the real console script, as a user runs it."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
GATHER = ROOT / "kernels" / "gather.dasm"
EMBER_TF = pathlib.Path(sys.executable).parent / "ember-tf"


def ember_tf(*args, cwd=None):
    return subprocess.run([str(EMBER_TF), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def test_asm_inspect_disasm_round_trip(tmp_path):
    out = tmp_path / "gather.daebin"
    result = ember_tf("asm", GATHER, out)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout

    summary = ember_tf("inspect", out)
    assert summary.returncode == 0, summary.stderr
    assert "gather_rows v1" in summary.stdout and "table" in summary.stdout

    listing = ember_tf("inspect", "--disasm", out)
    assert "str.mem s3, tu=t1, slot=table, index=s1, col=s2" in listing.stdout

    info = json.loads(ember_tf("inspect", "--json", out).stdout)
    assert info["kernels"][0]["name"] == "gather_rows"
    assert info["tensors"][1]["shape"] == [3, 20]
    assert info["signatures"]["serving_default"]["outputs"] == {"out": 2}

    text = tmp_path / "again.dasm"
    assert ember_tf("disasm", out, text).returncode == 0
    again = tmp_path / "again.daebin"
    assert ember_tf("asm", text, again).returncode == 0
    assert again.read_bytes() == out.read_bytes()


def test_demo_runs_checks_and_reports(tmp_path):
    result = ember_tf("demo", "--output_dir", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("re-assembles to the same bytes: yes") == 2
    assert result.stdout.count("equals numpy: yes") == 2 + 5       # 2 hand-written, O0..O3 + all cores compiled
    assert "faster than the same core without an access unit" in result.stdout
    assert "[compiler] O3 " in result.stdout and "of hand-written" in result.stdout
    assert (tmp_path / "out" / "demo_tmu.daebin").exists()
    assert (tmp_path / "out" / "demo_compiled_O3.daebin").exists()
    # part 1: the TensorFlow model converted, emulated on both machines, equal to TensorFlow
    assert result.stdout.count("equals TensorFlow: yes") == 3        # tmu, cpu, gpu
    assert "offloaded SparseSegment x2, reduce over gather x2, ResourceGather x4" in result.stdout
    assert "tmu vs cpu, 8 and 8 cores, the same memory: embedding kernels" in result.stdout
    assert "[tmu] batch 512 on 8 cores" in result.stdout and "[cpu] batch 512 on 8 cores" in result.stdout
    assert "[gpu] batch 512 on 132 SMs" in result.stdout and "tmu vs gpu (an H100-class GPU" in result.stdout
    assert result.stderr == ""
    assert all((tmp_path / "out" / f"dlrm_{m}.daebin").exists() for m in ("tmu", "cpu", "gpu"))


def _assert_one_line_error(result, *needles):
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in lines[0]


def test_asm_syntax_error_names_line_and_column(tmp_path):
    source = tmp_path / "bad.dasm"
    source.write_text(GATHER.read_text().replace("cb.pop x1", "cb.pop x77"))
    out = tmp_path / "bad.daebin"
    result = ember_tf("asm", source, out)
    _assert_one_line_error(result, f"{source}:", "x77")
    assert not out.exists()


@pytest.mark.parametrize("args, needle", [
    (("inspect", "missing.daebin"), "missing.daebin: cannot read"),
    (("asm", "missing.dasm", "x.daebin"), "missing.dasm: cannot read"),
    (("disasm", "missing.daebin"), "missing.daebin"),
])
def test_missing_files(tmp_path, args, needle):
    _assert_one_line_error(ember_tf(*args, cwd=tmp_path), needle)


def test_unknown_subcommand_is_a_usage_error():
    result = ember_tf("frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_compile_then_run(tmp_path):
    """`ember-tf compile` with the compiler's flags, then `ember-tf run` on the result."""
    model = tmp_path / "eb.daebin"
    result = ember_tf("compile", "embedding_bag", model, "--dim=20", "--combiner=mean", "--weighted",
                      "--opt_level=2", "--print_ir_after=bufferize", "--disable_pass=vectorize")
    assert result.returncode == 0, result.stderr
    assert "IR Dump After bufferize" in result.stderr and "wrote" in result.stdout
    rng = np.random.default_rng(0)
    table = rng.standard_normal((30, 20)).astype(np.float32)
    feeds = {"table": table, "indices": np.array([1, 2, 3, 4], np.int32),
             "weights": np.array([0.5, 1.0, 2.0, 1.0], np.float32), "offsets": np.array([0, 3, 3, 4], np.int32)}
    np.savez(tmp_path / "in.npz", **feeds)
    run = ember_tf("run", model, f"--inputs={tmp_path / 'in.npz'}", f"--outputs={tmp_path / 'out.npz'}")
    assert run.returncode == 0, run.stderr
    out = np.load(tmp_path / "out.npz")["out"]
    w = feeds["weights"]
    np.testing.assert_allclose(out[0], (table[1:4] * w[:3, None]).sum(0) / w[:3].sum(), rtol=1e-6)
    assert not out[1].any()


@pytest.mark.parametrize("flag, message", [
    ("--disable_pass=nope", "unknown pass 'nope'"),
    ("--disable_pass=decoupling", "cannot be disabled"),
    ("--opt_level=7", "opt_level must be 0, 1, 2 or 3"),
    ("--target=nowhere", "unknown machine 'nowhere'"),
    ("--segments=sorted", "--segments does not apply to gather"),
    ("--pooling=-1", "--pooling must not be negative"),
])
def test_compile_errors_are_one_line(tmp_path, flag, message):
    out = tmp_path / "g.daebin"
    result = ember_tf("compile", "gather", out, "--dim=8", flag)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_help_lists_what_each_subcommand_takes_with_defaults():
    convert = ember_tf("convert", "--help").stdout
    for needle in ("--opt_level", "(default: 3)", "--print_ir_after", "--disable_pass", "--target",
                   "(default: tmu)", "gpu"):
        assert needle in convert, needle
    run = ember_tf("run", "--help").stdout
    for needle in ("--machine", "(default: tmu)", "--mode", "(default: fast)", "--cores", "--mlp",
                   "statistics only"):
        assert needle in run, needle


def test_run_for_statistics_only(tmp_path):
    model = tmp_path / "gather.daebin"
    assert ember_tf("asm", GATHER, model).returncode == 0
    np.savez(tmp_path / "in.npz", ids=np.array([0, 2, 1], np.int32))
    result = ember_tf("run", model, f"--inputs={tmp_path / 'in.npz'}", f"--stats_json={tmp_path / 's.json'}")
    assert result.returncode == 0, result.stderr
    assert "cycles" in result.stdout and "not written: no --outputs" in result.stdout
    assert json.loads((tmp_path / "s.json").read_text())["cycles"] > 0


def test_a_missing_output_directory_fails_before_the_work(tmp_path):
    model = tmp_path / "gather.daebin"
    assert ember_tf("asm", GATHER, model).returncode == 0
    np.savez(tmp_path / "in.npz", ids=np.array([0], np.int32))
    missing = tmp_path / "no" / "such" / "out.npz"
    result = ember_tf("run", model, f"--inputs={tmp_path / 'in.npz'}", f"--outputs={missing}")
    _assert_one_line_error(result, str(missing), "does not exist")
    result = ember_tf("convert", tmp_path / "absent_saved_model", tmp_path / "nowhere" / "m.daebin")
    _assert_one_line_error(result, "nowhere", "does not exist")     # before even reading the source


def test_a_kernel_for_another_machine_says_how_to_convert(tmp_path):
    model = tmp_path / "gather.daebin"
    assert ember_tf("asm", GATHER, model).returncode == 0
    np.savez(tmp_path / "in.npz", ids=np.array([0], np.int32))
    result = ember_tf("run", model, f"--inputs={tmp_path / 'in.npz'}", "--machine=cpu")
    _assert_one_line_error(result, "needs an access unit", "convert with --target=cpu", "--machine=tmu")


def _in_a_terminal(*args) -> tuple[int, str]:
    """`ember-tf ARGS` with stderr on a pseudo-terminal (read as it is written: a full pty
    would block the process); the exit code and what stderr showed."""
    import pty
    import threading

    main, child = pty.openpty()
    process = subprocess.Popen([str(EMBER_TF), *map(str, args)], stdout=subprocess.DEVNULL, stderr=child,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TERM": "xterm", "COLUMNS": "500"})
    os.close(child)
    shown = bytearray()

    def read():
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:     # the child closed its end
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    code = process.wait(timeout=300)
    reader.join(timeout=10)
    os.close(main)
    return code, shown.decode(errors="replace")


def test_a_person_at_a_terminal_sees_conversion_and_emulation_move(tmp_path):
    from tests.hlo_import.test_cli import LOOKUP

    (tmp_path / "m.hlo").write_text(LOOKUP)
    np.savez(tmp_path / "params.npz", p0=np.zeros((10, 4), np.float32))
    code, shown = _in_a_terminal("convert", tmp_path / "m.hlo", tmp_path / "m.daebin",
                                 f"--hlo_params={tmp_path / 'params.npz'}")
    assert code == 0 and f"converting {tmp_path / 'm.hlo'} ..." in shown, shown
    np.savez(tmp_path / "in.npz", p1=np.array([9, 0, 1], np.int32))
    code, shown = _in_a_terminal("run", tmp_path / "m.daebin", f"--inputs={tmp_path / 'in.npz'}")
    assert code == 0 and f"emulating {tmp_path / 'm.daebin'} on tmu" in shown, shown
    # not in a terminal (a log, CI): no spinner
    quiet = ember_tf("convert", tmp_path / "m.hlo", tmp_path / "n.daebin", f"--hlo_params={tmp_path / 'params.npz'}")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
