"""When each operator of a run starts, on the machine's cores (docs/EMULATOR.md, "Scheduling").

Operators are taken in file order (list scheduling). Each core has a time from which it is
free. A kernel holds the cores of its range (its operator's core_offset .. core_offset +
core_count - 1; all cores when core_count is 0) from its start until its slowest core has
finished (KernelStats.cycles: one launch unit); a host segment holds every core. An operator
starts at the latest of: the free times of the cores it holds, the end of every earlier
operator that writes a tensor it reads or writes, and the end of every earlier operator that
reads a tensor it writes. The run's cycles are the makespan.

When every kernel holds every core (every file written before operators had core ranges),
each operator starts where the previous one ended: the operators run one after another.

How many cores share the DRAM bandwidth while a kernel runs (`active_cores`, the divisor of
its bandwidth share in timing.time_core) is decided before its timing, so it cannot come from
the schedule itself; the rule is the kernel's wave (consecutive operators that share no
tensor, interpreter._independent_waves): the cores the kernel runs on, plus those of every
other kernel of its wave whose range shares no core with its range (those may run at the same
time; a kernel whose range overlaps its own cannot). With all-core kernels that is the cores
the kernel itself runs on, as before ranges existed.
"""

from __future__ import annotations

import dataclasses

from ember_tf.emulator.stats import HostStats, KernelStats


@dataclasses.dataclass
class Booking:
    """One operator to place in time: its statistics (cycles in, start_cycle out), the tensors
    it reads and writes, and the cores it holds."""

    step: KernelStats | HostStats
    reads: frozenset[int]
    writes: frozenset[int]
    first_core: int
    cores: int


def schedule(machine_cores: int, bookings: list[Booking]) -> int:
    """Sets each step's start_cycle; returns the makespan."""
    free = [0] * machine_cores
    written: dict[int, int] = {}   # tensor -> end of the last operator that wrote it
    read: dict[int, int] = {}      # tensor -> latest end of the operators that read it
    makespan = 0
    for booking in bookings:
        held = range(booking.first_core, booking.first_core + booking.cores)
        start = max((free[c] for c in held), default=0)
        for t in booking.reads | booking.writes:
            start = max(start, written.get(t, 0))
        for t in booking.writes:
            start = max(start, read.get(t, 0))
        end = start + booking.step.cycles
        booking.step.start_cycle = start
        for c in held:
            free[c] = end
        for t in booking.writes:
            written[t] = max(written.get(t, 0), end)
        for t in booking.reads:
            read[t] = max(read.get(t, 0), end)
        makespan = max(makespan, end)
    return makespan


def sharing_cores(kernels: list[tuple[int, int, int]]) -> list[int]:
    """For the kernels of one wave, each given as (first core of its range, cores in its range,
    cores it runs on from the first): how many cores share the DRAM bandwidth while it runs
    (the rule in the module docstring)."""
    out = []
    for i, (first, count, used) in enumerate(kernels):
        busy = set(range(first, first + used))
        for j, (other_first, other_count, other_used) in enumerate(kernels):
            disjoint = other_first >= first + count or first >= other_first + other_count
            if j != i and disjoint:
                busy.update(range(other_first, other_first + other_used))
        out.append(len(busy))
    return out
