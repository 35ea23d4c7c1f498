"""Hand-written reference kernels (kernels/*.dasm): cycles on the DAE machine
(`tmu`) against the same work on the CPU baseline (`cpu`), one run each in
fast mode, outputs checked equal between the two machines.

    .venv/bin/python bench/kernels_tmu_vs_cpu.py [--rows 100000 --dim 64 --batch 256 --pooling 32]
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

from ember_tf import dae_isa
from ember_tf.emulator import Interpreter

KERNELS = pathlib.Path(__file__).resolve().parent.parent / "kernels"


def inputs(name: str, args: argparse.Namespace, rng: np.random.Generator) -> dict:
    table = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
    lookups = args.batch * args.pooling
    ids = rng.integers(0, args.rows, size=lookups).astype(np.int32)
    if name == "gather_input":
        return {"ids": ids, "table": table}
    if name.startswith("eb_"):
        lengths = rng.integers(0, 2 * args.pooling + 1, size=args.batch)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        feeds = {"table": table, "indices": rng.integers(0, args.rows, size=int(offsets[-1])).astype(np.int32),
                 "offsets": offsets}
        if "weighted" in name:
            feeds["weights"] = rng.random(int(offsets[-1])).astype(np.float32)
        return feeds
    if name == "segment_sum":
        return {"features": table, "src": ids, "dst": rng.integers(0, args.rows, size=lookups).astype(np.int32)}
    if name == "spmm_csr":
        lengths = rng.integers(0, 2 * args.pooling + 1, size=args.batch)
        splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        nnz = int(splits[-1])
        return {"row_splits": splits, "col": rng.integers(0, args.rows, size=nnz).astype(np.int32),
                "val": rng.standard_normal(nnz).astype(np.float32), "dense": table}
    raise ValueError(name)


def run(name: str, machine: str, feeds: dict):
    path = KERNELS / (f"{name}.dasm" if machine == "tmu" else f"{name}_cpu.dasm")
    model = dae_isa.serialize_model(dae_isa.assemble(path.read_text(), str(path)))
    interpreter = Interpreter(model_content=model, machine=machine, mode="fast")
    outputs = interpreter.get_signature_runner()(**feeds)
    return outputs, interpreter.last_stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--pooling", type=int, default=32)
    args = parser.parse_args()
    names = ["gather_input", "eb_sum", "eb_mean", "eb_sqrtn", "eb_weighted_sum", "eb_weighted_mean",
             "eb_weighted_sqrtn", "segment_sum", "spmm_csr"]
    print(f"table {args.rows:,} x {args.dim} f32, batch {args.batch}, pooling ~{args.pooling}")
    print(f"{'kernel':20} {'tmu cycles':>12} {'cpu cycles':>12} {'cpu/tmu':>8} {'tmu GB/s':>9} {'cpu GB/s':>9}")
    ratios = []
    for name in names:
        feeds = inputs(name, args, np.random.default_rng(0))
        tmu_out, tmu = run(name, "tmu", feeds)
        cpu_out, cpu = run(name, "cpu", feeds)
        for key in tmu_out:
            np.testing.assert_allclose(tmu_out[key], cpu_out[key], rtol=1e-5, atol=1e-5)
        ratios.append(cpu.cycles / tmu.cycles)
        print(f"{name:20} {tmu.cycles:12,} {cpu.cycles:12,} {ratios[-1]:8.2f} {tmu.achieved_bandwidth_gbps:9.1f} "
              f"{cpu.achieved_bandwidth_gbps:9.1f}")
    print(f"geomean cpu/tmu: {np.exp(np.mean(np.log(ratios))):.2f}x")


if __name__ == "__main__":
    main()
