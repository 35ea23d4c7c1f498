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
from workloads import KERNEL_NAMES, inputs

KERNELS = pathlib.Path(__file__).resolve().parent.parent / "kernels"


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
    names = KERNEL_NAMES
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
