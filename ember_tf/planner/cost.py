"""The planner's cost model: cycles of one table operation on k cores with one lookup
strategy, from the machine description and the compiled kernel's instruction costs.

The kernel's own costs (core cycles per id and per bag; access-unit stream iterations per
id and per bag) are properties of its code, not of the data: they are measured once per
kernel shape by emulating it on three tiny inputs (a 64-row table held in the scratchpad,
so nothing waits for memory) and fitting `fixed + per_bag * bags + per_id * ids`. Memory is
modelled from the sizes and the machine, as the timing model does (docs/EMULATOR.md):

    per core (its share of bags b and ids n -- the busiest core's, when sample inputs show
    bags of unequal lengths -- d of them distinct):
    lines   r = lines per row (rows laid end to end from a page-aligned base)
    misses  m = d*r + (n - d)*r*(1 - min(1, W/(d*r))) + index lines   (gm; W = LLC lines)
    access  au = max(iterations/lane rate * blocks, m*latency/outstanding, m*line/share,
                     hits*LLC latency/outstanding, local*local latency/outstanding)
    time    = preload + max(pipe, DRAM bytes/share, streamed bytes/DMA rate) + startup
    pipe    = max(core + au/chunks, au + core/chunks)   (chunks: the queue chunks the rows fill;
              the core waits for the first, the access unit's last is drained after it; no access unit: core)
    DRAM bytes = lines read + the output lines the write-back LLC evicts (MachineConfig.written_back_lines)

with share = the core's slice of DRAM bandwidth (every core busy), preload = the table's
lines / DMA rate (l1, l1_ub) or one buffer block (gm_ub), blocks = ceil(table / buffer)
for gm_ub. A table too large for the scratchpad cannot be l1/l1_ub, a machine without a
buffer cannot do gm_ub, and one without an access unit only gm: those strategies are not
offered (`feasible_strategies`), and a forced one falls back to gm with a note."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ember_tf.machines import MachineConfig
from ember_tf.planner.ops import STRATEGIES, TableOp

ID_BYTES = 4
CALIBRATION_ROWS = 64
CALIBRATION_SIZES = ((4, 2), (8, 2), (8, 6))     # (bags, ids per bag)


@dataclasses.dataclass(frozen=True)
class UnitCosts:
    """A compiled kernel's costs per run, per bag and per id (cycles), fitted from runs."""

    core: tuple[float, float, float]          # fixed, per bag, per id
    access: tuple[float, float, float]        # access-unit busy cycles (lane-bound), same form


def feasible_strategies(op: TableOp, machine: MachineConfig) -> list[str]:
    if not machine.has_access_unit:
        return ["gm"]
    found = ["gm"]
    if machine.scratchpad_bytes and _placed_bytes(op, machine) <= machine.scratchpad_bytes:
        found += ["l1", "l1_ub"]
    if machine.buffer_bytes:
        found.append("gm_ub")
    return [s for s in STRATEGIES if s in found]


class CostModel:
    """Estimates per (operation, strategy, cores); `calibrate(op, strategy)` gives the unit
    costs of the operation's compiled kernel (the converter measures them; tests may fake them)."""

    def __init__(self, machine: MachineConfig, calibrate):
        self.machine = machine
        self.calibrate = calibrate

    def time_function(self, ops: list[TableOp], forced: str | None = None):
        """(op index, cores) -> (cycles, strategy): the best feasible strategy there."""

        @functools.cache
        def time(t: int, k: int) -> tuple[float, str]:
            options = self.strategies(ops[t], forced)
            return min((self.cycles(ops[t], s, k), s) for s in options)
        return time

    def strategies(self, op: TableOp, forced: str | None) -> list[str]:
        feasible = feasible_strategies(op, self.machine)
        if forced is None:
            return feasible
        return [forced] if forced in feasible else ["gm"]

    def note(self, op: TableOp, forced: str | None, chosen: str) -> str:
        if forced is not None and chosen != forced:
            return (f"{forced} is not possible for table {op.name} ({_bytes(op.table_bytes)}) on machine "
                    f"{self.machine.name}: fell back to gm")
        return ""

    def cycles(self, op: TableOp, strategy: str, cores: int) -> float:
        m = self.machine
        k = cores if op.splittable else 1
        bags, ids = op.bags / k, op.lookups_on(k)
        distinct = _distinct_share(op, ids)
        units = self.calibrate(op, strategy)
        core = units.core[0] + units.core[1] * bags + units.core[2] * ids
        lane_time = units.access[0] + units.access[1] * bags + units.access[2] * ids
        share = m.dram_bytes_per_cycle / m.cores
        rate = min(m.dma_bandwidth_gbps / m.clock_ghz, share) if m.dma_bandwidth_gbps else share
        r = _lines_per_row(op.row_bytes, m.line_bytes)
        index_lines = (ids * ID_BYTES + bags * ID_BYTES) / m.line_bytes
        stored = math.ceil(bags * op.row_bytes / m.line_bytes)
        latency, outstanding = m.dram_latency_cycles, m.outstanding_requests
        placed = _placed_bytes(op, m)
        if strategy == "gm":
            misses, hits = _gm_requests(distinct, ids, r, m.llc_bytes // m.line_bytes)
            misses += index_lines
            dram = (misses + m.written_back_lines(stored, round(misses), m.cores)) * m.line_bytes
            if not m.has_access_unit:       # the core waits for its own loads
                core += (misses * latency + hits * m.llc_latency_cycles) / m.mlp
                au = 0.0
            else:
                au = max(lane_time, misses * latency / outstanding, misses * m.line_bytes / share,
                         hits * m.llc_latency_cycles / outstanding)
            return _pipelined(core, au, self._chunks(op, ids), dram / share) + latency
        local = ids * r
        if strategy in ("l1", "l1_ub"):
            preload, streamed, blocks, local_latency = placed / rate, 0.0, 1, m.scratchpad_latency_cycles
        else:
            blocks = math.ceil(placed / m.buffer_bytes)
            first = min(placed, m.buffer_bytes)
            preload, streamed, local_latency = first / rate, (placed - first) / rate, m.buffer_latency_cycles
        dram = placed + (index_lines + m.written_back_lines(stored, round(index_lines), m.cores)) * m.line_bytes
        au = 0.0
        if strategy != "l1_ub":
            au = max(lane_time * blocks, local * local_latency / outstanding,
                     index_lines * latency / outstanding)
        startup = latency if index_lines else local_latency
        chunks = self._chunks(op, ids) if strategy != "l1_ub" else 1.0
        return preload + max(_pipelined(core, au, chunks, dram / share), streamed) + startup

    def _chunks(self, op: TableOp, ids: float) -> float:
        """Queue chunks a core's rows fill (the access unit streams each row through the queue)."""
        return max(1.0, math.ceil(ids * op.row_bytes / self.machine.queue_chunk_bytes))


def _pipelined(core: float, au: float, chunks: float, memory: float) -> float:
    """The core and the access unit overlap chunk by chunk (docs/EMULATOR.md): the core starts
    when the first chunk is full and the access unit's last chunk still has to be drained, so
    the slower of the two is extended by one chunk of the other; no faster than DRAM allows."""
    if au == 0.0:
        return max(core, memory)
    return max(core + au / chunks, au + core / chunks, memory)


def _placed_bytes(op: TableOp, machine: MachineConfig) -> int:
    line = machine.line_bytes
    return math.ceil(op.table_bytes / line) * line


@functools.cache
def _lines_per_row(row_bytes: int, line: int) -> float:
    """Average lines a row spans, rows laid end to end from a line-aligned base."""
    period = line // math.gcd(row_bytes, line)
    starts = np.arange(period) * row_bytes
    return float(np.mean((starts + row_bytes - 1) // line - starts // line + 1))


def _distinct_share(op: TableOp, ids: float) -> float:
    """Distinct ids in one core's share of the ids: each distinct id of the run appears
    lookups/distinct times, and lands in the share with probability ids/lookups each time."""
    distinct = op.distinct if op.distinct is not None else _expected_distinct(op.rows, op.lookups)
    if ids >= op.lookups or distinct == 0:
        return float(min(distinct, ids))
    repeats = op.lookups / distinct
    return distinct * (1 - (1 - ids / op.lookups) ** repeats)


def _expected_distinct(rows: int, draws: int) -> float:
    return rows * (1 - (1 - 1 / rows) ** draws) if rows else 0.0


def _gm_requests(distinct: float, ids: float, r: float, llc_lines: int) -> tuple[float, float]:
    """(misses, LLC hits) of a core's row requests: first touches miss; a repeat hits when
    the working set's lines fit the LLC window, in proportion otherwise."""
    working = distinct * r
    reuse = min(1.0, llc_lines / working) if working else 1.0
    repeats = max(0.0, ids - distinct) * r
    return working + repeats * (1 - reuse), repeats * reuse


def _bytes(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"
