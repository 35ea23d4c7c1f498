"""Tables to core groups, minimising the slowest group (TorchRec's planner shape:
enumerate options, estimate each, partition).

A plan is a list of core groups, each a contiguous range of cores running its tables one
after another, each table (one kernel) on all of the group's cores; groups run at the
same time. A table's time on k cores is the best of its feasible strategies there
(`time(op, k)`).

`auto` finds the smallest makespan M for which a plan exists: every table gets the fewest
cores k with time(op, k) <= M; tables needing two or more cores get a group of their own,
the rest are packed first-fit-decreasing into one-core groups of capacity M; M is feasible
when the groups need at most the machine's cores. M is found by bisection between the
slowest table at its best and everything on one core; cores left over go, one at a time,
to the slowest group while that makes it faster; then a local search, from that plan and
from the even one, moves single tables between groups, single cores between groups, or a
table out of its group with some of the group's cores, while the makespan falls. The
`even` plan (every table on all cores, as without a planner) is always a candidate, and
it is kept unless the groups are estimated at least 10% faster (the cost model's error), so
auto's estimate is never above even's."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable, Sequence

from ember_tf.planner.ops import TableOp

MARGIN = 0.10      # auto's estimate must beat even's by this much (the cost model's error is up to ~7%)
TimeFn = Callable[[int, int], tuple[float, str]]   # (op index, cores) -> (cycles, strategy)
Groups = list[tuple[int, list[int]]]                # (cores, tables)


@dataclasses.dataclass(frozen=True)
class Assignment:
    op: int                # index into the level's operations
    strategy: str
    core_offset: int
    core_count: int
    estimate: float        # cycles this operation adds to its group
    start: float           # estimated start within the level (after its group's earlier tables)


@dataclasses.dataclass(frozen=True)
class LevelPlan:
    mapping: str                     # even | auto | exhaustive
    assignments: list[Assignment]    # in launch order
    estimate: float                  # the level's makespan, cycles


def plan_level(ops: Sequence[TableOp], cores: int, time: TimeFn, mapping: str = "auto") -> LevelPlan:
    planner = _Planner(len(ops), cores, time)
    even = planner.plan("even", [(cores, list(range(len(ops))))])
    if mapping == "even" or len(ops) == 0:
        return even
    auto = planner.plan("auto", planner.auto_groups())
    # Core groups only when clearly faster: within the cost model's error the even split,
    # which every kernel's bandwidth share already balances, is the safer plan.
    return auto if auto.estimate < even.estimate * (1 - MARGIN) else dataclasses.replace(even, mapping="auto")


def plan_exhaustive(ops: Sequence[TableOp], cores: int, time: TimeFn) -> LevelPlan:
    """The best plan of this shape over every partition of the tables into groups and
    every split of the cores among them (small cases only: it grows as Bell(n) * C(cores-1, g-1))."""
    planner = _Planner(len(ops), cores, time)
    best = None
    for partition in _partitions(list(range(len(ops)))):
        if len(partition) > cores:
            continue
        for counts in _compositions(cores, len(partition)):
            groups = [(k, sorted(block)) for k, block in zip(counts, partition)]
            makespan = planner.makespan(groups)
            if best is None or makespan < best[0]:
                best = (makespan, groups)
    return planner.plan("exhaustive", best[1])


class _Planner:
    def __init__(self, n: int, cores: int, time: TimeFn):
        self.n, self.cores, self.time = n, cores, time

    def cost(self, k: int, members: Sequence[int]) -> float:
        """A group's time: its tables one after another on its k cores."""
        return sum(self.time(t, k)[0] for t in members)

    def makespan(self, groups: Groups) -> float:
        return max(self.cost(k, m) for k, m in groups)

    # -- auto ----------------------------------------------------------------------------

    def auto_groups(self) -> Groups:
        n, cores = self.n, self.cores
        lo = max(min(self.time(t, k)[0] for k in range(1, cores + 1)) for t in range(n))
        hi = self.cost(1, list(range(n)))               # everything on one core always fits
        best = self._groups_within(hi)
        for _ in range(60):                             # bisection on the makespan
            if hi - lo <= 1e-6 * hi:
                break
            mid = (lo + hi) / 2
            groups = self._groups_within(mid)
            if groups is None:
                lo = mid
            else:
                best, hi = groups, mid
        starts = [self._spend_spare_cores(best), [(cores, list(range(n)))]]
        return min((self._improve(start) for start in starts), key=self.makespan)

    def _groups_within(self, limit: float) -> Groups | None:
        """Groups whose every group takes at most `limit`, using at most the cores; None if none."""
        need = {}
        for t in range(self.n):
            fits = [k for k in range(1, self.cores + 1) if self.time(t, k)[0] <= limit]
            if not fits:
                return None
            need[t] = fits[0]
        groups = [(need[t], [t]) for t in range(self.n) if need[t] > 1]
        bins: list[list[int]] = []
        for t in sorted((t for t in range(self.n) if need[t] == 1), key=lambda t: -self.time(t, 1)[0]):
            for members in bins:
                if self.cost(1, members + [t]) <= limit:
                    members.append(t)
                    break
            else:
                bins.append([t])
        groups += [(1, members) for members in bins]
        return groups if sum(k for k, _ in groups) <= self.cores else None

    def _spend_spare_cores(self, groups: Groups) -> Groups:
        groups = [(k, list(members)) for k, members in groups]
        spare = self.cores - sum(k for k, _ in groups)
        while spare > 0:
            slowest = max(range(len(groups)), key=lambda g: self.cost(*groups[g]))
            k, members = groups[slowest]
            if self.cost(k + 1, members) >= self.cost(k, members):
                break
            groups[slowest] = (k + 1, members)
            spare -= 1
        if spare > 0:      # nothing gets faster: the slowest group keeps them (an even split's shape)
            slowest = max(range(len(groups)), key=lambda g: self.cost(*groups[g]))
            groups[slowest] = (groups[slowest][0] + spare, groups[slowest][1])
        return groups

    def _improve(self, groups: Groups, rounds: int = 200) -> Groups:
        """Local search over _neighbours while the makespan falls."""
        current, best = [(k, list(m)) for k, m in groups], self.makespan(groups)
        for _ in range(rounds):
            found = None
            for candidate in _neighbours(current):
                span = self.makespan(candidate)
                if span < best * (1 - 1e-9):
                    found, best = candidate, span
            if found is None:
                break
            current = found
        return current

    # -- the plan ------------------------------------------------------------------------

    def plan(self, mapping: str, groups: Groups) -> LevelPlan:
        """Groups laid out on consecutive cores, largest first; tables in each in input order."""
        assignments, offset, makespan = [], 0, 0.0
        for k, members in sorted(groups, key=lambda g: (-g[0], g[1])):
            start = 0.0
            for t in sorted(members):
                cycles, strategy = self.time(t, k)
                assignments.append(Assignment(t, strategy, offset, k, cycles, start))
                start += cycles
            makespan = max(makespan, start)
            offset += k
        assignments.sort(key=lambda a: (a.start, a.op))
        return LevelPlan(mapping, assignments, makespan)


def _neighbours(groups: Groups):
    n = len(groups)
    for a in range(n):
        for t in groups[a][1]:
            for b in range(n):
                if b != a:
                    moved = [(k, [x for x in m if x != t] if g == a else (m + [t] if g == b else m))
                             for g, (k, m) in enumerate(groups)]
                    yield [(k, m) for k, m in moved if m]
        if groups[a][0] > 1:
            for b in range(n):
                if b != a:
                    yield [(k - 1 if g == a else k + 1 if g == b else k, m) for g, (k, m) in enumerate(groups)]
            if len(groups[a][1]) > 1:           # a table leaves with some of its group's cores
                for t in groups[a][1]:
                    for j in range(1, groups[a][0]):
                        rest = [(groups[a][0] - j, [x for x in groups[a][1] if x != t]), (j, [t])]
                        yield [g for i, g in enumerate(groups) if i != a] + rest


def _partitions(items: list[int]):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for smaller in _partitions(rest):
        for i in range(len(smaller)):
            yield smaller[:i] + [[first] + smaller[i]] + smaller[i + 1:]
        yield [[first]] + smaller


def _compositions(total: int, parts: int):
    for cuts in itertools.combinations(range(1, total), parts - 1):
        bounds = (0,) + cuts + (total,)
        yield [bounds[i + 1] - bounds[i] for i in range(parts)]
