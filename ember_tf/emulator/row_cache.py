"""Software row caches, the baseline hot-row placement is measured against (docs/HOT_ROWS.md):
FBGEMM's TBE cache, set-associative over the rows of every table, LRU or LFU.

The cache sits in the same storage as placed hot rows (the pinned LLC region) and holds
`capacity_bytes // row_bytes` rows (row_bytes: the widest cached table's), in sets of `ways`
(FBGEMM: 32); a row's set is a hash of (table, row). The access unit's reads of a table's rows
go through it: a hit is served at the LLC's latency and never reaches DRAM; a miss goes to the
LLC and DRAM as without a cache and then competes for a way. LRU evicts the way used longest
ago and always inserts. LFU counts every read of every row (FBGEMM keeps a counter per row) and
replaces the set's least counted way only with a row read more often than it.

Its state lasts as long as the Interpreter: later runs find the rows earlier runs left, as a
serving process's cache does. Cores are simulated one after another within a kernel, kernels
in order (the cache is shared; their accesses interleave in a real machine, not here).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numba import njit

from ember_tf.errors import EmulationError

POLICIES = ("lru", "lfu")
FBGEMM_WAYS = 32


@dataclasses.dataclass(frozen=True)
class RowCacheConfig:
    policy: str
    capacity_bytes: int
    ways: int = FBGEMM_WAYS

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise EmulationError(f"row cache policy must be one of {', '.join(POLICIES)}, not {self.policy!r}")
        if self.capacity_bytes <= 0 or self.ways <= 0:
            raise EmulationError("a row cache needs capacity_bytes > 0 and ways > 0")


@dataclasses.dataclass(frozen=True)
class CachedSlot:
    """A table slot of one kernel run whose rows go through the cache: its lines
    first_line .. last_line, its base address, row size and the table's number."""

    first_line: int
    last_line: int
    base: int
    row_bytes: int
    table: int


class RowCache:
    """The cache's state across runs; `tables` gives each table tensor its number and rows."""

    def __init__(self, config: RowCacheConfig, tables: dict[int, tuple[int, int]]):
        self.config = config
        self.numbers = {tensor: n for n, tensor in enumerate(sorted(tables))}
        rows = np.array([tables[t][0] for t in sorted(tables)], np.int64)
        row_bytes = max((b for _, b in tables.values()), default=1)
        self.slots = config.capacity_bytes // row_bytes
        if self.slots < 1:
            raise EmulationError(f"a {config.capacity_bytes:,}-byte row cache holds no {row_bytes:,}-byte row")
        self.sets = max(1, -(-self.slots // config.ways))
        self.ways = min(config.ways, self.slots)
        self.load_factor = self.slots / max(1, int(rows.sum()))
        self.tags = np.full((self.sets, self.ways), -1, np.int64)
        self.stamps = np.zeros((self.sets, self.ways), np.int64)    # LRU: last use; LFU: unused
        self.first_row = np.concatenate(([0], np.cumsum(rows)[:-1])).astype(np.int64)
        self.counts = np.zeros(int(rows.sum()) if config.policy == "lfu" else 0, np.int64)
        self.clock = np.zeros(1, np.int64)
        self.hits = self.misses = 0

    def table_number(self, tensor: int) -> int | None:
        return self.numbers.get(tensor)

    def lookup(self, lines: np.ndarray, slots: tuple[CachedSlot, ...], line_bytes: int) -> np.ndarray:
        """For each requested line (in order), whether the cache served it; updates the state.
        Lines outside `slots` are not the cache's (False)."""
        first = np.array([s.first_line for s in slots], np.int64)
        last = np.array([s.last_line for s in slots], np.int64)
        base = np.array([s.base for s in slots], np.int64)
        row_bytes = np.array([s.row_bytes for s in slots], np.int64)
        table = np.array([s.table for s in slots], np.int64)
        served, hits, misses = _simulate(np.asarray(lines, np.int64), first, last, base, row_bytes, table,
                                         line_bytes, self.tags, self.stamps, self.counts, self.first_row,
                                         self.clock, self.config.policy == "lfu")
        self.hits, self.misses = self.hits + hits, self.misses + misses
        return served


@njit(cache=True, nogil=True)
def _simulate(lines, first, last, base, row_bytes, table, line_bytes, tags, stamps, counts, first_row, clock,
              lfu):
    """The cache over a run's line requests: a row is looked up on its first line; the further
    lines of the same row that follow it (ascending) share that line's outcome. Returns the
    outcome of each line and the hits and misses of the lookups."""
    n_sets, n_ways = tags.shape
    served = np.zeros(len(lines), np.bool_)
    previous_key, previous_line, previous_hit = -1, -1, False
    hits = misses = 0
    for i in range(len(lines)):
        slot = -1
        for j in range(len(first)):
            if first[j] <= lines[i] <= last[j]:
                slot = j
                break
        if slot < 0:
            continue
        row = (lines[i] * line_bytes - base[slot]) // row_bytes[slot]
        if row < 0:
            row = 0
        key = table[slot] * (1 << 40) + row
        if key == previous_key and lines[i] > previous_line:
            served[i] = previous_hit
            previous_line = lines[i]
            continue
        clock[0] += 1
        s = np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(20)) % n_sets
        way = -1
        for w in range(n_ways):
            if tags[s, w] == key:
                way = w
                break
        if lfu:
            counts[first_row[table[slot]] + row] += 1
        if way >= 0:
            stamps[s, way] = clock[0]
            hit = True
        else:
            hit = False
            victim = 0
            for w in range(1, n_ways):
                if _worse(tags, stamps, counts, first_row, s, w, victim, lfu):
                    victim = w
            if tags[s, victim] < 0 or not lfu or _count(tags[s, victim], counts, first_row) < \
                    counts[first_row[table[slot]] + row]:
                tags[s, victim] = key
                stamps[s, victim] = clock[0]
        served[i] = hit
        hits += 1 if hit else 0
        misses += 0 if hit else 1
        previous_key, previous_line, previous_hit = key, lines[i], hit
    return served, hits, misses


@njit(inline="always", cache=True, nogil=True)
def _count(key, counts, first_row):
    return counts[first_row[key >> 40] + (key & ((1 << 40) - 1))]


@njit(inline="always", cache=True, nogil=True)
def _worse(tags, stamps, counts, first_row, s, w, victim, lfu):
    """Whether way w is a better victim than `victim`: empty first, then the least recently
    used (LRU) or the least counted (LFU)."""
    if tags[s, victim] < 0:
        return False
    if tags[s, w] < 0:
        return True
    if lfu:
        return _count(tags[s, w], counts, first_row) < _count(tags[s, victim], counts, first_row)
    return stamps[s, w] < stamps[s, victim]
