"""What the planner knows of one embedding operation (one kernel call)."""

from __future__ import annotations

import dataclasses

STRATEGIES = ("gm", "l1", "gm_ub", "l1_ub")
# gm:    rows gathered from DRAM by the access unit, one request per line (today's kernels)
# l1:    the table preloaded into each serving core's scratchpad by DMA; rows gathered there
# gm_ub: the table streamed through the unified buffer in blocks by DMA; rows gathered there
# l1_ub: the table in the scratchpad, rows gathered by the core's vector loads (no access unit)


@dataclasses.dataclass(frozen=True)
class TableOp:
    name: str              # the table, as the report names it
    family: str
    rows: int
    dim: int
    itemsize: int
    bags: int              # output rows per run (the batch)
    lookups: int           # ids read per run
    distinct: int | None = None   # distinct ids per run (from sample inputs), if known
    splittable: bool = True       # may its batch be split over cores (a segment sum's may not)
    # The most ids one core reads when the bags are split evenly over k cores, for k = 1, 2, ...
    # (from sample inputs' offsets: bags of different lengths load the cores unevenly); empty:
    # the ids split as evenly as the bags.
    core_lookups: tuple[int, ...] = ()

    def lookups_on(self, cores: int) -> float:
        """The ids the busiest of `cores` cores reads when the batch is split over them."""
        if cores <= len(self.core_lookups):
            return float(self.core_lookups[cores - 1])
        return self.lookups / cores

    @property
    def table_bytes(self) -> int:
        return self.rows * self.dim * self.itemsize

    @property
    def row_bytes(self) -> int:
        return self.dim * self.itemsize
