"""Compiled (O3) kernels against the hand-written reference kernels
(kernels/*.dasm) doing the same work on the same inputs: emulated cycles in one
run, fast mode, outputs checked equal. The paper's bar: compiled code at
95-100% of hand-written performance (hand cycles / compiled cycles). The
hand-written kernels use one core, so the compiled ones are built without
split_cores (which spreads a batch over all cores).

    .venv/bin/python bench/vs_handwritten.py [--machine tmu|cpu] [--rows 100000 --dim 64 --batch 256 --pooling 32]
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

from ember_tf import dae_isa
from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.emulator import Interpreter
from workloads import KERNEL_NAMES, compiled_counterpart, inputs

KERNELS = pathlib.Path(__file__).resolve().parent.parent / "kernels"


def emulate(model: bytes, machine: str, feeds: dict):
    interpreter = Interpreter(model_content=model, machine=machine, mode="fast")
    return interpreter.get_signature_runner()(**feeds), interpreter.last_stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machine", default="tmu", choices=["tmu", "cpu"])
    parser.add_argument("--opt_level", type=int, default=3)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--pooling", type=int, default=32)
    args = parser.parse_args()
    print(f"{args.machine}: table {args.rows:,} x {args.dim} f32, batch {args.batch}, pooling ~{args.pooling}, "
          f"compiled at O{args.opt_level}")
    print(f"{'kernel':20} {'hand cycles':>12} {'compiled':>12} {'hand/compiled':>14}")
    ratios = []
    for name in KERNEL_NAMES:
        feeds = inputs(name, args, np.random.default_rng(0))
        path = KERNELS / (f"{name}.dasm" if args.machine == "tmu" else f"{name}_cpu.dasm")
        hand_out, hand = emulate(dae_isa.serialize_model(dae_isa.assemble(path.read_text(), str(path))),
                                 args.machine, feeds)
        # like for like: the hand-written kernels run on one core, so no split_cores
        options = CompileOptions(target=args.machine, opt_level=args.opt_level, disable_pass=("split_cores",))
        out, compiled = emulate(compile_model(compiled_counterpart(name, args.dim), options), args.machine, feeds)
        for key in hand_out:
            np.testing.assert_allclose(out[key], hand_out[key], rtol=1e-5, atol=1e-5)
        ratios.append(hand.cycles / compiled.cycles)
        print(f"{name:20} {hand.cycles:12,} {compiled.cycles:12,} {ratios[-1]:13.1%}")
    print(f"min {min(ratios):.1%}, geomean {np.exp(np.mean(np.log(ratios))):.1%} of hand-written performance")


if __name__ == "__main__":
    main()
