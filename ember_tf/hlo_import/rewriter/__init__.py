"""One rewriter per pattern of embedding work in HLO: a bag (reduce over a gather),
a segment sum (scatter-add of gathered rows), a row lookup (gather). Each looks at
instructions of its opcodes and returns an HloKernelCall, a Skip (with the reason
`ember-tf inspect` shows), or None."""

from __future__ import annotations

import dataclasses

from ember_tf.hlo_import.graph import FlatGraph, HloKernelCall
from ember_tf.hlo_import.rewriter.bag import BagRewriter
from ember_tf.hlo_import.rewriter.base import Skip
from ember_tf.hlo_import.rewriter.gather import GatherRewriter
from ember_tf.hlo_import.rewriter.segment_sum import SegmentSumRewriter

# Larger patterns first: a bag's gather must not be taken alone before the bag is seen.
REWRITERS = (BagRewriter(), SegmentSumRewriter(), GatherRewriter())


@dataclasses.dataclass(frozen=True)
class Skipped:
    family: str
    node: str
    op: str
    reason: str


@dataclasses.dataclass
class Rewritten:
    calls: list[HloKernelCall]
    skipped: list[Skipped]


def rewrite_graph(graph: FlatGraph, rewriters=REWRITERS) -> Rewritten:
    result = Rewritten([], [])
    taken: set[str] = set()     # instructions a kernel already stands for
    for rewriter in rewriters:
        for instruction in list(graph.computation.instructions):
            if instruction.opcode not in rewriter.opcodes or instruction.name in taken:
                continue
            found = rewriter.rewrite(graph, instruction)
            if isinstance(found, Skip):
                result.skipped.append(Skipped(rewriter.family, instruction.name, instruction.opcode, found.reason))
            elif found is not None:
                result.calls.append(found)
                taken.update(found.nodes)
    return result
