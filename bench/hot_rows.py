"""Profile-guided hot rows against software row caches (FBGEMM's LRU and LFU) and no
placement, on the Criteo-like workload with Zipf ids (bench/workloads.py; the same ids stay
popular from batch to batch: `hot_seed`). Per alpha:

1. the TensorFlow model is saved and converted on the README's path (defaults, the batch as
   sample inputs); a trace of batches is written as .npz files;
2. `ember-tf profile` samples the trace (`--sample_rate`) into an access profile;
3. the model is converted again with `--profile --hot_bytes` at 1%, 5% and 10% of its table
   bytes; the model without hot rows also runs with an LRU and an LFU row cache of the same
   bytes (32 ways, as FBGEMM's);
4. every variant runs the same held-out batches (warm-up batches first: a cache keeps its rows
   across runs, hot rows are loaded with the model); DRAM bytes and cycles are the means over
   the measured batches, and every output is compared with TensorFlow's.

Two LLCs, each a section: `cold` (each batch starts with an empty LLC, as after other work
has run between batches) and `warm` (the LLC keeps the rows earlier batches read:
Interpreter(warm_llc=True)); the same in every variant of a section. "read bytes" are the
DRAM bytes the kernels read: the table rows (what placement and caches act on) and the ids;
"DRAM bytes" add the pooled outputs written and the preloads of on-chip tables.

Drift: the profile taken at alpha 1.15 applied to batches whose popular ids moved (another
`hot_seed`) and to batches of another alpha, at the 5% budget.

    .venv/bin/python bench/hot_rows.py              # row cap 100,000, batch 256 (several minutes)
    .venv/bin/python bench/hot_rows.py --quick      # row cap 5,000, batch 64, one alpha
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import workloads  # noqa: E402

from ember_tf import Converter, Interpreter  # noqa: E402
from ember_tf.compiler import CompileOptions  # noqa: E402
from ember_tf.emulator import RowCacheConfig  # noqa: E402
from ember_tf.machines import load_machine  # noqa: E402

BUDGETS = (0.01, 0.05, 0.10)


@dataclasses.dataclass
class Measured:
    cycles: float
    dram_bytes: float
    row_bytes: float
    equal: bool
    busy: float = 0.0       # the busiest core's busy cycles (instructions, callbacks; with no access unit, stalls too)


def write_trace(args, workload, folder: pathlib.Path, batches: int, first_seed: int) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(batches):
        feeds = workloads.signature_feeds(workloads.feeds(workload, first_seed + i), args.lookup)
        np.savez(folder / f"batch{i:05d}.npz", **feeds)
    return folder


def measure(content: bytes, batches: list[dict], references: list[dict], warmup: int, **interpreter) -> Measured:
    """Runs every batch in order on one Interpreter; the means over those after `warmup`."""
    it = Interpreter(model_content=content, **interpreter)
    runner = it.get_signature_runner()
    cycles, dram, rows, busy, equal = [], [], [], [], True
    for i, (feeds, want) in enumerate(zip(batches, references)):
        got = runner(**feeds)
        equal &= all(np.allclose(got[k], want[k], rtol=1e-5, atol=1e-5) for k in want)
        if i >= warmup:
            cycles.append(it.last_stats.cycles)
            dram.append(it.last_stats.dram_bytes)
            rows.append(_row_bytes(it.last_stats))
            busy.append(_busiest_core(it.last_stats))
    return Measured(float(np.mean(cycles)), float(np.mean(dram)), float(np.mean(rows)), equal, float(np.mean(busy)))


def _busiest_core(stats) -> int:
    """The most busy cycles one core spends on its kernels' instructions and callbacks in a run:
    with an access unit fetching the rows, placing them changes where they come from, not this
    work, so no placement goes below it."""
    busy: dict[int, int] = {}
    for kernel in stats.kernels:
        for core in kernel.cores:
            busy[core.core] = busy.get(core.core, 0) + core.core_busy_cycles
    return max(busy.values(), default=0)


def _row_bytes(stats) -> int:
    """DRAM bytes read by the kernels: the table rows, and the ids and offsets (a few percent),
    not the DMA engines' preloads of the tables the planner holds on-chip (the same in every
    variant)."""
    return sum(c.dram_read_bytes - c.dma_bytes for k in stats.kernels for c in k.cores)


def held_out(workload, model, seeds, lookup: str) -> tuple[list[dict], list[dict]]:
    import tensorflow as tf

    batches = [workloads.signature_feeds(workloads.feeds(workload, s), lookup) for s in seeds]
    references = [{k: v.numpy() for k, v in model.serve(**{k: tf.constant(v) for k, v in b.items()}).items()}
                  for b in batches]
    return batches, references


def profile(daebin: pathlib.Path, trace: pathlib.Path, out: pathlib.Path, rate: float, machine: str) -> None:
    done = subprocess.run([sys.executable, "-m", "ember_tf.cli", "profile", str(daebin), f"--inputs={trace}",
                           f"--out={out}", f"--sample_rate={rate}", f"--machine={machine}"],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"ember-tf profile failed: {done.stderr.strip().splitlines()[-1]}")


HEADER = (f"{'variant':36} {'read bytes':>11} {'cut':>7} {'DRAM bytes':>11} {'cut':>7} {'cycles':>9} {'cut':>7}"
          f"  equal")


def row(label: str, m: Measured, base: Measured) -> str:
    return (f"{label:36} {m.row_bytes:>11,.0f} {1 - m.row_bytes / base.row_bytes:>7.1%} {m.dram_bytes:>11,.0f} "
            f"{1 - m.dram_bytes / base.dram_bytes:>7.1%} {m.cycles:>9,.0f} {1 - m.cycles / base.cycles:>7.1%}  "
            f"{'yes' if m.equal else 'NO'}")


def run_alpha(args, alpha: float, folder: pathlib.Path, drift: bool) -> None:
    import tensorflow as tf

    workload = workloads.criteo_kaggle(row_cap=args.row_cap, dim=args.dim, batch=args.batch, alpha=alpha)
    workload = dataclasses.replace(workload, hot_seed=0)
    model = workloads.tensorflow_model(workload, lookup=args.lookup)
    saved = folder / f"model_{alpha}"
    tf.saved_model.save(model, str(saved), signatures=model.serve)
    sample = workloads.signature_feeds(workloads.feeds(workload, 10_000), args.lookup)
    options = CompileOptions(target=args.machine)
    plain = Converter.from_saved_model(saved, options=options, sample_inputs=sample).convert()
    plain_path = folder / f"plain_{alpha}.daebin"
    plain_path.write_bytes(plain)
    trace = write_trace(args, workload, folder / f"trace_{alpha}", args.trace, 20_000)
    profile_path = folder / f"profile_{alpha}.npz"
    profile(plain_path, trace, profile_path, args.sample_rate, args.machine)
    seeds = range(args.warmup + args.measure)
    batches, references = held_out(workload, model, seeds, args.lookup)
    print(f"\n{args.machine}, {args.lookup}, alpha {alpha}: {len(workload.tables)} tables, "
          f"{workload.nbytes:,} table bytes, batch {args.batch}; "
          f"profile: {args.sample_rate:.0%} of a {args.trace}-batch trace; {args.warmup} warm-up + "
          f"{args.measure} measured batches")
    placed = {f: Converter.from_saved_model(saved, options=options, sample_inputs=sample, profile=profile_path,
                                            hot_bytes=int(f * workload.nbytes)).convert() for f in BUDGETS}
    for llc in args.llc.split(","):
        warm = dict(warm_llc=llc == "warm", machine=args.machine)
        print(f"-- {llc} LLC")
        print(HEADER)
        base = measure(plain, batches, references, args.warmup, **warm)
        print(row("no placement", base, base))
        if load_machine(args.machine).has_access_unit:   # without one, the busy cycles include load stalls
            print(f"  (its busiest core is busy {base.busy:,.0f} cycles: placement cuts at most "
                  f"{1 - base.busy / base.cycles:.1%} of the cycles)")
        for fraction in BUDGETS:
            budget = int(fraction * workload.nbytes)
            for policy in ("lru", "lfu"):
                m = measure(plain, batches, references, args.warmup, row_cache=RowCacheConfig(policy, budget), **warm)
                print(row(f"{policy.upper()} cache, {fraction:.0%} ({budget:,} B)", m, base))
            m = measure(placed[fraction], batches, references, args.warmup, **warm)
            print(row(f"hot rows, {fraction:.0%} ({budget:,} B)", m, base))
        if drift:
            _drift(args, workload, model, plain, placed[0.05], seeds, warm)


def _drift(args, workload, model, plain: bytes, placed: bytes, seeds, warm: dict) -> None:
    """The profile of this workload on batches whose popular ids or alpha changed, at 5%."""
    budget = int(0.05 * workload.nbytes)
    for label, shifted in (("popular ids moved", dataclasses.replace(workload, hot_seed=1)),
                           ("alpha 1.05", dataclasses.replace(workload, alpha=1.05)),
                           ("alpha 1.3", dataclasses.replace(workload, alpha=1.3))):
        batches, references = held_out(shifted, model, seeds, args.lookup)
        none = measure(plain, batches, references, args.warmup, **warm)
        lru = measure(plain, batches, references, args.warmup, row_cache=RowCacheConfig("lru", budget), **warm)
        hot = measure(placed, batches, references, args.warmup, **warm)
        print(row(f"drift, {label}: none", none, none))
        print(row(f"drift, {label}: LRU 5%", lru, none))
        print(row(f"drift, {label}: hot rows 5%", hot, none))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machine", default="tmu", help="tmu, cpu, gpu: the conversion's target and the emulator's")
    parser.add_argument("--row_cap", type=int, default=workloads.DEFAULT_ROW_CAP)
    parser.add_argument("--dim", type=int, default=workloads.DEFAULT_DIM)
    parser.add_argument("--batch", type=int, default=workloads.DEFAULT_BATCH)
    parser.add_argument("--trace", type=int, default=1000, help="batches in the trace the profile samples")
    parser.add_argument("--sample_rate", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--measure", type=int, default=4)
    parser.add_argument("--alphas", default=",".join(str(a) for a in workloads.ZIPF_ALPHAS))
    parser.add_argument("--lookup", default="gather", choices=["gather", "bag"],
                        help="gather: one id a sample looked up as Keras Embedding does (tf.gather); bag: CSR ids "
                             "pooled by tf.sparse.segment_sum (the multi-hot form, with one id a bag)")
    parser.add_argument("--llc", default="cold,warm", help="LLC sections: cold, warm or both")
    parser.add_argument("--quick", action="store_true", help="row cap 5,000, batch 64, alpha 1.15, short trace")
    args = parser.parse_args()
    if args.quick:
        args.row_cap, args.batch, args.trace, args.alphas, args.warmup, args.measure = 5000, 64, 40, "1.15", 2, 2
    with tempfile.TemporaryDirectory() as folder:
        for alpha in (float(a) for a in args.alphas.split(",")):
            run_alpha(args, alpha, pathlib.Path(folder), drift=alpha == 1.15)


if __name__ == "__main__":
    main()
