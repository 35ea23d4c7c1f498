"""Chrome trace-event JSON of a run (opens in Perfetto and chrome://tracing):
per core, the access unit filling queue chunks, the core draining them, and
the queue fill level; host segments (on the matrix units) on a track of their own."""

from __future__ import annotations

from ember_tf.emulator.stats import RunStats

ACCESS_UNIT, CORE = 1, 2
HOST_PID = 1 << 20  # the host-segment track, below every core


def chrome_trace(stats: RunStats) -> dict:
    to_us = 1.0 / (stats.clock_ghz * 1e3)  # cycles -> microseconds
    events: list[dict] = []
    cores = sorted({t.core_id for k in stats.kernels for t in k.timings})
    for core in cores:
        events.append({"ph": "M", "name": "process_name", "pid": core, "args": {"name": f"core {core}"}})
        events.append({"ph": "M", "name": "thread_name", "pid": core, "tid": ACCESS_UNIT,
                       "args": {"name": "access unit"}})
        events.append({"ph": "M", "name": "thread_name", "pid": core, "tid": CORE, "args": {"name": "core"}})
    for kernel in stats.kernels:
        offset = kernel.start_cycle
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
