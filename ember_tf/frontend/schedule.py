"""The host-level planner, generic over the graph: what the signature's outputs need
(grappler's model pruner), and for each value the number of kernel launches it waits
for (its level). Level k's host values form host segment k, which runs after the
kernels of level k - 1 and before those of level k. The frontend says how a value's
predecessors are found, in which order values are visited, and how a segment is built."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Callable, Iterable

from ember_tf.frontend.rewrite import KernelCall


@dataclasses.dataclass
class HostStep:
    """A host segment: `program` (a GraphDef, an HLO module) reads `inputs` (values of the
    working graph, named `input_names` inside it) and computes `outputs` (same names)."""

    name: str
    program: object
    inputs: list[str]
    input_names: list[str]
    outputs: list[str]


@dataclasses.dataclass
class KernelStep:
    call: KernelCall


@dataclasses.dataclass
class Levels:
    live: set[str]
    level: dict[str, int]          # value -> kernel launches it waits for
    kernel_level: dict[int, int]   # kernel call -> kernel launches before it
    kernels: list[int]             # the live kernel calls, in call order


def live_values(outputs: Iterable[str], preds: Callable[[str], Iterable[str]]) -> set[str]:
    """The values the outputs need."""
    live: set[str] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if name not in live:
            live.add(name)
            stack += preds(name)
    return live


def assign_levels(live: set[str], order: Iterable[str], preds: Callable[[str], Iterable[str]],
                  kernel_of: dict[str, int]) -> Levels:
    """Levels of the live values visited in `order` (predecessors first); a kernel's
    output is one launch later than the kernel's inputs."""
    level: dict[str, int] = {}
    kernel_level: dict[int, int] = {}
    for name in order:
        if name not in live:
            continue
        start = max((level.get(p, 0) for p in preds(name)), default=0)
        if name in kernel_of:
            kernel_level[kernel_of[name]] = start
            start += 1
        level[name] = start
    kernels = sorted({kernel_of[n] for n in live if n in kernel_of})
    return Levels(live, level, kernel_level, kernels)


def interleave(levels: Levels, hosted: Iterable[str], segment: Callable[[str, list[str]], object],
               kernel: Callable[[int], object]) -> list:
    """The steps: per level, its host segment (`segment(name, members)`, members in the
    order `hosted` gives them), then the kernels of that level."""
    by_level: dict[int, list[str]] = defaultdict(list)
    for name in hosted:
        by_level[levels.level[name]].append(name)
    steps: list = []
    top = max(list(by_level) + [levels.kernel_level[k] for k in levels.kernels], default=0)
    for lvl in range(top + 1):
        if by_level.get(lvl):
            steps.append(segment(f"host_{lvl}", by_level[lvl]))
        steps += [kernel(k) for k in levels.kernels if levels.kernel_level[k] == lvl]
    return steps
