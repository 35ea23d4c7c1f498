"""Achieved DRAM bandwidth of a memory-bound compiled embedding bag on the DAE
machine: % of peak at O3 (all cores: split_cores), at O3 on one core, and at O2.
Uniform ids into a table far larger than the LLC, so rows come from DRAM.

    .venv/bin/python bench/bandwidth.py [--rows 1000000 --dim 64 --batch 2048 --pooling 32]
"""

from __future__ import annotations

import argparse

import numpy as np

from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.emulator import Interpreter
from ember_tf.ir import embedding_ops

VARIANTS = [("O3, all cores (split_cores)", 3, ()), ("O3, one core", 3, ("split_cores",)), ("O2, one core", 2, ())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--pooling", type=int, default=32)
    parser.add_argument("--machine", default="tmu")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    table = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
    offsets = (np.arange(args.batch + 1) * args.pooling).astype(np.int32)
    feeds = {"table": table, "indices": rng.integers(0, args.rows, args.batch * args.pooling).astype(np.int32),
             "offsets": offsets}
    expected = table[feeds["indices"]].reshape(args.batch, args.pooling, args.dim).astype(np.float64).sum(axis=1)
    print(f"{args.machine}: embedding bag (sum), table {args.rows:,} x {args.dim} f32, batch {args.batch}, "
          f"pooling {args.pooling}")
    print(f"{'variant':30} {'cycles':>12} {'DRAM bytes':>14} {'GB/s':>8} {'% of peak':>10}")
    for label, level, disabled in VARIANTS:
        options = CompileOptions(target=args.machine, opt_level=level, disable_pass=disabled)
        interpreter = Interpreter(model_content=compile_model(embedding_ops.embedding_bag(args.dim), options),
                                  machine=args.machine, mode="fast")
        out = interpreter.get_signature_runner()(**feeds)["out"]
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
        s = interpreter.last_stats
        print(f"{label:30} {s.cycles:12,} {s.dram_bytes:14,} {s.achieved_bandwidth_gbps:8.1f} "
              f"{s.percent_of_peak_bandwidth:9.1f}%")


if __name__ == "__main__":
    main()
