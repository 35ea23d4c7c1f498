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

Placed slots (a READ slot in the core's scratchpad or streamed through its
unified buffer; `Placed`) are served by those memories instead: their bytes come
from DRAM once, by the core's DMA engine, and their accesses never reach the
caches or DRAM (docs/EMULATOR.md, "Placement", has the formulas).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numba import njit

from ember_tf.emulator.activity import CoreActivity
from ember_tf.machines import MachineConfig


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
    dram_writes: int         # lines written back to DRAM during the run (MachineConfig.written_back_lines)
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
    # Placed slots (0 without): bytes the DMA engine moved from DRAM (in dram_bytes too), the
    # cycles it took (preload and streaming), accesses served by the scratchpad and the buffer.
    dma_bytes: int = 0
    dma_cycles: float = 0.0
    scratchpad_accesses: int = 0
    buffer_accesses: int = 0
    hot_accesses: int = 0       # served by the hot-row storage (a pinned LLC region)
    au_dram_reads: int = 0      # lines the access unit read from DRAM (part of dram_reads)
    stored_lines: int = 0       # distinct lines the core wrote (dram_writes of them reached DRAM)


SCRATCHPAD, BUFFER, HOT = 1, 2, 3   # fb.Placement values


@dataclasses.dataclass(frozen=True)
class Placed:
    """A READ slot one core holds in its scratchpad (SCRATCHPAD) or streams through its
    unified buffer (BUFFER) during a kernel, or the part of a slot the machine's hot-row storage
    holds for the model's lifetime (HOT: loaded with the model, never by a run): the cache lines (AddressMap) are
    first_line .. last_line (none if last_line < first_line). `resident`: a scratchpad slot
    an earlier run on the same core (a copy before this one) already loaded."""

    kind: int
    first_line: int
    last_line: int
    resident: bool = False

    @property
    def lines(self) -> int:
        return max(0, self.last_line - self.first_line + 1)


@dataclasses.dataclass(frozen=True)
class LlcHistory:
    """What a warm LLC remembers from earlier runs (Interpreter(warm_llc=True)): the lines the
    access units requested, each with its age (requests made after its last request), in an
    open-addressing table of (line, age) pairs. A line a run has not requested yet hits when its
    age plus the run's requests so far is within the LLC's window."""

    table: np.ndarray
    bits: int
    lines: np.ndarray           # the requests it was built from, oldest first

    @staticmethod
    def of(lines: np.ndarray) -> "LlcHistory":
        lines = np.ascontiguousarray(lines, dtype=np.int64)
        table, bits = _ages(lines)
        return LlcHistory(table, bits, lines)


EMPTY_HISTORY = LlcHistory(np.full(4, -1, np.int64), 1, np.zeros(0, np.int64))   # what _ages gives for none


@njit(cache=True, nogil=True)
def _ages(lines):
    n = len(lines)
    bits = 1
    while (1 << bits) < 2 * n:
        bits += 1
    table = np.full(2 << bits, -1, dtype=np.int64)
    for i in range(n):
        slot = _probe_pairs(table, lines[i], bits)
        table[2 * slot], table[2 * slot + 1] = lines[i], n - 1 - i
    return table, bits


@njit(inline="always", cache=True, nogil=True)
def _probe(keys: np.ndarray, line: int, bits: int) -> int:
    """The slot of `line` in an open-addressing table of 2**bits keys (-1 = empty):
    where it is, or the empty slot where it would go."""
    mask = (1 << bits) - 1
    slot = np.int64((np.uint64(line) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)) & mask
    while keys[slot] != -1 and keys[slot] != line:
        slot = (slot + 1) & mask
    return slot


@njit(cache=True, nogil=True)
def recency_hits(lines: np.ndarray, window: int) -> np.ndarray:
    """hit[i] = line i was accessed within the previous `window` accesses.

    One pass with an open-addressing table of each line's last position. Each
    entry keeps its key and position side by side (table[2j], table[2j + 1]):
    the table outgrows the L2 cache, and a probe then costs one miss, not two."""
    n = len(lines)
    hit = np.zeros(n, dtype=np.bool_)
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    table = np.full(2 << bits, -1, dtype=np.int64)
    for i in range(n):
        line = lines[i]
        slot = _probe_pairs(table, line, bits)
        if table[2 * slot] == line:
            hit[i] = i - table[2 * slot + 1] <= window
        table[2 * slot] = line
        table[2 * slot + 1] = i
    return hit


@njit(inline="always", cache=True, nogil=True)
def _probe_pairs(table: np.ndarray, line: int, bits: int) -> int:
    """_probe over a table of (key, value) pairs: the slot j whose key table[2j]
    is `line`, or the empty one (-1) where it would go."""
    mask = (1 << bits) - 1
    slot = np.int64((np.uint64(line) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)) & mask
    while table[2 * slot] != -1 and table[2 * slot] != line:
        slot = (slot + 1) & mask
    return slot


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
def _distinct(lines: np.ndarray) -> int:
    """How many different values `lines` holds (an open-addressing set)."""
    n = len(lines)
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    keys = np.full(1 << bits, -1, dtype=np.int64)
    count = 0
    for i in range(n):
        slot = _probe(keys, lines[i], bits)
        if keys[slot] == -1:
            keys[slot] = lines[i]
            count += 1
    return count


@njit(inline="always", cache=True, nogil=True)
def _entry_chunks(entry_bytes, chunk_bytes):
    """The queue chunk of each entry (entry_chunk[e] = bytes queued before it // chunk_bytes)
    and the bytes queued in all."""
    entry_chunk = np.empty(len(entry_bytes), np.int64)
    position, chunk, boundary = 0, 0, chunk_bytes
    for e in range(len(entry_bytes)):
        while position >= boundary:
            chunk += 1
            boundary += chunk_bytes
        entry_chunk[e] = chunk
        position += entry_bytes[e]
    return entry_chunk, position


@njit(cache=True, nogil=True)
def _chunk_work(entry_bytes, entry_iterations, trailing, au_entry, au_stream, au_line, access_token,
                access_line, access_store, core_token, core_cycles, chunk_bytes, llc_window, l1_window,
                llc_latency, dram_latency, mlp, history, history_bits, access_pinned):
    """Per-chunk work of one core: access-unit iterations, LLC hits and DRAM misses,
    core cycles (instructions and stalls of its loads; `access_pinned` loads never miss the
    LLC), bytes queued; plus totals."""
    n_entries = len(entry_bytes)
    entry_chunk, position = _entry_chunks(entry_bytes, chunk_bytes)
    n_chunks = entry_chunk[-1] + 1 if n_entries else 1
    iterations, hits, misses = np.zeros(n_chunks), np.zeros(n_chunks), np.zeros(n_chunks)
    core, fill = np.zeros(n_chunks), np.zeros(n_chunks)
    # Integer sums (exact in any order), kept in registers while the chunk stays the same:
    # adding to memory entry by entry waits on the previous add's store every time.
    chunk, chunk_iterations, chunk_fill = 0, 0, 0
    for e in range(n_entries):
        if entry_chunk[e] != chunk:
            iterations[chunk] += chunk_iterations
            fill[chunk] += chunk_fill
            chunk, chunk_iterations, chunk_fill = entry_chunk[e], 0, 0
        chunk_iterations += entry_iterations[e]
        chunk_fill += entry_bytes[e]
    iterations[chunk] += chunk_iterations
    fill[chunk] += chunk_fill
    iterations[n_chunks - 1] += trailing

    requests, llc_hits = _llc_requests(au_entry, au_stream, au_line, llc_window, entry_chunk, n_chunks, hits, misses,
                                       history, history_bits)

    for i in range(len(core_token)):
        core[_chunk_of(core_token[i], entry_chunk, n_chunks)] += core_cycles[i]
    keep = coalesce(access_store.astype(np.int64), access_line)  # loads and stores apart
    lines, stores, tokens, pinned = access_line[keep], access_store[keep], access_token[keep], access_pinned[keep]
    l1_hit = recency_hits(lines, l1_window)
    llc_hit_core = recency_hits(lines, llc_window)
    loads = l1_hits = dram_reads = written = pinned_loads = 0
    for i in range(len(lines)):
        if stores[i]:
            written += 1
            continue
        loads += 1
        if l1_hit[i]:
            l1_hits += 1
            continue
        hit = llc_hit_core[i] or pinned[i]
        pinned_loads += 1 if pinned[i] else 0
        stall = llc_latency if hit else dram_latency
        dram_reads += 0 if hit else 1
        core[_chunk_of(tokens[i], entry_chunk, n_chunks)] += stall / mlp
    written_lines = _distinct(lines[stores]) if written else 0
    counts = np.array([requests, llc_hits, loads, l1_hits, dram_reads, written_lines, position, pinned_loads])
    return n_chunks, iterations, hits, misses, core, fill, counts


@njit(cache=True, nogil=True)
def _llc_requests(au_entry, au_stream, au_line, llc_window, entry_chunk, n_chunks, hits, misses, history,
                  history_bits):
    """The access unit's line requests, counted per chunk into hits and misses: an access
    is a request unless its stream's previous access was to the same line (coalesce()), and
    a request hits in the LLC when its line was requested within the previous llc_window
    requests (recency_hits()), counting those of earlier runs in `history` (LlcHistory);
    in one pass. Returns (requests, LLC hits)."""
    n = len(au_line)
    requests, llc_hits = 0, 0
    if n == 0:
        return requests, llc_hits
    previous = np.full(au_stream.max() + 1, -1, dtype=np.int64)  # each stream's last line
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    table = np.full(2 << bits, -1, dtype=np.int64)  # recency_hits's: (line, last request) pairs
    # The stream of the last access and its last line are kept in registers (a stream makes many
    # accesses in a row; reading an entry just stored waits for the store), and so are the
    # counts of the current chunk (requests come in entry order).
    stream, last, chunk, chunk_hits, chunk_misses = -1, -1, 0, 0, 0
    for i in range(n):
        if au_stream[i] != stream:
            if stream >= 0:
                previous[stream] = last
            stream = au_stream[i]
            last = previous[stream]
        line = au_line[i]
        if line != last:
            slot = _probe_pairs(table, line, bits)
            if table[2 * slot] == line:
                hit = requests - table[2 * slot + 1] <= llc_window
            else:
                earlier = _probe_pairs(history, line, history_bits)
                hit = history[2 * earlier] == line and requests + history[2 * earlier + 1] + 1 <= llc_window
            table[2 * slot], table[2 * slot + 1] = line, requests
            requests += 1
            at = _chunk_of(au_entry[i], entry_chunk, n_chunks)
            if at != chunk:
                hits[chunk] += chunk_hits
                misses[chunk] += chunk_misses
                llc_hits += chunk_hits
                chunk, chunk_hits, chunk_misses = at, 0, 0
            if hit:
                chunk_hits += 1
            else:
                chunk_misses += 1
        last = line
    hits[chunk] += chunk_hits
    misses[chunk] += chunk_misses
    return requests, llc_hits + chunk_hits


@njit(inline="always", cache=True, nogil=True)
def _chunk_of(entry, entry_chunk, n_chunks):
    """The chunk an entry index falls in (-1: before the first entry; past the end: the last)."""
    if entry < 0:
        return 0
    if entry >= len(entry_chunk):
        return n_chunks - 1
    return entry_chunk[entry]


@njit(cache=True, nogil=True)
def _pipeline(iterations, hits, misses, core, has_access_unit, lane_rate, dram_latency, outstanding, line, bw_share,
              llc_latency, buffers, local, local_startup, begin):
    """The access unit's time per chunk (au[k]: the slowest of its limits), then the
    start and end of each chunk on the access unit and on the core; also the access
    unit's wait before each chunk, the startup and the DRAM misses in all.

    local[k]: the summed latencies of the chunk's requests to placed slots (scratchpad or
    buffer), a Little's-law term of its own; local_startup: the latency the first chunk
    waits when no request goes to DRAM; begin: when the core may start (after the DMA
    engine's preload). All zero without placed slots."""
    n = len(iterations)
    au = np.zeros(n)
    total_misses = 0.0  # a count: exact in any order
    if has_access_unit:
        for k in range(n):
            au[k] = np.maximum(np.maximum(np.maximum(np.maximum(iterations[k] / lane_rate,
                                                                misses[k] * dram_latency / outstanding),
                                                     misses[k] * line / bw_share), hits[k] * llc_latency / outstanding),
                               local[k] / outstanding)
            total_misses += misses[k]
    else:
        for k in range(n):
            total_misses += misses[k]
    startup = (dram_latency if total_misses != 0.0 else local_startup) if has_access_unit else 0.0
    au_start, au_end = np.zeros(n), np.zeros(n)
    core_start, core_end = np.zeros(n), np.zeros(n)
    au_waits = np.zeros(n)
    previous_au, previous_core = begin + startup, begin
    for k in range(n):
        free = core_end[k - buffers] if k >= buffers else begin
        au_start[k] = max(previous_au, free)
        au_waits[k] = au_start[k] - previous_au
        au_end[k] = previous_au = au_start[k] + au[k]
        core_start[k] = max(previous_core, au_end[k])
        core_end[k] = previous_core = core_start[k] + core[k]
    return au, au_start, au_end, core_start, core_end, au_waits, startup, total_misses


def time_core(activity: CoreActivity, machine: MachineConfig, active_cores: int,
              placed: tuple[Placed, ...] = (), cached: tuple[np.ndarray, np.ndarray] | None = None,
              history: LlcHistory = EMPTY_HISTORY) -> CoreTiming:
    """The cycles of one core's activity on `machine` while `active_cores` cores share the
    DRAM bandwidth; `placed`: the placed slots this core uses (docs/EMULATOR.md, "Placement");
    `cached`: per access-unit request and per core access, whether a row cache served it
    (emulator/row_cache.py; timed as a read of the hot-row storage); `history`: the lines a warm LLC holds from earlier runs."""
    line = machine.line_bytes
    bw_share = machine.dram_bytes_per_cycle / max(1, active_cores)
    if cached is not None:
        placed = placed + (Placed(HOT, 0, -1),)    # no lines of its own: the requests are marked below

    au_entry, au_stream, au_line = activity.au_entry, activity.au_stream, activity.au_line
    access_token, access_line, access_store = activity.access_token, activity.access_line, activity.access_store
    core_cycles = activity.core_cycles
    pinned = np.zeros(len(access_line), np.bool_)     # core loads of the hot-row storage
    if placed:
        first = np.array([p.first_line for p in placed], np.int64)
        last = np.array([p.last_line for p in placed], np.int64)
        kinds = np.array([p.kind for p in placed], np.int64)
        au_slot = placed_slot(au_line, first, last)
        core_slot = placed_slot(access_line, first, last)
        if cached is not None:
            au_slot[cached[0]] = core_slot[cached[1]] = len(placed) - 1
        # The core loads pinned LLC lines through its L1, as any line: they only never miss the LLC.
        pinned = (core_slot >= 0) & (kinds[np.maximum(core_slot, 0)] == HOT)
        core_slot[pinned] = -1
        to_dram, core_to_dram = au_slot < 0, core_slot < 0
        au_entry, au_stream, au_line = au_entry[to_dram], au_stream[to_dram], au_line[to_dram]
        access_token, access_line, access_store = (access_token[core_to_dram], access_line[core_to_dram],
                                                   access_store[core_to_dram])
        pinned = pinned[core_to_dram]
        latency = np.array([_latency(p, machine) for p in placed], np.float64)
        blocks = np.array([_blocks(p, machine) for p in placed], np.int64)
        if not machine.has_access_unit:
            # the core scans its work once per block of the buffered slots it reads
            touched = np.unique(core_slot[core_slot >= 0])
            repeats = max([int(blocks[i]) for i in touched if kinds[i] == BUFFER], default=1)
            if repeats > 1:
                core_cycles = core_cycles * repeats

    n_chunks, iterations, hits, misses, core, fill, counts = _chunk_work(
        activity.entry_bytes, activity.entry_iterations, activity.trailing_iterations, au_entry,
        au_stream, au_line, access_token, access_line, access_store,
        activity.core_token, core_cycles, machine.queue_chunk_bytes, machine.llc_bytes // line,
        machine.l1_bytes // line, machine.llc_latency_cycles, machine.dram_latency_cycles, machine.mlp,
        history.table, history.bits, pinned)
    requests, llc_hits, core_loads, core_l1_hits, core_dram_reads, written_lines, queue_bytes, core_pinned = (
        int(c) for c in counts)

    local = np.zeros(n_chunks)
    local_startup = begin = dma_tail = 0.0
    dma_lines = 0
    local_counts = np.zeros(4, np.int64)   # accesses by placement kind
    if placed:
        sel, core_sel = au_slot >= 0, core_slot >= 0
        scans = np.ones(n_chunks, np.int64)
        _local_work(activity.entry_bytes, machine.queue_chunk_bytes, activity.au_entry[sel], activity.au_stream[sel],
                    au_slot[sel], activity.au_line[sel], activity.access_token[core_sel], core_slot[core_sel],
                    activity.access_line[core_sel], kinds, latency, blocks, float(machine.mlp), local, core, scans,
                    local_counts)
        if machine.has_access_unit:
            iterations = iterations * scans
            local_startup = float(max((latency[i] for i in np.unique(au_slot[sel])), default=0.0))
        dma_lines, preload_lines, tail_lines = _dma_lines(placed, machine)
        rate = min(machine.dma_bytes_per_cycle, bw_share)
        begin = preload_lines * line / rate if preload_lines else 0.0     # hot-row storage: no DMA at all
        dma_tail = tail_lines * line / rate if tail_lines else 0.0

    # The chunk pipeline.
    au, au_start, au_end, core_start, core_end, au_waits, startup, total_misses = _pipeline(
        iterations, hits, misses, core, machine.has_access_unit,
        float(machine.lanes * machine.au_elements_per_lane_cycle), float(machine.dram_latency_cycles),
        float(machine.outstanding_requests), float(line), float(bw_share), float(machine.llc_latency_cycles),
        machine.queue_chunks, local, float(local_startup), float(begin))
    dram_reads = int(total_misses) + core_dram_reads + dma_lines
    written_back = machine.written_back_lines(written_lines, int(total_misses) + core_dram_reads, active_cores)
    dram_bytes = (dram_reads + written_back) * line
    cycles = max(float(core_end[-1]), float(au_end[-1]), dram_bytes / bw_share)
    if placed:
        cycles = max(cycles, begin + dma_tail)   # the DMA engine streams the buffered slots' later blocks
    core_busy = float(core.sum())  # numpy's sums (pairwise): the cycles do not depend on the host's code
    return CoreTiming(
        core_id=activity.core_id,
        cycles=cycles,
        au_busy=float(au.sum()),
        au_stalled=float(au_waits.sum()),
        core_busy=core_busy,
        core_stalled=float(cycles - core_busy),
        au_requests=requests,
        llc_hits=llc_hits,
        dram_reads=dram_reads,
        core_loads=core_loads,
        core_l1_hits=core_l1_hits,
        dram_writes=written_back,
        stored_lines=written_lines,
        dram_bytes=dram_bytes,
        queue_bytes=queue_bytes,
        chunks=n_chunks,
        callbacks=activity.callbacks,
        counts=activity.counts,
        chunk_au_start=au_start,
        chunk_au_end=au_end,
        chunk_core_start=core_start,
        chunk_core_end=core_end,
        chunk_fill=fill,
        dma_bytes=dma_lines * line,
        dma_cycles=begin + dma_tail,
        scratchpad_accesses=int(local_counts[SCRATCHPAD]),
        buffer_accesses=int(local_counts[BUFFER]),
        hot_accesses=int(local_counts[HOT]) + core_pinned,
        au_dram_reads=int(total_misses),
    )


def _latency(placed: Placed, machine: MachineConfig) -> float:
    return {SCRATCHPAD: machine.scratchpad_latency_cycles, BUFFER: machine.buffer_latency_cycles,
            HOT: machine.llc_latency_cycles}[placed.kind]


def _blocks(placed: Placed, machine: MachineConfig) -> int:
    """How many blocks a BUFFER slot streams through the unified buffer in (1 for a
    scratchpad slot): ceil(bytes / buffer_bytes), bytes = its lines x line_bytes."""
    if placed.kind != BUFFER or not machine.buffer_bytes:
        return 1
    return max(1, -(-placed.lines * machine.line_bytes // machine.buffer_bytes))


def _dma_lines(placed: tuple[Placed, ...], machine: MachineConfig) -> tuple[int, int, int]:
    """Lines the DMA engine moves in all, before the core starts (every scratchpad slot not yet
    resident, the first block of every buffered slot) and while it runs (the later blocks)."""
    block_lines = max(1, machine.buffer_bytes // machine.line_bytes) if machine.buffer_bytes else 0
    total = before = 0
    for p in placed:
        if p.kind == SCRATCHPAD:
            if not p.resident:
                total += p.lines
                before += p.lines
        elif p.kind == BUFFER:
            total += p.lines
            before += min(p.lines, block_lines)
    return total, before, total - before


@njit(cache=True, nogil=True)
def placed_slot(lines, first, last):
    """For each line, the index of the placed slot it lies in (-1: none)."""
    out = np.full(len(lines), -1, np.int64)
    for i in range(len(lines)):
        for j in range(len(first)):
            if first[j] <= lines[i] <= last[j]:
                out[i] = j
                break
    return out


@njit(cache=True, nogil=True)
def _local_work(entry_bytes, chunk_bytes, au_entry, au_stream, au_slot, au_line, core_token, core_slot, core_line,
                kinds, latency, blocks, mlp, local, core, scans, counts):
    """The requests to placed slots, per chunk: the access unit's (coalesced per stream as
    DRAM requests are) add their latency to local[k], and a buffered slot makes the chunk's
    stream iterations repeat once per block (scans[k]); the core's loads (coalesced) stall
    it latency / mlp each. counts[kind] counts both."""
    entry_chunk = _entry_chunks(entry_bytes, chunk_bytes)[0]
    n_chunks = len(local)
    if len(au_line):
        previous = np.full(au_stream.max() + 1, -1, dtype=np.int64)
        for i in range(len(au_line)):
            if previous[au_stream[i]] == au_line[i]:
                continue
            previous[au_stream[i]] = au_line[i]
            k = _chunk_of(au_entry[i], entry_chunk, n_chunks)
            slot = au_slot[i]
            local[k] += latency[slot]
            counts[kinds[slot]] += 1
            if blocks[slot] > scans[k]:
                scans[k] = blocks[slot]
    last = -1
    for i in range(len(core_line)):
        if core_line[i] == last:
            continue
        last = core_line[i]
        slot = core_slot[i]
        core[_chunk_of(core_token[i], entry_chunk, n_chunks)] += latency[slot] / mlp
        counts[kinds[slot]] += 1


def one_after_another(core_id: int, timings: list[CoreTiming]) -> CoreTiming:
    """The timing of one core that runs several programs in turn (copies of a kernel on a
    machine with fewer cores): counts add up, and each run's chunks start where the one
    before ended."""
    if len(timings) == 1:
        return dataclasses.replace(timings[0], core_id=core_id)
    starts = np.cumsum([0.0] + [t.cycles for t in timings[:-1]])
    counts: dict = {}
    for t in timings:
        for group, n in t.counts.items():
            counts[group] = counts.get(group, 0) + n
    total = {f.name: sum(getattr(t, f.name) for t in timings) for f in dataclasses.fields(CoreTiming)
             if f.type in ("float", "int") and f.name != "core_id"}
    shifted = {name: np.concatenate([getattr(t, name) + start for t, start in zip(timings, starts)])
               for name in ("chunk_au_start", "chunk_au_end", "chunk_core_start", "chunk_core_end")}
    return CoreTiming(core_id=core_id, counts=counts, chunk_fill=np.concatenate([t.chunk_fill for t in timings]),
                      **total, **shifted)
