"""Runs whose statistics were recorded before operators had core ranges
(tests/emulator/data/all_core_baseline.json): every operator of these files uses all
the machine's cores, so the scheduler must reproduce the recorded cycles, DRAM bytes
and every other statistic bit for bit (tests/emulator/test_core_schedule.py).

    python -m tests.emulator.schedule_cases      # re-record (only after an intended timing change)
"""

from __future__ import annotations

import base64
import json
import pathlib

import numpy as np

from tests.emulator.programs import csr_ids as _csr
from tests.emulator.programs import gather_pipeline, multi_table_gather

ROOT = pathlib.Path(__file__).resolve().parents[2]
KERNELS = ROOT / "kernels"
DATA = pathlib.Path(__file__).resolve().parent / "data"
BASELINE = DATA / "all_core_baseline.json"


def _kernel_feeds(name: str, dim: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    rows = 300
    table = rng.standard_normal((rows, dim)).astype(np.float32)
    if name == "gather":
        return {"ids": rng.integers(0, 3, size=9).astype(np.int32)}
    if name == "gather_input":
        return {"ids": rng.integers(0, rows, size=230).astype(np.int32), "table": table}
    if name.startswith("eb_"):
        offsets, indices = _csr(rng, 64, rows, 9)
        feeds = {"table": table, "indices": indices, "offsets": offsets}
        if "weighted" in name:
            feeds["weights"] = rng.standard_normal(len(indices)).astype(np.float32)
        return feeds
    if name == "segment_sum":
        return {"features": table, "src": rng.integers(0, rows, size=200).astype(np.int32),
                "dst": rng.integers(0, rows, size=200).astype(np.int32)}
    if name == "spmm_csr":
        splits, col = _csr(rng, 50, rows, 6)
        return {"row_splits": splits, "col": col, "val": rng.standard_normal(len(col)).astype(np.float32),
                "dense": table}
    raise AssertionError(name)


def _multi_feeds(seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "t0_table": rng.standard_normal((300, 16)).astype(np.float32),
        "t0_indices": rng.integers(0, 300, 50).astype(np.int32),
        "t0_weights": rng.random(50).astype(np.float32),
        "t0_offsets": np.array([0, 20, 20, 50], np.int32),
        "t1_table": rng.standard_normal((300, 40)).astype(np.float32),
        "t1_ids": rng.integers(0, 300, 70).astype(np.int32),
        "t2_table": rng.standard_normal((300, 24)).astype(np.float32),
        "t2_indices": rng.integers(0, 300, (40, 3)).astype(np.int32),
    }


def _pipeline_feeds(seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    return {"table_a": rng.standard_normal((500, 20)).astype(np.float32),
            "table_b": rng.standard_normal((600, 37)).astype(np.float32),
            "ids_a": rng.integers(0, 500, size=400).astype(np.int32),
            "ids_b": rng.integers(0, 600, size=330).astype(np.int32),
            "ids_c": rng.integers(0, 400, size=250).astype(np.int32)}


def _tables_feeds(tables: int, seed: int = 5) -> dict:
    rng = np.random.default_rng(seed)
    feeds = {}
    for t in range(tables):
        feeds[f"table{t}"] = rng.standard_normal((3000, 24)).astype(np.float32)
        feeds[f"ids{t}"] = rng.integers(0, 3000, size=170).astype(np.int32)
    return feeds


def host_pipeline_text(graph: bytes) -> str:
    """gather (kernel 0) and an independent gather, then an MLP host segment on the first
    one's rows, then a gather from the segment's output: kernels before and after a host."""
    source = (KERNELS / "gather_input.dasm").read_text()
    kernel = source[source.index(".kernel"):source.index(".end\n") + len(".end\n")]
    return "\n".join([
        '.model version=1 description="kernels around a host segment"',
        '.tensor 0 "ids" dtype=int32 shape=[4] signature=[-1]',
        '.tensor 1 "table" dtype=float32 shape=[3, 16] signature=[-1, -1]',
        '.tensor 2 "out" dtype=float32 shape=[4, 16] signature=[-1, -1]',
        '.tensor 3 "y" dtype=float32 shape=[4, 16] signature=[-1, 16]',
        '.tensor 4 "ids2" dtype=int32 shape=[4] signature=[-1]',
        '.tensor 5 "out2" dtype=float32 shape=[4, 16] signature=[-1, -1]',
        '.tensor 6 "ids3" dtype=int32 shape=[4] signature=[-1]',
        '.tensor 7 "out3" dtype=float32 shape=[4, 16] signature=[-1, -1]',
        f'.buffer 1 data="{base64.b64encode(graph).decode()}"',
        '.host_segment 0 "mlp" format=graph_def buffer=1 inputs=["x:0"] outputs=["Identity:0"]',
        kernel,
        '.subgraph "main" inputs=[0, 1, 4, 6] outputs=[3, 5, 7]',
        ".operator kernel 0 inputs=[0, 1] outputs=[2]",
        ".operator kernel 0 inputs=[4, 1] outputs=[5]",
        ".operator host_segment 0 inputs=[2] outputs=[3]",
        ".operator kernel 0 inputs=[6, 3] outputs=[7]",
        '.signature "serving_default" subgraph=0',
        '.input "ids" 0', '.input "table" 1', '.input "ids2" 4', '.input "ids3" 6',
        '.output "y" 3', '.output "out2" 5', '.output "out3" 7',
    ]) + "\n"


def host_graph() -> bytes:
    import tensorflow as tf

    rng = np.random.default_rng(11)
    w1 = rng.standard_normal((16, 32)).astype(np.float32)
    w2 = rng.standard_normal((32, 16)).astype(np.float32)

    @tf.function
    def mlp(x):
        return tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)

    return mlp.get_concrete_function(tf.TensorSpec([None, 16], tf.float32)).graph.as_graph_def() \
        .SerializeToString()


def _host_feeds(seed: int = 13) -> dict:
    rng = np.random.default_rng(seed)
    return {"table": rng.standard_normal((200, 16)).astype(np.float32),
            "ids": rng.integers(0, 200, size=120).astype(np.int32),
            "ids2": rng.integers(0, 200, size=90).astype(np.int32),
            "ids3": rng.integers(0, 120, size=60).astype(np.int32)}


def cases() -> dict:
    """name -> (dasm text or a callable giving it, machine, overrides, feeds)."""
    out = {}
    for name, dims in (("eb_sum", (16, 37)), ("eb_weighted_mean", (16,)), ("gather_input", (16, 37)),
                       ("segment_sum", (16,)), ("spmm_csr", (16,)), ("gather", (16,))):
        for machine in ("tmu", "cpu"):
            stem = name if machine == "tmu" else f"{name}_cpu"
            for dim in dims:
                if name == "gather" and dim != 16:
                    continue
                out[f"{stem}-d{dim}"] = ((KERNELS / f"{stem}.dasm").read_text(), machine, {},
                                         _kernel_feeds(name, dim))
    for cores in (1, 2, 3, 8):
        out[f"multi_table_gather-c{cores}"] = (multi_table_gather(3), "tmu", {"cores": cores}, _tables_feeds(3))
    out["gather_pipeline-tmu"] = (gather_pipeline((KERNELS / "gather_input.dasm").read_text()), "tmu", {},
                                  _pipeline_feeds())
    out["gather_pipeline-cpu"] = (gather_pipeline((KERNELS / "gather_input_cpu.dasm").read_text()), "cpu", {},
                                  _pipeline_feeds())
    out["gather_pipeline-cpu-c3"] = (gather_pipeline((KERNELS / "gather_input_cpu.dasm").read_text()), "cpu",
                                     {"cores": 3}, _pipeline_feeds())
    for target in ("tmu", "cpu", "gpu"):
        out[f"compiled_multi-{target}"] = ((DATA / f"multi_{target}.dasm").read_text(), target, {}, _multi_feeds())
    out["host_pipeline-tmu"] = (lambda: host_pipeline_text(host_graph()), "tmu", {}, _host_feeds())
    out["host_pipeline-tmu-c4"] = (lambda: host_pipeline_text(host_graph()), "tmu", {"cores": 4}, _host_feeds())
    return out


def run_case(case, mode: str = "golden"):
    from ember_tf import dae_isa
    from ember_tf.emulator import Interpreter

    text, machine, overrides, feeds = case
    if callable(text):
        text = text()
    model = dae_isa.serialize_model(dae_isa.assemble(text))
    interpreter = Interpreter(model_content=model, machine=machine, mode=mode, **overrides)
    outputs = interpreter.get_signature_runner()(**feeds)
    return outputs, interpreter.last_stats


def _one_case_a_line(recorded: dict) -> str:
    return "{\n" + ",\n".join(f"{json.dumps(name)}: {json.dumps(stats, sort_keys=True)}"
                              for name, stats in sorted(recorded.items())) + "\n}\n"


def main() -> None:
    recorded = {}
    for name, case in cases().items():
        _, stats = run_case(case)
        recorded[name] = stats.to_json() | {"mode": None}
        print(name, stats.cycles)
    BASELINE.write_text(_one_case_a_line(recorded))
    print(f"wrote {BASELINE}")


if __name__ == "__main__":
    main()
