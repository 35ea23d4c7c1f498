"""Chrome trace-event JSON of a run (opens in Perfetto and chrome://tracing):
per core, the kernels that hold it (from their start in the schedule to their end), the
access unit filling queue chunks, the core draining them, and the queue fill level;
host segments (on the matrix units) on a track of their own."""

from __future__ import annotations

from ember_tf.emulator.stats import RunStats

ACCESS_UNIT, CORE, KERNEL = 1, 2, 3
HOST_PID = 1 << 20  # the host-segment track, below every core


def chrome_trace(stats: RunStats) -> dict:
    to_us = 1.0 / (stats.clock_ghz * 1e3)  # cycles -> microseconds
    events: list[dict] = []
    held = {id(k): _held(k) for k in stats.kernels}
    cores = sorted({t.core_id for k in stats.kernels for t in k.timings} | {c for h in held.values() for c in h})
    for core in cores:
        events.append({"ph": "M", "name": "process_name", "pid": core, "args": {"name": f"core {core}"}})
        events.append({"ph": "M", "name": "thread_name", "pid": core, "tid": KERNEL, "args": {"name": "kernel"}})
        events.append({"ph": "M", "name": "thread_name", "pid": core, "tid": ACCESS_UNIT,
                       "args": {"name": "access unit"}})
        events.append({"ph": "M", "name": "thread_name", "pid": core, "tid": CORE, "args": {"name": "core"}})
    for kernel in stats.kernels:
        offset = kernel.start_cycle
        for core in held[id(kernel)]:
            events.append({"ph": "X", "name": kernel.kernel, "pid": core, "tid": KERNEL, "ts": offset * to_us,
                           "dur": kernel.cycles * to_us,
                           "args": {"cores": f"{kernel.core_offset}..{kernel.core_offset + kernel.core_count - 1}",
                                    "dram_bytes": kernel.dram_bytes}})
        for t in kernel.timings:
            for k in range(t.chunks):
                if t.chunk_au_end[k] > t.chunk_au_start[k]:
                    events.append({"ph": "X", "name": f"{kernel.kernel}: fill chunk {k}", "pid": t.core_id,
                                   "tid": ACCESS_UNIT, "ts": (offset + t.chunk_au_start[k]) * to_us,
                                   "dur": (t.chunk_au_end[k] - t.chunk_au_start[k]) * to_us,
                                   "args": {"bytes": int(t.chunk_fill[k])}})
                if t.chunk_core_end[k] > t.chunk_core_start[k]:
                    events.append({"ph": "X", "name": f"{kernel.kernel}: callbacks of chunk {k}", "pid": t.core_id,
                                   "tid": CORE, "ts": (offset + t.chunk_core_start[k]) * to_us,
                                   "dur": (t.chunk_core_end[k] - t.chunk_core_start[k]) * to_us})
                events.append({"ph": "C", "name": "queue bytes", "pid": t.core_id,
                               "ts": (offset + t.chunk_au_end[k]) * to_us, "args": {"bytes": int(t.chunk_fill[k])}})
                events.append({"ph": "C", "name": "queue bytes", "pid": t.core_id,
                               "ts": (offset + t.chunk_core_end[k]) * to_us, "args": {"bytes": 0}})
    if stats.host_segments:
        events.append({"ph": "M", "name": "process_name", "pid": HOST_PID,
                       "args": {"name": "host segments (matrix units)"}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": HOST_PID, "args": {"sort_index": HOST_PID}})
        events.append({"ph": "M", "name": "thread_name", "pid": HOST_PID, "tid": 1, "args": {"name": "host"}})
    for host in stats.host_segments:
        events.append({"ph": "X", "name": f"host segment {host.name}", "pid": HOST_PID, "tid": 1,
                       "ts": host.start_cycle * to_us, "dur": host.cycles * to_us,
                       "args": {"flops": host.flops, "dram_bytes": host.dram_bytes,
                                "bound": "compute" if host.compute_bound else "memory"}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"machine": stats.machine, "cycles": stats.cycles, "kernel_cycles": stats.kernel_cycles,
                          "host_cycles": stats.host_cycles}}


def _held(kernel) -> range:
    """The cores a kernel holds (its range; stats made before ranges: the cores it ran on)."""
    if kernel.core_count:
        return range(kernel.core_offset, kernel.core_offset + kernel.core_count)
    return range(0, max((t.core_id for t in kernel.timings), default=-1) + 1)
