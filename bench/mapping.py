"""The planner against the even split, per workload (bench/workloads.py): each workload's
TensorFlow model is saved, converted twice on the README's path (`Converter.from_saved_model`
with the workload's batch as `sample_inputs`) -- `--core_mapping=even --lookup_strategy=gm`
(every kernel on all cores, rows from DRAM: the compiler without a planner) and the defaults
(`auto`, `auto`) -- and both files are emulated on the same batch. Printed per workload:
cycles of each, the speedup, how far the even split is from two bounds no plan of the same
code can beat -- all DRAM bytes moved at peak bandwidth, and all the cores' busy cycles
spread evenly over the cores (the lesser of the two runs' each) -- the strategies the
planner chose, its estimate against the emulated cycles, and whether the outputs equal
TensorFlow's.

    .venv/bin/python bench/mapping.py                 # every workload (several minutes)
    .venv/bin/python bench/mapping.py --quick         # small tables and batch, a smoke run
    .venv/bin/python bench/mapping.py --gap           # auto against exhaustive search, 5-table subsets
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import pathlib
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import workloads  # noqa: E402

from ember_tf import Converter, Interpreter  # noqa: E402
from ember_tf.compiler import CompileOptions  # noqa: E402


def _workloads(args) -> list:
    size = dict(row_cap=args.row_cap, dim=args.dim, batch=args.batch)
    criteo = workloads.criteo_kaggle(**size)
    mlperf = workloads.mlperf_dcnv2(**size)
    imbalance = workloads.extreme_imbalance(**size)
    return ([criteo] + workloads.zipf_workloads(criteo) + [mlperf] + workloads.zipf_workloads(mlperf)[1:2]
            + [imbalance] + workloads.zipf_workloads(imbalance)[1:2])


def _level_estimate(report) -> float:
    """The plan's makespan: per core group, its kernels one after another."""
    groups = collections.defaultdict(float)
    for entry in report.offloaded:
        groups[(entry.core_offset, entry.core_count)] += entry.estimate or 0.0
    return max(groups.values(), default=0.0)


def run(workload, machine: str, folder: pathlib.Path) -> dict:
    import tensorflow as tf

    model = workloads.tensorflow_model(workload)
    saved = folder / workload.name
    tf.saved_model.save(model, str(saved), signatures=model.serve)
    table_feeds = workloads.feeds(workload)
    feeds = workloads.signature_feeds(table_feeds)
    want = {k: v.numpy() for k, v in model.serve(**{k: tf.constant(v) for k, v in feeds.items()}).items()}
    options = CompileOptions(target=machine)
    result = {"workload": workload.name}
    for label, mapping, strategy in (("even", "even", "gm"), ("auto", "auto", "auto")):
        converter = Converter.from_saved_model(saved, options=options, core_mapping=mapping,
                                               lookup_strategy=strategy, sample_inputs=feeds)
        content = converter.convert()
        interpreter = Interpreter(model_content=content, machine=machine)
        got = interpreter.get_signature_runner()(**feeds)
        equal = all(np.allclose(got[k], want[k], rtol=1e-5, atol=1e-5) for k in want)
        report = converter.reports[0]
        kernels = interpreter.last_stats.kernels
        span = max(k.start_cycle + k.cycles for k in kernels) - min(k.start_cycle for k in kernels)
        per_cycle = interpreter.machine.dram_bytes_per_cycle
        result[label] = {"cycles": interpreter.last_stats.cycles, "equal": equal, "kernel_span": span,
                         "bound": interpreter.last_stats.dram_bytes / per_cycle,
                         "core_bound": sum(c.core_busy_cycles for k in kernels for c in k.cores)
                         / interpreter.machine.cores,
                         "estimate": _level_estimate(report),
                         "strategies": collections.Counter(e.strategy for e in report.offloaded),
                         "groups": len({(e.core_offset, e.core_count) for e in report.offloaded})}
    return result


def gap(args) -> None:
    """The planner's makespan against exhaustive search (both on the cost model) for random
    5-table subsets of each workload, at the workload's batch, on the machine's cores."""
    from ember_tf.ir import embedding_ops
    from ember_tf.machines import load_machine
    from ember_tf.planner import CostModel, TableOp, plan_exhaustive, plan_level
    from ember_tf.planner.calibrate import unit_costs

    machine = load_machine(args.machine)
    options = CompileOptions(target=args.machine)
    rng = np.random.default_rng(0)
    gaps = []
    for workload in _workloads(args):
        table_feeds = workloads.feeds(workload)
        ops, funcs = [], {}
        for table in workload.tables:
            indices, offsets = table_feeds[table.name]
            op = TableOp(table.name, "bag", table.rows, table.dim, 4, workload.batch, int(indices.size),
                         int(np.unique(indices).size))
            ops.append(op)
            funcs[id(op)] = embedding_ops.embedding_bag(table.dim, "sum")
        model = CostModel(machine, lambda op, strategy: unit_costs(funcs[id(op)], options, strategy))
        for _ in range(5):
            subset = [ops[i] for i in rng.choice(len(ops), size=5, replace=False)]
            time = model.time_function(subset)
            auto = plan_level(subset, machine.cores, time).estimate
            best = plan_exhaustive(subset, machine.cores, time).estimate
            gaps.append(auto / best - 1)
    print(f"auto / exhaustive - 1 over {len(gaps)} subsets: mean {100 * np.mean(gaps):.1f}%, "
          f"median {100 * np.median(gaps):.1f}%, max {100 * max(gaps):.1f}%, exact in {sum(g < 1e-9 for g in gaps)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machine", default="tmu")
    parser.add_argument("--row_cap", type=int, default=workloads.DEFAULT_ROW_CAP)
    parser.add_argument("--dim", type=int, default=workloads.DEFAULT_DIM)
    parser.add_argument("--batch", type=int, default=workloads.DEFAULT_BATCH)
    parser.add_argument("--quick", action="store_true", help="row_cap 2,000, batch 64")
    parser.add_argument("--only", default="", help="workload names containing this")
    parser.add_argument("--gap", action="store_true", help="only compare the planner with exhaustive search")
    args = parser.parse_args()
    if args.quick:
        args.row_cap, args.batch = 2000, 64
    if args.gap:
        gap(args)
        return
    print(f"machine {args.machine}, row cap {args.row_cap:,}, dim {args.dim}, batch {args.batch}")
    print(f"{'workload':34} {'even':>10} {'auto':>10} {'speedup':>8} {'even/DRAM':>10} {'even/cores':>10}  "
          f"{'estimate/emulated':>17}  {'equal':>5}  strategies (groups)")
    speedups, errors = [], []
    with tempfile.TemporaryDirectory() as folder:
        for workload in _workloads(args):
            if args.only not in workload.name:
                continue
            r = run(workload, args.machine, pathlib.Path(folder))
            even, auto = r["even"], r["auto"]
            speedup = even["cycles"] / auto["cycles"]
            ratio = auto["estimate"] / auto["kernel_span"]
            speedups.append(speedup)
            errors.append(abs(ratio - 1))
            strategies = ", ".join(f"{s} x{n}" for s, n in sorted(auto["strategies"].items()))
            bound = min(even["bound"], auto["bound"])     # all DRAM bytes at peak bandwidth
            core_bound = min(even["core_bound"], auto["core_bound"])    # all busy cycles, evenly spread
            print(f"{r['workload']:34} {even['cycles']:>10,} {auto['cycles']:>10,} {speedup:>7.2f}x "
                  f"{even['cycles'] / bound:>9.2f}x {even['cycles'] / core_bound:>9.2f}x  "
                  f"{ratio:>17.2f}  {str(even['equal'] and auto['equal']):>5}  {strategies} ({auto['groups']})",
                  flush=True)
    geomean = math.exp(sum(math.log(s) for s in speedups) / len(speedups))
    print(f"geomean speedup {geomean:.2f}x (floor 1.5x); slowest {min(speedups):.2f}x (floor 1.0x); "
          f"worst estimate error {100 * max(errors):.0f}% (floor 20%)")


if __name__ == "__main__":
    main()
