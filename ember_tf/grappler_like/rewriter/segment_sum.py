"""A segment sum of gathered rows (message passing):
`UnsortedSegmentSum(gather(features, src), dst, num_segments)`, features a
variable or any [N, D] tensor. TensorFlow drops rows whose segment id is
negative; the host filters those edges out before the kernel."""

from __future__ import annotations

import functools

from ember_tf.frontend.rewrite import KernelCall, Skip
from ember_tf.grappler_like.pattern import ANY, OpTypePattern
from ember_tf.grappler_like.rewriter.base import Rewriter, row_lookup, splice, typed_lookup
from ember_tf.ir import embedding_ops


class UnsortedSegmentSumRewriter(Rewriter):
    order = 40
    family = "UnsortedSegmentSum"
    anchor = "segment"
    pattern = OpTypePattern("UnsortedSegmentSum", "segment", [ANY("rows"), ANY("dst"), ANY("num_segments")])

    def rewrite(self, graph, match):
        node = match.node("segment")
        dst, num_segments = match.tensors["dst"], match.tensors["num_segments"]
        found = typed_lookup(graph, row_lookup(match.view, graph, match.tensors["rows"]), dst, num_segments)
        if not isinstance(found, tuple):
            return found
        if not match.only_consumed_inside(["rows"], keep="segment"):
            return Skip("the gathered rows are also used outside the segment sum")
        lookup, ids_type = found
        if lookup.max_norm is not None:
            return Skip("max_norm rows in a segment sum")
        table, src = lookup.table, lookup.ids
        for t, what in ((src, "gather ids"), (dst, "segment ids")):
            shape = graph.tensor_info(t).shape
            if shape is None or len(shape) != 1:
                return Skip(f"{what} are not a vector")
        src, dst, count = splice(graph, functools.partial(_edges, ids_dtype=ids_type),
                                 {"src": src, "dst": dst, "num_segments": num_segments}, "ember_edges")
        func = embedding_ops.segment_sum(table.dim, table.dtype, ids_type, segments="input")
        return KernelCall(self.family, func, [table.source, src, dst, count], [f"{node.name}:0"],
                          [*lookup.nodes, node.name])


def _edges(src, dst, num_segments, *, ids_dtype):
    import tensorflow as tf

    dtype = tf.int64 if ids_dtype == "i64" else tf.int32
    keep = dst >= 0
    return (tf.cast(tf.boolean_mask(src, keep), dtype), tf.cast(tf.boolean_mask(dst, keep), dtype),
            tf.reshape(tf.cast(num_segments, dtype), [1]))
