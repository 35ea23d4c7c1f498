"""The timing model: turns a core's activity into cycles on a modelled machine.

Granularity is the queue chunk (docs/EMULATOR.md). The access unit fills
chunk k while the core drains chunk k-1; with `queue_chunks` buffers the unit
stalls when all are full and the core stalls when none is ready:

    au_end[k]   = max(au_end[k-1], core_end[k - queue_chunks]) + au[k]
    core_end[k] = max(core_end[k-1], au_end[k]) + core[k]

au[k] is the slowest of: lane throughput (stream elements / lanes), Little's
law (DRAM misses x latency / outstanding requests), the core's share of DRAM
bandwidth, and LLC hits x LLC latency / outstanding requests. core[k] is the
sum of per-instruction costs, callback dispatch, and stalls of the core's own
loads that miss L1 (latency / mlp). Caches use a recency window: a line hits
if it was touched within the last capacity/line accesses of that level — an
approximation of LRU that is the same function in every emulation mode.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numba import njit

from ember_tf.emulator.activity import CoreActivity
from ember_tf.emulator.machine import MachineConfig


@dataclasses.dataclass
class CoreTiming:
    core_id: int
    cycles: float
    au_busy: float
    au_stalled: float
    core_busy: float
    core_stalled: float
    au_requests: int
    llc_hits: int
    dram_reads: int          # lines
    core_loads: int
    core_l1_hits: int
    dram_writes: int         # lines written back
    dram_bytes: int
    queue_bytes: int
    chunks: int
    callbacks: int
    counts: dict
    chunk_au_start: np.ndarray
    chunk_au_end: np.ndarray
    chunk_core_start: np.ndarray
    chunk_core_end: np.ndarray
    chunk_fill: np.ndarray


@njit(cache=True, nogil=True)
def recency_hits(lines: np.ndarray, window: int) -> np.ndarray:
    """hit[i] = line i was accessed within the previous `window` accesses.

    One pass with an open-addressing table of each line's last position."""
    n = len(lines)
    hit = np.zeros(n, dtype=np.bool_)
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    mask = (1 << bits) - 1
    keys = np.full(1 << bits, -1, dtype=np.int64)
    last = np.zeros(1 << bits, dtype=np.int64)
    for i in range(n):
        line = lines[i]
        slot = np.int64((np.uint64(line) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)) & mask
        while keys[slot] != -1 and keys[slot] != line:
            slot = (slot + 1) & mask
        if keys[slot] == line:
            hit[i] = i - last[slot] <= window
        keys[slot] = line
        last[slot] = i
    return hit


@njit(cache=True, nogil=True)
def coalesce(streams: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Keep an access unless the same stream's previous access hit the same line."""
    n = len(lines)
    keep = np.ones(n, dtype=np.bool_)
    if n == 0:
        return keep
    previous = np.full(streams.max() + 1, -1, dtype=np.int64)
    for i in range(n):
        if previous[streams[i]] == lines[i]:
            keep[i] = False
        previous[streams[i]] = lines[i]
    return keep


@njit(cache=True, nogil=True)
def _pipeline(au, core, buffers, startup):
    """Start and end of each chunk on the access unit and on the core."""
    n = len(au)
    au_start, au_end = np.zeros(n), np.zeros(n)
    core_start, core_end = np.zeros(n), np.zeros(n)
    previous_au, previous_core = startup, 0.0
    for k in range(n):
        free = core_end[k - buffers] if k >= buffers else 0.0
        au_start[k] = max(previous_au, free)
        au_end[k] = previous_au = au_start[k] + au[k]
        core_start[k] = max(previous_core, au_end[k])
        core_end[k] = previous_core = core_start[k] + core[k]
    return au_start, au_end, core_start, core_end


def time_core(activity: CoreActivity, machine: MachineConfig, active_cores: int) -> CoreTiming:
    line = machine.line_bytes
    bw_share = machine.dram_bytes_per_cycle / max(1, active_cores)
    n_entries = len(activity.entry_bytes)

    # Chunks of the output queue.
    starts = np.cumsum(activity.entry_bytes) - activity.entry_bytes
    entry_chunk = starts // machine.queue_chunk_bytes if n_entries else np.zeros(0, dtype=np.int64)
    n_chunks = int(entry_chunk[-1]) + 1 if n_entries else 1
    last = n_chunks - 1

    def chunk_of(entries: np.ndarray) -> np.ndarray:
        clipped = np.clip(entries, 0, max(n_entries - 1, 0))
        result = entry_chunk[clipped] if n_entries else np.zeros(len(entries), dtype=np.int64)
        return np.where(entries >= n_entries, last, np.where(entries < 0, 0, result))

    # Access unit: requests, LLC hits, DRAM misses, lane work per chunk.
    au_lines = activity.au_line
    kept = coalesce(activity.au_stream, au_lines)
    req_lines, req_chunk = au_lines[kept], chunk_of(activity.au_entry[kept])
    llc_hit = recency_hits(req_lines, machine.llc_bytes // line)
    hits = np.bincount(req_chunk[llc_hit], minlength=n_chunks)
    misses = np.bincount(req_chunk[~llc_hit], minlength=n_chunks)
    iterations = np.bincount(entry_chunk, weights=activity.entry_iterations, minlength=n_chunks) if n_entries \
        else np.zeros(n_chunks)
    iterations[last] += activity.trailing_iterations
    au = np.maximum.reduce([
        iterations / (machine.lanes * machine.au_elements_per_lane_cycle),
        misses * machine.dram_latency_cycles / machine.outstanding_requests,
        misses * line / bw_share,
        hits * machine.llc_latency_cycles / machine.outstanding_requests,
    ]) if machine.has_access_unit else np.zeros(n_chunks)

    # Core: instruction costs, and its own loads through L1 / LLC / DRAM.
    core_lines = activity.access_line
    access_chunk = chunk_of(activity.access_token)
    keep_core = coalesce(activity.access_store.astype(np.int64), core_lines)  # loads and stores apart
    core_lines, access_chunk = core_lines[keep_core], access_chunk[keep_core]
    store = activity.access_store[keep_core]
    l1_hit = recency_hits(core_lines, machine.l1_bytes // line)
    llc_hit_core = recency_hits(core_lines, machine.llc_bytes // line)
    load_miss = ~store & ~l1_hit
    stall = np.where(llc_hit_core, machine.llc_latency_cycles, machine.dram_latency_cycles) / machine.mlp
    core_stall = np.bincount(access_chunk[load_miss], weights=stall[load_miss], minlength=n_chunks)
    core_dram_reads = int(np.count_nonzero(load_miss & ~llc_hit_core))
    core = np.bincount(chunk_of(activity.core_token), weights=activity.core_cycles, minlength=n_chunks) + core_stall
    written_lines = int(len(np.unique(core_lines[store])))

    # The chunk pipeline.
    startup = machine.dram_latency_cycles if machine.has_access_unit and misses.sum() else 0.0
    au_start, au_end, core_start, core_end = _pipeline(au.astype(np.float64), core.astype(np.float64),
                                                       machine.queue_chunks, float(startup))
    dram_reads = int(misses.sum()) + core_dram_reads
    dram_bytes = (dram_reads + written_lines) * line
    cycles = max(float(core_end[-1]), float(au_end[-1]), dram_bytes / bw_share)
    return CoreTiming(
        core_id=activity.core_id,
        cycles=cycles,
        au_busy=float(au.sum()),
        au_stalled=float((au_start - np.concatenate(([startup], au_end[:-1]))).sum()),
        core_busy=float(core.sum()),
        core_stalled=float(cycles - core.sum()),
        au_requests=int(len(req_lines)),
        llc_hits=int(llc_hit.sum()),
        dram_reads=dram_reads,
        core_loads=int(np.count_nonzero(~store)),
        core_l1_hits=int(np.count_nonzero(~store & l1_hit)),
        dram_writes=written_lines,
        dram_bytes=dram_bytes,
        queue_bytes=int(activity.entry_bytes.sum()),
        chunks=n_chunks,
        callbacks=activity.callbacks,
        counts=activity.counts,
        chunk_au_start=au_start,
        chunk_au_end=au_end,
        chunk_core_start=core_start,
        chunk_core_end=core_end,
        chunk_fill=np.bincount(entry_chunk, weights=activity.entry_bytes, minlength=n_chunks) if n_entries
        else np.zeros(n_chunks),
    )
