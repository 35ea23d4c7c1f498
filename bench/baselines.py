"""DAE (tmu) against the CPU baseline on the same cores and memory, with the ratio the
machine files predict.

    .venv/bin/python bench/baselines.py [--scale 1.0]

Workloads: the ablation's RM1-RM3 bags and two message-passing graphs
(bench/ablation.py), and a memory-bound bag: 8 tables x 100,000 x 64 f32, batch 256,
pooling 32 (205 MB of tables against a 32 MiB LLC). Each table is its own kernel, as
the converter makes them, run one after another; each kernel is compiled at O3 with
the defaults (split_cores on: tmu splits batch loops over the access units, cpu runs
one copy per core) for each machine and emulated on all 8 cores, and on 1 cpu core;
outputs are checked equal across machines.

The expectation comes from memory-level parallelism alone (Little's law): the run's
line requests R and LLC hit rate h (from the tmu run; both machines touch the same
lines) give, per machine with `inflight` misses per core,
    T = max(R * (h * llc_latency + (1 - h) * dram_latency) / (cores * inflight),
            R * (1 - h) * line / dram_bandwidth)
with inflight = outstanding_requests (128) on tmu and mlp (12) on cpu and `cores` the
cores the kernel used, summed over the kernels. It ignores the core's instructions, so
where the work is compute-bound the measured ratio falls below it. Segment sums write
rows chosen by data, so neither machine splits them: they use one core each.
The gpu (ember_tf/machines/gpu.toml, an H100-class GPU) has its own memory (HBM3, 16x the DDR5
bandwidth of tmu and cpu), so its column compares machines, not the access unit alone:
times are in microseconds (the clocks differ), and its expectation is Little's law over
its own sector reads (SMs x mlp sectors in flight) plus a kernel launch per kernel.
Ratios are of times; cycles are printed too (each at its machine's clock).
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from ablation import Bags, Graph, graph_workload
from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.emulator import Interpreter
from ember_tf.machines import load_machine
from ember_tf.ir import embedding_ops


def bags(w: Bags, rng, fixed: bool = False) -> list:
    """One (kernel, feeds) per table: bags of pooling/2 .. 3*pooling/2 ids (the ablation's), or
    exactly `pooling` with `fixed`."""
    parts = []
    for _ in range(w.tables):
        lengths = np.full(w.batch, w.pooling) if fixed else rng.integers(w.pooling // 2, w.pooling * 3 // 2 + 1,
                                                                          size=w.batch)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        feeds = {"table": rng.standard_normal((w.rows, w.dim)).astype(np.float32),
                 "indices": rng.integers(0, w.rows, size=int(offsets[-1])).astype(np.int32), "offsets": offsets}
        parts.append((embedding_ops.embedding_bag(w.dim, "sum"), feeds))
    return parts


@dataclasses.dataclass
class Run:
    cycles: int
    kernels: list      # KernelStats of every kernel run
    outputs: list


def emulate(parts: list, machine: str, cores: int | None = None) -> Run:
    run = Run(0, [], [])
    overrides = {"cores": cores} if cores else {}
    for func, feeds in parts:
        data = compile_model(func, CompileOptions(target=machine, opt_level=3))
        interpreter = Interpreter(model_content=data, machine=machine, **overrides)
        run.outputs.append(interpreter.get_signature_runner()(**feeds))
        run.cycles += interpreter.last_stats.cycles
        run.kernels += interpreter.last_stats.kernels
    return run


def expected_seconds(run: Run, machine, inflight: int) -> float:
    """Little's law over the lines each kernel of `run` requested, on the cores it used."""
    seconds = 0.0
    for kernel in run.kernels:
        requests = sum(c.au_requests for c in kernel.cores)
        hits = sum(c.au_requests * c.llc_hit_rate for c in kernel.cores)
        misses = requests - hits
        latency = (hits * machine.llc_latency_ns + misses * machine.dram_latency_ns) * 1e-9
        seconds += max(latency / (len(kernel.cores) * inflight),
                       misses * machine.line_bytes / (machine.dram_bandwidth_gbps * 1e9))
    return seconds


def gpu_expected_seconds(run: Run, machine) -> float:
    """Little's law for the gpu's own sector reads: each kernel's SMs keep `mlp` sectors in
    flight; no SM set beats HBM bandwidth; every kernel pays its launch."""
    seconds = 0.0
    for kernel in run.kernels:
        reads = sum(c.dram_read_bytes for c in kernel.cores)
        in_flight = len(kernel.cores) * machine.mlp * machine.line_bytes / (machine.dram_latency_ns * 1e-9)
        seconds += max(reads / in_flight, kernel.dram_bytes / (machine.dram_bandwidth_gbps * 1e9))
        seconds += machine.kernel_launch_cycles / (machine.clock_ghz * 1e9)
    return seconds


def seconds(run: Run, machine) -> float:
    return run.cycles / (machine.clock_ghz * 1e9)


def percent_of_peak(run: Run, machine) -> float:
    return 100 * sum(k.dram_bytes for k in run.kernels) / seconds(run, machine) / (machine.dram_bandwidth_gbps * 1e9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies rows, batch and nodes of the ablation set")
    args = parser.parse_args()
    s = args.scale
    tmu, cpu, gpu = load_machine("tmu"), load_machine("cpu"), load_machine("gpu")
    assert (tmu.cores, tmu.dram_bandwidth_gbps, tmu.llc_bytes) == (cpu.cores, cpu.dram_bandwidth_gbps, cpu.llc_bytes)
    workloads = [
        ("RM1", lambda rng: bags(Bags("RM1", 4, int(20000 * s), 32, 20, int(64 * s)), rng)),
        ("RM2", lambda rng: bags(Bags("RM2", 4, int(20000 * s), 64, 40, int(64 * s)), rng)),
        ("RM3", lambda rng: bags(Bags("RM3", 4, int(20000 * s), 128, 80, int(64 * s)), rng)),
        ("power-law graph", lambda rng: [graph_workload(Graph("power", int(4000 * s), 64, "power"), rng)]),
        ("road-like graph", lambda rng: [graph_workload(Graph("road", int(8000 * s), 64, "road"), rng)]),
        ("8-table bag (memory-bound)", lambda rng: bags(Bags("bag", 8, 100_000, 64, 32, 256), rng, fixed=True)),
    ]
    print(f"tmu and cpu: {tmu.cores} cores each at {tmu.clock_ghz} GHz, {tmu.dram_bandwidth_gbps} GB/s DRAM, "
          f"{tmu.llc_bytes >> 20} MiB LLC; in flight per core: tmu {tmu.outstanding_requests}, cpu {cpu.mlp} lines. "
          f"gpu: {gpu.cores} SMs at {gpu.clock_ghz} GHz, {gpu.dram_bandwidth_gbps:.0f} GB/s HBM, "
          f"{gpu.llc_bytes >> 20} MiB L2, {gpu.mlp} sectors in flight per SM, "
          f"{gpu.kernel_launch_cycles / gpu.clock_ghz / 1e3:.1f} us per kernel launch")
    print(f"{'workload':28} {'tmu cycles':>11} {'cpu cycles':>11} {'gpu cycles':>11} "
          f"{'tmu us':>8} {'cpu us':>8} {'gpu us':>8} {'cpu/tmu':>8} {'expected':>9} {'gap':>5} "
          f"{'gpu/tmu':>8} {'expected':>9} {'gap':>5} {'cpu 1c/8c':>9} {'cores':>11}  % of peak BW (tmu, cpu, gpu)")
    for name, make in workloads:
        parts = make(np.random.default_rng(0))
        runs = {m: emulate(parts, m) for m in ("tmu", "cpu", "gpu")}
        one_core = emulate(parts, "cpu", cores=1)
        for machine in ("cpu", "gpu"):
            for want, got in zip(runs["tmu"].outputs, runs[machine].outputs):
                for key in want:
                    np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-4)
        t = {m: seconds(runs[m], machine) for m, machine in (("tmu", tmu), ("cpu", cpu), ("gpu", gpu))}
        tmu_expected = expected_seconds(runs["tmu"], tmu, tmu.outstanding_requests)
        cpu_expected = expected_seconds(runs["tmu"], cpu, cpu.mlp) / tmu_expected
        gpu_expected = gpu_expected_seconds(runs["gpu"], gpu) / tmu_expected
        used = "/".join(str(max(len(k.cores) for k in runs[m].kernels)) for m in ("tmu", "cpu", "gpu"))
        peaks = ", ".join(f"{percent_of_peak(runs[m], machine):.0f}%"
                          for m, machine in (("tmu", tmu), ("cpu", cpu), ("gpu", gpu)))
        cpu_ratio, gpu_ratio = t["cpu"] / t["tmu"], t["gpu"] / t["tmu"]
        print(f"{name:28} {runs['tmu'].cycles:11,} {runs['cpu'].cycles:11,} {runs['gpu'].cycles:11,} "
              f"{t['tmu'] * 1e6:8.1f} {t['cpu'] * 1e6:8.1f} {t['gpu'] * 1e6:8.1f} {cpu_ratio:7.2f}x "
              f"{cpu_expected:8.2f}x {cpu_ratio / cpu_expected - 1:+5.0%} {gpu_ratio:7.2f}x {gpu_expected:8.2f}x "
              f"{gpu_ratio / gpu_expected - 1:+5.0%} {one_core.cycles / runs['cpu'].cycles:8.1f}x {used:>11}  {peaks}")


if __name__ == "__main__":
    main()
