"""tf.nn.embedding_lookup_sparse with sp_weights: `Unique` → gather → `GatherV2(rows,
idx)` → `Mul(weights)` → `SegmentSum`; mean divides by `SegmentSum(weights)` with
`DivNoNan`, sqrtn by `Sqrt(SegmentSum(Pow(weights, 2)))`. One weighted embedding
bag; the host turns the sorted segment ids into CSR offsets as for the unweighted
bags."""

from __future__ import annotations

from ember_tf.frontend.rewrite import KernelCall, Skip
from ember_tf.grappler_like.pattern import ANY, OpTypePattern
from ember_tf.grappler_like.rewriter.base import (
    Rewriter, splice, typed_lookup, unique_lookup,
)
from ember_tf.grappler_like.rewriter.sparse_segment import segment_offsets
from ember_tf.ir import embedding_ops

_WEIGHTED_SUM = OpTypePattern("SegmentSum", "sum", [
    OpTypePattern("Mul", "weighted", [OpTypePattern("GatherV2", "expand", [ANY("unique_rows"), ANY("idx"),
                                                                           ANY("axis")]),
                                      ANY("weights")]),
    ANY("segment_ids"),
])
_WEIGHT_SUM = OpTypePattern("SegmentSum", "wsum", [ANY("weights"), ANY("segment_ids")])
_SQUARED_WEIGHT_SUM = OpTypePattern("SegmentSum", "wsum", [OpTypePattern("Pow", "square", [ANY("weights"),
                                                                                            ANY("two")]),
                                                           ANY("segment_ids")])


class _WeightedBag(Rewriter):
    family = "weighted SparseSegment"
    anchor = "result"
    combiner = ""

    def rewrite(self, graph, match):
        view = match.view
        axis = graph.constant_value(match.tensors["axis"])
        if axis is None or axis.size != 1 or int(axis.reshape(-1)[0]) != 0:
            return None
        if self.combiner == "sqrtn":
            two = graph.constant_value(match.tensors["two"])
            if two is None or two.size != 1 or float(two.reshape(-1)[0]) != 2.0:
                return None
        if not match.only_consumed_inside(["expand", "weighted"], keep="result"):
            return Skip("the weighted rows are also used outside the bag")
        found = typed_lookup(graph, unique_lookup(view, graph, match.tensors["unique_rows"], match.tensors["idx"]))
        if not isinstance(found, tuple):
            return found
        lookup, ids_type = found
        if graph.tensor_info(match.tensors["weights"]).dtype != graph.tensor_info(match.tensors["unique_rows"]).dtype:
            return Skip("weights and table rows differ in dtype")
        offsets, flat_ids = segment_offsets(graph, match.tensors["segment_ids"], lookup.ids, ids_type)
        (weights,) = splice(graph, _flat_weights, {"weights": match.tensors["weights"], "ids": lookup.ids},
                            "ember_bag_weights")
        func = embedding_ops.embedding_bag(lookup.table.dim, self.combiner, weighted=True, dtype=lookup.table.dtype,
                                           id_dtype=ids_type, name=f"eb_weighted_{self.combiner}",
                                           max_norm=lookup.max_norm)
        result = match.node("result")
        return KernelCall(self.family, func, [lookup.table.source, flat_ids, weights, offsets],
                          [f"{result.name}:0"], sorted(match.nodes()) + list(lookup.nodes))


class WeightedMeanRewriter(_WeightedBag):
    order = 10
    combiner = "mean"
    pattern = OpTypePattern("DivNoNan", "result", [_WEIGHTED_SUM, _WEIGHT_SUM])


class WeightedSqrtnRewriter(_WeightedBag):
    order = 11
    combiner = "sqrtn"
    pattern = OpTypePattern("DivNoNan", "result", [_WEIGHTED_SUM, OpTypePattern("Sqrt", "sqrt", [_SQUARED_WEIGHT_SUM])])


class WeightedSumRewriter(_WeightedBag):
    order = 12
    combiner = "sum"
    pattern = OpTypePattern("SegmentSum", "result", _WEIGHTED_SUM.inputs)


def _flat_weights(weights, ids):
    import tensorflow as tf

    flat = tf.reshape(weights, [-1])
    check = tf.debugging.assert_equal(tf.size(flat), tf.size(ids), message="one weight per id")
    with tf.control_dependencies([check]):
        return [tf.identity(flat)]
