"""The Interpreter API and `ember-tf run`: outputs equal numpy, bad inputs are
one-line errors naming the key, machine flags take effect."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.emulator import Interpreter, load_machine
from ember_tf.errors import EmulationError
from tests.emulator.programs import multi_table_gather

ROOT = pathlib.Path(__file__).resolve().parents[2]
EMBER_TF = pathlib.Path(sys.executable).parent / "ember-tf"
TABLE = np.arange(60, dtype=np.float32).reshape(3, 20)  # the constant in kernels/gather.dasm


@pytest.fixture(scope="module")
def gather_bytes():
    return dae_isa.serialize_model(dae_isa.assemble((ROOT / "kernels" / "gather.dasm").read_text()))


@pytest.fixture(scope="module")
def tables_bytes():
    return dae_isa.serialize_model(dae_isa.assemble(multi_table_gather(3)))


def test_gather_matches_numpy_bitwise(gather_bytes):
    interpreter = Interpreter(model_content=gather_bytes)
    ids = np.array([2, 0, 1, 2, 2, 0], dtype=np.int32)
    out = interpreter.get_signature_runner("serving_default")(ids=ids)["out"]
    assert out.dtype == np.float32 and np.array_equal(out, TABLE[ids])
    stats = interpreter.last_stats
    assert isinstance(stats.cycles, int) and stats.cycles > 0 and stats.dram_bytes > 0
    assert interpreter.get_signature_list() == {"serving_default": {"inputs": ["ids"], "outputs": ["out"]}}


def test_fast_mode_is_the_default_and_stats_say_which_ran(gather_bytes):
    ids = np.array([2, 0, 1], dtype=np.int32)
    stats = {}
    for mode in (None, "golden"):
        interpreter = Interpreter(model_content=gather_bytes, **({"mode": mode} if mode else {}))
        interpreter.get_signature_runner()(ids=ids)
        stats[mode] = interpreter.last_stats.to_json()
    assert stats[None]["mode"] == "fast" and stats["golden"]["mode"] == "golden"
    assert stats[None]["cycles"] == stats["golden"]["cycles"]


def test_empty_input_gives_empty_output(gather_bytes):
    out = Interpreter(model_content=gather_bytes).get_signature_runner()(ids=np.zeros(0, np.int32))["out"]
    assert out.shape == (0, 20)


def test_multi_table_kernel_on_several_cores(tables_bytes):
    rng = np.random.default_rng(0)
    inputs, expected = {}, {}
    for t in range(3):
        table = rng.standard_normal((40 + t, 16 + 5 * t)).astype(np.float32)
        ids = rng.integers(0, len(table), size=30 + t).astype(np.int32)
        inputs.update({f"table{t}": table, f"ids{t}": ids})
        expected[f"out{t}"] = table[ids]
    for cores in (1, 2, 3):
        interpreter = Interpreter(model_content=tables_bytes, cores=cores)
        outputs = interpreter.get_signature_runner()(**inputs)
        for name, want in expected.items():
            assert np.array_equal(outputs[name], want), (cores, name)
        assert len(interpreter.last_stats.kernels[0].cores) == cores


@pytest.mark.parametrize("inputs, message", [
    ({}, "input 'ids' is missing"),
    ({"ids": np.zeros(2, np.int32), "idz": np.zeros(2, np.int32)}, "input 'idz' is not an input"),
    ({"ids": np.zeros(2, np.int64)}, "input 'ids' has dtype int64"),
    ({"ids": np.zeros((2, 1), np.int32)}, "input 'ids' has shape [2, 1]"),
    ({"ids": np.array([0, 3], np.int32)}, "input 'ids': id 3 is out of range [0, 3)"),
    ({"ids": np.array([-1], np.int32)}, "input 'ids': id -1 is out of range"),
])
def test_bad_inputs_name_the_key(gather_bytes, inputs, message):
    runner = Interpreter(model_content=gather_bytes).get_signature_runner()
    with pytest.raises(EmulationError) as error:
        runner(**inputs)
    assert message in str(error.value)


def test_unknown_signature_and_machine(gather_bytes):
    with pytest.raises(EmulationError, match="no signature 'nope'"):
        Interpreter(model_content=gather_bytes).get_signature_runner("nope")
    with pytest.raises(EmulationError, match="unknown machine 'quantum'"):
        Interpreter(model_content=gather_bytes, machine="quantum")
    with pytest.raises(EmulationError, match="needs an access unit"):
        Interpreter(model_content=gather_bytes, machine="cpu").get_signature_runner()(ids=np.zeros(1, np.int32))


def _ember_tf(*args, cwd):
    return subprocess.run([str(EMBER_TF), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_run_cli_writes_outputs_stats_and_trace(tmp_path, gather_bytes):
    (tmp_path / "g.daebin").write_bytes(gather_bytes)
    ids = np.array([1, 2, 0], np.int32)
    np.savez(tmp_path / "in.npz", ids=ids)
    (tmp_path / "flags.cfg").write_text("--dram_latency_ns=45\n--cores=2\n--cost_vector=2\n")
    result = _ember_tf("run", "g.daebin", "--inputs=in.npz", "--outputs=out.npz", "--stats_json=stats.json",
                       "--trace_out=trace.json", "--flagfile=flags.cfg", "--lanes=4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "out.npz") as out:
        assert np.array_equal(out["out"], TABLE[ids])
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert isinstance(stats["cycles"], int) and isinstance(stats["dram_bytes"], int)
    assert stats["kernels"][0]["cores"][0]["cycles"] > 0
    trace = json.loads((tmp_path / "trace.json").read_text())
    assert any(e.get("ph") == "X" for e in trace["traceEvents"])
    assert any(e.get("name") == "queue bytes" for e in trace["traceEvents"])


@pytest.mark.parametrize("npz, needle", [
    ({"ids": np.array([7], np.int32)}, "input 'ids': id 7 is out of range"),
    ({"idz": np.array([1], np.int32)}, "input 'ids' is missing"),
    ({"ids": np.array([1.0], np.float32)}, "input 'ids' has dtype float32"),
])
def test_run_cli_bad_inputs(tmp_path, gather_bytes, npz, needle):
    (tmp_path / "g.daebin").write_bytes(gather_bytes)
    np.savez(tmp_path / "in.npz", **npz)
    result = _ember_tf("run", "g.daebin", "--inputs=in.npz", "--outputs=out.npz", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "in.npz" in lines[0], result.stderr
    assert not (tmp_path / "out.npz").exists()


def test_run_cli_unreadable_inputs(tmp_path, gather_bytes):
    (tmp_path / "g.daebin").write_bytes(gather_bytes)
    (tmp_path / "in.npz").write_bytes(b"not a zip")
    result = _ember_tf("run", "g.daebin", "--inputs=in.npz", "--outputs=out.npz", cwd=tmp_path)
    assert result.returncode == 2 and "in.npz: cannot read" in result.stderr


def test_instruction_costs_change_cycles(gather_bytes):
    ids = np.array([1, 2, 0, 2], np.int32)
    cycles = []
    for cost in (0.5, 4.0):
        interpreter = Interpreter(model_content=gather_bytes, cost_vector=cost, cost_buffer=cost)
        interpreter.get_signature_runner()(ids=ids)
        cycles.append(interpreter.last_stats.cycles)
    assert cycles[1] > cycles[0]


def test_run_cli_writes_nothing_when_one_output_cannot_be_written(tmp_path, gather_bytes):
    (tmp_path / "g.daebin").write_bytes(gather_bytes)
    np.savez(tmp_path / "in.npz", ids=np.array([1], np.int32))
    result = _ember_tf("run", "g.daebin", "--inputs=in.npz", "--outputs=out.npz", "--stats_json=stats.json",
                       "--trace_out=missing_dir/trace.json", cwd=tmp_path)
    assert result.returncode == 2 and "missing_dir/trace.json: cannot write" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.daebin", "in.npz"]
