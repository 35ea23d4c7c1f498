"""Write (or, with --check, compare) the golden IR files of canonical kernels at
each stage, as Ember's repository keeps eb_scf.mlir, eb_slc_O0.mlir,
eb_slc_O3.mlir and eb_dlc.mlir: tests/compiler/golden/<kernel>_<stage>.mlir.
Run it after an intended change to the passes, and review the diff.

    .venv/bin/python tools/gen_ir_goldens.py [--check]
"""

from __future__ import annotations

import argparse
import io
import pathlib
import sys

from ember_tf.compiler import CompileOptions, compile_kernel
from ember_tf.ir import embedding_ops

GOLDEN = pathlib.Path(__file__).resolve().parent.parent / "tests" / "compiler" / "golden"
KERNELS = {
    "eb_sum": lambda: embedding_ops.embedding_bag(64, "sum"),
    "eb_weighted_mean": lambda: embedding_ops.embedding_bag(20, "mean", weighted=True),
    "gather": lambda: embedding_ops.gather(20),
    "segment_sum": lambda: embedding_ops.segment_sum(32),
}
# stage name -> (opt level, the pass after which the IR is taken)
STAGES = {"scf": (0, "input"), "slc_O0": (0, "decoupling"), "slc_O3": (3, "promote_accumulators"),
          "dlc_O3": (3, "slc_to_dlc")}


def render() -> dict[str, str]:
    files = {}
    for kernel, build in KERNELS.items():
        for stage, (level, after) in STAGES.items():
            out = io.StringIO()
            # one core: the split into per-core traversals would only repeat the loop nest
            compile_kernel(build(), CompileOptions(opt_level=level, print_ir_after=(after,),
                                                   disable_pass=("split_cores",) if level == 3 else ()), out)
            dump = out.getvalue().split("\n", 1)[1].strip() + "\n"
            files[f"{kernel}_{stage}.mlir"] = f"// {kernel} after {after} (O{level}, tmu)\n{dump}"
        files[f"{kernel}_O3.dasm"] = compile_kernel(build(), CompileOptions(opt_level=3,
                                                                             disable_pass=("split_cores",)))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    args = parser.parse_args()
    files = render()
    if args.check:
        stale = [n for n, text in files.items() if not (GOLDEN / n).exists() or (GOLDEN / n).read_text() != text]
        for name in stale:
            print(f"{GOLDEN / name} differs from what the compiler prints now", file=sys.stderr)
        return 1 if stale else 0
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (GOLDEN / name).write_text(text)
    print(f"wrote {len(files)} files to {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
