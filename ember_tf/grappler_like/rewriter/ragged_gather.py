"""tf.gather of a ragged tensor's rows: `RaggedGather(splits, values[N, D], ids)`
(one ragged dimension, rank-1 ids). The host computes the result's row_splits (the
running sum of the selected rows' lengths, which also checks the ids as TensorFlow
does); the kernel copies the selected rows' values."""

from __future__ import annotations

from ember_tf.frontend.rewrite import KernelCall, Skip
from ember_tf.grappler_like.pattern import ANY, OpTypePattern
from ember_tf.grappler_like.rewriter.base import Rewriter, id_dtype, params_table, splice
from ember_tf.ir import embedding_ops


class RaggedGatherRewriter(Rewriter):
    order = 60
    family = "RaggedGather"
    anchor = "gather"
    pattern = OpTypePattern("RaggedGather", "gather", [ANY("splits"), ANY("values"), ANY("ids")])

    def rewrite(self, graph, match):
        node = match.node("gather")
        if node.attr["PARAMS_RAGGED_RANK"].i != 1 or node.attr["OUTPUT_RAGGED_RANK"].i != 1:
            return Skip("ragged tensors with more than one ragged dimension")
        splits, values, ids = (match.tensors[k] for k in ("splits", "values", "ids"))
        ids_shape = graph.tensor_info(ids).shape
        if ids_shape is None or len(ids_shape) != 1:
            return Skip("ids are not a vector")
        table = params_table(match.view, graph, values)
        if isinstance(table, Skip):
            return table
        ids_type = id_dtype(graph, splits, ids)
        if isinstance(ids_type, Skip):
            return ids_type
        out_splits, row_splits, flat_ids, kernel_splits = splice(graph, _output_splits(ids_type),
                                                                 {"splits": splits, "ids": ids}, "ember_ragged")
        graph.replace_uses(f"{node.name}:0", out_splits)
        func = embedding_ops.ragged_gather(table.dim, table.dtype, ids_type)
        return KernelCall(self.family, func, [table.source, row_splits, flat_ids, kernel_splits],
                          [f"{node.name}:1"], [node.name])


def _output_splits(ids_type):
    def build(splits, ids):
        import tensorflow as tf

        dtype = tf.int64 if ids_type == "i64" else tf.int32
        lengths = tf.gather(splits[1:] - splits[:-1], ids)     # errors on an id out of range
        out = tf.concat([tf.zeros([1], splits.dtype), tf.cumsum(lengths)], 0)
        return out, tf.cast(splits, dtype), tf.cast(ids, dtype), tf.cast(out, dtype)

    return build
