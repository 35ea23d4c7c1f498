"""Host segments: the residual dense graph runs through TensorFlow after the DAE
kernels, through the binary (.dasm -> .daebin -> Interpreter), equal to
TensorFlow; its time is the matrix-unit roofline, reported apart from the
kernels."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.emulator import Interpreter, load_machine
from ember_tf.emulator.host import HostSegment, graph_cost
from ember_tf.emulator.trace import chrome_trace
from ember_tf.errors import EmulationError

tf = pytest.importorskip("tensorflow")

ROOT = pathlib.Path(__file__).resolve().parents[2]
EMBER_TF = pathlib.Path(sys.executable).parent / "ember-tf"
D, HIDDEN, OUT, ROWS = 16, 32, 8, 40
RNG = np.random.default_rng(7)
W1 = RNG.standard_normal((D, HIDDEN)).astype(np.float32)
B1 = RNG.standard_normal(HIDDEN).astype(np.float32)
W2 = RNG.standard_normal((HIDDEN, OUT)).astype(np.float32)
TABLE = RNG.standard_normal((ROWS, D)).astype(np.float32)
IDS = RNG.integers(0, ROWS, size=23).astype(np.int32)
CONSTANT_BYTES = (W1.size + B1.size + W2.size) * 4


def flops(n: int) -> int:
    """x @ W1, + b1, relu, @ W2 for n rows."""
    return 2 * n * D * HIDDEN + n * HIDDEN + n * HIDDEN + 2 * n * HIDDEN * OUT


@tf.function
def mlp(x):
    return tf.matmul(tf.nn.relu(tf.matmul(x, W1) + B1), W2)


@pytest.fixture(scope="module")
def graph_def() -> bytes:
    function = mlp.get_concrete_function(tf.TensorSpec([None, D], tf.float32))
    return function.graph.as_graph_def().SerializeToString()


def pipeline(graph: bytes, segment: str = '"mlp" format=graph_def buffer=1 inputs=["x:0"] outputs=["Identity:0"]',
             y: str = "dtype=float32 shape=[4, 8] signature=[-1, 8]") -> bytes:
    """kernels/gather_input.dasm's kernel (out = table[ids]) on the DAE, then the
    MLP on `out` as a host segment: y = relu(out @ W1 + b1) @ W2."""
    source = (ROOT / "kernels" / "gather_input.dasm").read_text()
    kernel = source[source.index(".kernel"):source.index(".end\n") + len(".end\n")]
    text = "\n".join([
        '.model version=1 description="gather on the DAE, then an MLP on the host"',
        '.tensor 0 "ids" dtype=int32 shape=[4] signature=[-1]',
        '.tensor 1 "table" dtype=float32 shape=[3, 16] signature=[-1, -1]',
        '.tensor 2 "out" dtype=float32 shape=[4, 16] signature=[-1, -1]',
        f'.tensor 3 "y" {y}',
        f'.buffer 1 data="{base64.b64encode(graph).decode()}"',
        f".host_segment 0 {segment}",
        kernel,
        '.subgraph "main" inputs=[0, 1] outputs=[3]',
        ".operator kernel 0 inputs=[0, 1] outputs=[2]",
        ".operator host_segment 0 inputs=[2] outputs=[3]",
        '.signature "serving_default" subgraph=0',
        '.input "ids" 0', '.input "table" 1', '.output "y" 3', '.output "gathered" 2',
    ]) + "\n"
    return dae_isa.serialize_model(dae_isa.assemble(text, "pipeline.dasm"))


@pytest.fixture(scope="module")
def model_bytes(graph_def) -> bytes:
    return pipeline(graph_def)


@pytest.fixture(scope="module")
def golden(model_bytes) -> Interpreter:
    interpreter = Interpreter(model_content=model_bytes, mode="golden")
    interpreter.get_signature_runner()(ids=IDS, table=TABLE)
    return interpreter


def test_outputs_equal_tensorflow_in_both_modes(model_bytes, golden):
    expected = mlp(tf.constant(TABLE[IDS])).numpy()
    results = {}
    for mode in ("golden", "fast"):
        interpreter = Interpreter(model_content=model_bytes, mode=mode)
        results[mode] = interpreter.get_signature_runner()(ids=IDS, table=TABLE)
        assert np.array_equal(results[mode]["gathered"], TABLE[IDS])
        np.testing.assert_allclose(results[mode]["y"], expected, rtol=1e-6)
        assert interpreter.last_stats.to_json() | {"mode": None} == golden.last_stats.to_json() | {"mode": None}
    assert np.array_equal(results["golden"]["y"], results["fast"]["y"])


def test_host_stats_follow_the_roofline(golden):
    stats, machine = golden.last_stats, golden.machine
    host, = stats.host_segments
    kernel, = stats.kernels
    n = len(IDS)
    assert host.name == "mlp" and host.flops == flops(n) and host.flops_exact
    assert host.flops_by_op == {"MatMul": 2 * n * D * HIDDEN + 2 * n * HIDDEN * OUT, "AddV2": n * HIDDEN,
                                "Relu": n * HIDDEN}
    # the gathered rows the kernel wrote and the segment's outputs stay in the LLC: only its
    # constants come from DRAM; with an LLC smaller than them, the excess is charged too
    assert host.dram_bytes == CONSTANT_BYTES
    small = machine.with_overrides(llc_bytes=1024)
    on_chip = TABLE[IDS].nbytes + n * OUT * 4
    assert small.host_dram_bytes(CONSTANT_BYTES, 0, TABLE[IDS].nbytes, n * OUT * 4) == CONSTANT_BYTES + on_chip - 1024
    compute = host.flops / (machine.cores * machine.matrix_flops_per_cycle)
    memory = host.dram_bytes / machine.dram_bytes_per_cycle
    assert host.cycles == round(machine.host_launch_cycles + max(compute, memory))
    assert host.compute_bound == (compute >= memory)
    # Sequential: the kernel, then the segment; both in the totals, each reported apart.
    assert kernel.start_cycle == 0 and host.start_cycle == kernel.cycles
    assert stats.cycles == kernel.cycles + host.cycles == stats.kernel_cycles + stats.host_cycles
    assert stats.host_cycles == host.cycles and stats.kernel_cycles == kernel.cycles
    assert stats.dram_bytes == kernel.dram_bytes + host.dram_bytes
    report = json.loads(json.dumps(stats.to_json()))
    assert report["host_segments"][0]["flops"] == host.flops and report["host_cycles"] == host.cycles
    assert report["kernels"][0]["kernel"] == "gather_rows"


def test_machine_parameters_move_the_roofline(model_bytes):
    slow = Interpreter(model_content=model_bytes, matrix_flops_per_cycle=1, host_launch_cycles=0)
    slow.get_signature_runner()(ids=IDS, table=TABLE)
    host, = slow.last_stats.host_segments
    assert host.compute_bound and host.cycles == round(flops(len(IDS)) / slow.machine.cores)
    for name in ("tmu", "cpu"):
        machine = load_machine(name)
        assert machine.matrix_flops_per_cycle > 0 and machine.host_launch_cycles >= 0
    with pytest.raises(EmulationError, match="matrix_flops_per_cycle must be positive"):
        load_machine("tmu").with_overrides(matrix_flops_per_cycle=0)


def test_segment_is_imported_once_and_costed_per_shape(model_bytes, monkeypatch):
    imports = []
    original = HostSegment._import
    monkeypatch.setattr(HostSegment, "_import", lambda self, specs: imports.append(specs) or original(self, specs))
    interpreter = Interpreter(model_content=model_bytes)
    runner = interpreter.get_signature_runner()
    for n in (5, 5, 9, 0):
        ids = IDS[:n]
        out = runner(ids=ids, table=TABLE)
        np.testing.assert_allclose(out["y"], mlp(tf.constant(TABLE[ids])).numpy(), rtol=1e-6)
        assert out["y"].shape == (n, OUT)
        assert interpreter.last_stats.host_segments[0].flops == flops(n)
    assert len(imports) == 1 + 3  # the callable once, the cost graph once per distinct shape


def test_trace_has_a_host_track(golden):
    trace = chrome_trace(golden.last_stats)
    host, = golden.last_stats.host_segments
    names = [e for e in trace["traceEvents"] if e["ph"] == "M" and e["name"] == "process_name"]
    track = next(e["pid"] for e in names if "host" in e["args"]["name"])
    span, = [e for e in trace["traceEvents"] if e.get("pid") == track and e["ph"] == "X"]
    to_us = 1 / (golden.machine.clock_ghz * 1e3)
    assert span["name"] == "host segment mlp" and span["args"]["flops"] == host.flops
    assert span["ts"] == pytest.approx(host.start_cycle * to_us) and span["dur"] == pytest.approx(host.cycles * to_us)
    # The kernel's chunks end before the segment starts (within the cycle kernel cycles are rounded to).
    assert all(e["ts"] + e.get("dur", 0) <= span["ts"] + to_us for e in trace["traceEvents"]
               if e["ph"] in ("X", "C") and e["pid"] != track)


@pytest.mark.parametrize("make, needles", [
    (lambda g: pipeline(b"\xff" * 16), ["host segment 'mlp'", "buffer 1 is not a serialized GraphDef"]),
    (lambda g: pipeline(g, segment='"mlp" format=hlo_module buffer=1 inputs=["x"] outputs=["y"]'),
     ["host segment 'mlp'", "is not HLO text"]),
    (lambda g: pipeline(g, segment='"mlp" format=graph_def buffer=1 inputs=["z:0"] outputs=["Identity:0"]'),
     ["host segment 'mlp'", "input 'z:0' names no node"]),
    (lambda g: pipeline(g, segment='"mlp" format=graph_def buffer=1 inputs=["x:0"] outputs=["Identity:3"]'),
     ["host segment 'mlp'", "cannot import its GraphDef"]),
    (lambda g: pipeline(g, segment='"mlp" format=graph_def buffer=1 inputs=["x:0", "x:0"] outputs=["Identity:0"]'),
     ["host segment 'mlp'", "2 input name(s)", "binds 1"]),
    (lambda g: pipeline(g, y="dtype=float64 shape=[4, 8] signature=[-1, 8]"),
     ["host segment 'mlp'", "output 'Identity:0' has dtype float32", "tensor 'y' is float64"]),
    (lambda g: pipeline(g, y="dtype=float32 shape=[4, 9] signature=[-1, 9]"),
     ["host segment 'mlp'", "output 'Identity:0' has shape [23, 8]", "tensor 'y' is [-1, 9]"]),
])
def test_bad_segments_are_one_line_errors(graph_def, make, needles):
    runner = Interpreter(model_content=make(graph_def)).get_signature_runner()
    with pytest.raises(EmulationError) as error:
        runner(ids=IDS, table=TABLE)
    message = str(error.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_tensorflow_runtime_errors_name_the_segment_and_node(model_bytes):
    runner = Interpreter(model_content=model_bytes).get_signature_runner()
    with pytest.raises(EmulationError) as error:
        runner(ids=IDS, table=np.zeros((ROWS, D + 4), np.float32))  # 20 columns into a 16-wide MLP
    message = str(error.value)
    assert "\n" not in message and message.startswith("host segment 'mlp': TensorFlow failed at node '")


def test_graph_cost_counts_convolutions_einsum_and_reductions():
    image = tf.TensorSpec([2, 8, 8, 3], tf.float32)

    @tf.function
    def net(x):
        conv = tf.nn.conv2d(x, tf.ones([3, 3, 3, 4]), strides=1, padding="SAME")          # [2, 8, 8, 4]
        depth = tf.nn.depthwise_conv2d(conv, tf.ones([3, 3, 4, 2]), [1, 1, 1, 1], "SAME")  # [2, 8, 8, 8]
        mixed = tf.einsum("bhwc,cd->bhwd", depth, tf.ones([8, 5]))                         # [2, 8, 8, 5]
        batched = tf.matmul(tf.reshape(mixed, [2, 64, 5]), tf.ones([2, 5, 6]))             # [2, 64, 6]
        return tf.reduce_sum(tf.nn.softmax(batched), axis=-1)

    flops, exact, by_op, constant_bytes = graph_cost(net.get_concrete_function(image).outputs)
    expected = {"Conv2D": 2 * (2 * 8 * 8 * 4) * (3 * 3 * 3), "DepthwiseConv2dNative": 2 * (2 * 8 * 8 * 8) * 9,
                "Einsum": 2 * (2 * 8 * 8 * 5) * 8, "BatchMatMulV2": 2 * (2 * 64 * 6) * 5,
                "Softmax": 5 * 2 * 64 * 6, "Sum": 2 * 64 * 6}
    assert exact and by_op == expected and flops == sum(expected.values())
    assert constant_bytes >= 4 * (3 * 3 * 3 * 4 + 3 * 3 * 4 * 2 + 8 * 5 + 2 * 5 * 6)


def test_run_cli_reports_host_segments(tmp_path, model_bytes):
    (tmp_path / "m.daebin").write_bytes(model_bytes)
    np.savez(tmp_path / "in.npz", ids=IDS, table=TABLE)
    result = subprocess.run(
        [str(EMBER_TF), "run", "m.daebin", "--inputs=in.npz", "--outputs=out.npz", "--stats_json=stats.json",
         "--trace_out=trace.json", "--matrix_flops_per_cycle=1", "--host_launch_cycles=0"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr
    assert "host segments" in result.stdout
    with np.load(tmp_path / "out.npz") as out:
        np.testing.assert_allclose(out["y"], mlp(tf.constant(TABLE[IDS])).numpy(), rtol=1e-6)
    stats = json.loads((tmp_path / "stats.json").read_text())
    host, = stats["host_segments"]
    assert host["name"] == "mlp" and host["flops"] == flops(len(IDS)) and host["compute_bound"]
    assert host["cycles"] == round(flops(len(IDS)) / load_machine("tmu").cores)
    assert stats["cycles"] == stats["kernels"][0]["cycles"] + host["cycles"]
    trace = json.loads((tmp_path / "trace.json").read_text())
    assert any(e["name"] == "host segment mlp" for e in trace["traceEvents"])


def test_kernel_only_runs_do_not_import_tensorflow():
    code = ("import sys, numpy as np\n"
            "from ember_tf import dae_isa\n"
            "from ember_tf.emulator import Interpreter\n"
            f"model = dae_isa.assemble(open({str(ROOT / 'kernels' / 'gather.dasm')!r}).read())\n"
            "Interpreter(model_content=dae_isa.serialize_model(model)).get_signature_runner()("
            "ids=np.array([1, 0], np.int32))\n"
            "print('tensorflow' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
