"""Run statistics: per core, per kernel, per host segment and in total (what
--stats_json writes)."""

from __future__ import annotations

import dataclasses

from ember_tf.machines import MachineConfig
from ember_tf.emulator.timing import CoreTiming


@dataclasses.dataclass
class CoreStats:
    core: int
    cycles: int
    dram_bytes: int
    dram_read_bytes: int
    dram_write_bytes: int
    access_unit_busy_cycles: int
    access_unit_stalled_cycles: int
    core_busy_cycles: int
    core_stalled_cycles: int
    au_requests: int
    llc_hit_rate: float
    l1_hit_rate: float
    queue_bytes: int
    queue_chunks: int
    mean_chunk_occupancy: float   # fraction of a chunk filled, averaged over chunks
    callbacks: int
    instructions: dict
    # Placed slots (docs/EMULATOR.md, "Placement"); 0 without: DRAM bytes the core's DMA engine
    # moved (part of dram_read_bytes), its cycles (preload + streaming), accesses served locally.
    dma_bytes: int = 0
    dma_cycles: int = 0
    scratchpad_accesses: int = 0
    buffer_accesses: int = 0
    hot_accesses: int = 0
    access_unit_dram_read_bytes: int = 0   # of dram_read_bytes: the access unit's (rows, ids, offsets)
    stored_bytes: int = 0   # lines the core wrote; the LLC is write-back, dram_write_bytes of them reached DRAM


@dataclasses.dataclass
class KernelStats:
    kernel: str
    cycles: int
    dram_bytes: int
    bandwidth_bound: bool
    cores: list[CoreStats]
    timings: list[CoreTiming] = dataclasses.field(repr=False, default_factory=list)
    start_cycle: int = 0  # where the kernel starts in the run (the schedule: emulator/schedule.py)
    # The machine cores the kernel holds, core_offset .. core_offset + core_count - 1 (all of them
    # unless its operator names a range), and how many cores shared the DRAM bandwidth with it.
    core_offset: int = 0
    core_count: int = 0
    active_cores: int = 0


@dataclasses.dataclass
class HostStats:
    """A host segment (residual dense graph) on the matrix units: see emulator/host.py."""

    name: str
    cycles: int
    flops: int
    dram_bytes: int
    compute_bound: bool         # flops / peak >= bytes / bandwidth
    flops_exact: bool           # every shape the count needed was known
    flops_by_op: dict
    start_cycle: int = 0


def _rate(hits: int, total: int) -> float:
    return round(hits / total, 6) if total else 0.0


def kernel_stats(name: str, machine: MachineConfig, timings: list[CoreTiming]) -> KernelStats:
    dram_bytes = sum(t.dram_bytes for t in timings)
    floor = dram_bytes / machine.dram_bytes_per_cycle
    slowest = max(t.cycles for t in timings)
    cores = [
        CoreStats(
            core=t.core_id,
            cycles=int(round(t.cycles)),
            dram_bytes=t.dram_bytes,
            dram_read_bytes=t.dram_reads * machine.line_bytes,
            dram_write_bytes=t.dram_writes * machine.line_bytes,
            access_unit_busy_cycles=int(round(t.au_busy)),
            access_unit_stalled_cycles=int(round(t.au_stalled)),
            core_busy_cycles=int(round(t.core_busy)),
            core_stalled_cycles=int(round(t.core_stalled)),
            au_requests=t.au_requests,
            llc_hit_rate=_rate(t.llc_hits, t.au_requests),
            l1_hit_rate=_rate(t.core_l1_hits, t.core_loads),
            queue_bytes=t.queue_bytes,
            queue_chunks=t.chunks,
            mean_chunk_occupancy=round(t.queue_bytes / (t.chunks * machine.queue_chunk_bytes), 6),
            callbacks=t.callbacks,
            instructions=dict(sorted(t.counts.items())),
            dma_bytes=t.dma_bytes,
            dma_cycles=int(round(t.dma_cycles)),
            scratchpad_accesses=t.scratchpad_accesses,
            buffer_accesses=t.buffer_accesses,
            hot_accesses=t.hot_accesses,
            access_unit_dram_read_bytes=t.au_dram_reads * machine.line_bytes,
            stored_bytes=t.stored_lines * machine.line_bytes,
        )
        for t in timings
    ]
    cycles = max(slowest, floor) + machine.kernel_launch_cycles
    return KernelStats(name, int(round(cycles)), dram_bytes, floor > slowest, cores, timings)


@dataclasses.dataclass
class RunStats:
    machine: str
    clock_ghz: float
    cycles: int
    dram_bytes: int
    seconds: float
    achieved_bandwidth_gbps: float
    peak_bandwidth_gbps: float
    percent_of_peak_bandwidth: float
    kernels: list[KernelStats]
    kernel_cycles: int = 0
    host_cycles: int = 0
    host_segments: list[HostStats] = dataclasses.field(default_factory=list)
    mode: str = "fast"   # the emulation mode that ran (fast or golden: same outputs, same cycles within tolerance)

    @staticmethod
    def combine(machine: MachineConfig, steps: list[KernelStats | HostStats], mode: str = "fast",
                scheduled: bool = False) -> "RunStats":
        """Totals over the operators run, in execution order. `scheduled`: their start cycles
        are set (emulator/schedule.py) and the run ends when the last one ends; otherwise they
        run one after another. kernel_cycles and host_cycles add up each kind's cycles."""
        cycles = 0
        for step in steps:
            if scheduled:
                cycles = max(cycles, step.start_cycle + step.cycles)
            else:
                step.start_cycle = cycles
                cycles += step.cycles
        kernels = [s for s in steps if isinstance(s, KernelStats)]
        hosts = [s for s in steps if isinstance(s, HostStats)]
        dram_bytes = sum(s.dram_bytes for s in steps)
        seconds = cycles / (machine.clock_ghz * 1e9)
        achieved = dram_bytes / seconds / 1e9 if seconds else 0.0
        return RunStats(machine.name, machine.clock_ghz, cycles, dram_bytes, seconds, round(achieved, 3),
                        machine.dram_bandwidth_gbps, round(100 * achieved / machine.dram_bandwidth_gbps, 3),
                        kernels, sum(k.cycles for k in kernels), sum(h.cycles for h in hosts), hosts, mode)

    def to_json(self) -> dict:
        result = dataclasses.asdict(self)
        for kernel in result["kernels"]:
            kernel.pop("timings")
        return result
