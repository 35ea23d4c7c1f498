"""One rewriter per embedding family (tf2onnx's `rewriter/` layout). Each has a
labelled pattern and turns a match into a KernelCall (or leaves it to the host
with a reason); `rewrite_graph` runs them, most specific first, replacing every
matched output in the graph by a Placeholder the kernel will fill."""

from __future__ import annotations

import dataclasses

from ember_tf.grappler_like.flat_graph import FlatGraph
from ember_tf.grappler_like.pattern import match_all
from ember_tf.grappler_like.rewriter.base import KernelCall, Rewriter, Skip
from ember_tf.grappler_like.rewriter.keras_gather import ReadVariableGatherRewriter
from ember_tf.grappler_like.rewriter.max_norm import MaxNormGatherRewriter
from ember_tf.grappler_like.rewriter.partitioned import PartitionedLookupRewriter, ShardedTable
from ember_tf.grappler_like.rewriter.ragged_gather import RaggedGatherRewriter
from ember_tf.grappler_like.rewriter.reduce_bag import ReduceBagRewriter
from ember_tf.grappler_like.rewriter.resource_gather import ResourceGatherRewriter
from ember_tf.grappler_like.rewriter.segment_sum import UnsortedSegmentSumRewriter
from ember_tf.grappler_like.rewriter.sparse_segment import SparseSegmentRewriter
from ember_tf.grappler_like.rewriter.spmm import SparseDenseMatMulRewriter
from ember_tf.grappler_like.rewriter.weighted_sparse import (
    WeightedMeanRewriter, WeightedSqrtnRewriter, WeightedSumRewriter,
)
from ember_tf.ir.core import dtype_name

# Larger patterns first: a bag's gather must not be taken alone before the bag is seen.
REWRITERS: tuple[Rewriter, ...] = (
    WeightedMeanRewriter(),
    WeightedSqrtnRewriter(),
    WeightedSumRewriter(),
    SparseSegmentRewriter(),
    ReduceBagRewriter(),
    UnsortedSegmentSumRewriter(),
    SparseDenseMatMulRewriter(),
    RaggedGatherRewriter(),
    PartitionedLookupRewriter(),
    MaxNormGatherRewriter(),
    ResourceGatherRewriter(),
    ReadVariableGatherRewriter(),
)

KERNEL_PREFIX = "ember_kernel"


@dataclasses.dataclass(frozen=True)
class Skipped:
    family: str
    node: str
    op: str
    reason: str


@dataclasses.dataclass
class Rewritten:
    calls: list[KernelCall]
    skipped: list[Skipped]
    kernel_outputs: dict[str, int]   # Placeholder node -> index into calls


def rewrite_graph(graph: FlatGraph, rewriters: tuple[Rewriter, ...] = REWRITERS) -> Rewritten:
    result = Rewritten([], [], {})
    for rewriter in rewriters:
        seen: set[str] = set()
        while _rewrite_one(graph, rewriter, seen, result):
            pass
    return result


def _rewrite_one(graph: FlatGraph, rewriter: Rewriter, seen: set[str], result: Rewritten) -> bool:
    """Applies the first new match of `rewriter`; False when none is left."""
    view = graph.view()
    for match in match_all(view, rewriter.pattern):
        anchor = match.node(rewriter.anchor)
        if anchor.name in seen:
            continue
        seen.add(anchor.name)
        call = rewriter.rewrite(match, graph)
        if call is None:
            continue
        if isinstance(call, Skip):
            result.skipped.append(Skipped(rewriter.family, anchor.name, anchor.op, call.reason))
            continue
        _apply(graph, call, result)
        return True
    return False


def _apply(graph: FlatGraph, call: KernelCall, result: Rewritten) -> None:
    index = len(result.calls)
    shapes = [graph.tensor_info(t).shape for t in call.outputs]
    placeholders = []
    for out, tensor, shape in zip(call.func.outputs, call.outputs, shapes):
        arg = call.func.args[out]
        name = f"{KERNEL_PREFIX}_{index}/{call.func.arg_names[out]}"
        placeholders.append(graph.add_placeholder(name, dtype_name(arg.type.dtype), shape or (None,) * arg.type.rank))
        result.kernel_outputs[name] = index
    for tensor, placeholder in zip(call.outputs, placeholders):
        graph.replace_uses(tensor, placeholder)
    call.outputs = placeholders
    result.calls.append(call)


__all__ = ["KernelCall", "REWRITERS", "Rewriter", "Rewritten", "ShardedTable", "Skip", "Skipped", "rewrite_graph"]
