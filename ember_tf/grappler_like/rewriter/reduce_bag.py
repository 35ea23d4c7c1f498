"""An embedding bag written as a reduction over a gathered [B, L, D]:
`Sum|Mean(gather(table, ids[B, L]), axis=1)` (tf.reduce_sum / tf.reduce_mean of
tf.nn.embedding_lookup, Keras Embedding followed by a pooling sum or mean).

With L known the kernel reads the [B, L] ids as fixed-size bags; otherwise the
host gives it CSR offsets (b * L). A mean needs L known and non-zero (TensorFlow's
mean over an empty axis is NaN, which a bag's div_no_nan would turn into 0)."""

from __future__ import annotations

import functools

from ember_tf.frontend.rewrite import KernelCall, Skip
from ember_tf.grappler_like.pattern import ANY, OpTypePattern
from ember_tf.grappler_like.rewriter.base import Rewriter, row_lookup, splice, typed_lookup
from ember_tf.ir import embedding_ops


class ReduceBagRewriter(Rewriter):
    order = 30
    family = "reduce over gather"
    anchor = "reduce"
    pattern = OpTypePattern("Sum|Mean", "reduce", [ANY("rows"), ANY("axis")])

    def rewrite(self, graph, match):
        view, reduce = match.view, match.node("reduce")
        axis = graph.constant_value(match.tensors["axis"])
        if axis is None or axis.size != 1 or int(axis.reshape(-1)[0]) not in (1, -2) \
                or reduce.attr["keep_dims"].b:
            return None
        found = typed_lookup(graph, row_lookup(view, graph, match.tensors["rows"]))
        if not isinstance(found, tuple):
            return found
        if not match.only_consumed_inside(["rows"], keep="reduce"):
            return Skip("the gathered rows are also used outside the reduction")
        lookup, ids_type = found
        table, ids = lookup.table, lookup.ids
        shape = graph.tensor_info(ids).shape
        if shape is None or len(shape) != 2:
            return None
        combiner = "mean" if reduce.op == "Mean" else "sum"
        pooling = shape[1]
        if combiner == "mean" and not pooling:
            return Skip("reduce_mean over a bag length that is not known to be non-zero")
        name = f"eb_{combiner}"
        if pooling is not None:
            func = embedding_ops.embedding_bag(table.dim, combiner, dtype=table.dtype, id_dtype=ids_type,
                                               pooling=pooling, name=name, max_norm=lookup.max_norm)
            inputs = [table.source, str(ids)]
        else:
            flat, offsets = splice(graph, functools.partial(_fixed_offsets, ids_dtype=ids_type), {"ids": ids},
                                   "ember_bag_offsets")
            func = embedding_ops.embedding_bag(table.dim, combiner, dtype=table.dtype, id_dtype=ids_type,
                                               name=name, max_norm=lookup.max_norm)
            inputs = [table.source, flat, offsets]
        return KernelCall(self.family, func, inputs, [f"{reduce.name}:0"], [*lookup.nodes, reduce.name])


def _fixed_offsets(ids, *, ids_dtype):
    import tensorflow as tf

    shape = tf.shape(ids, out_type=tf.int64 if ids_dtype == "i64" else tf.int32)
    return tf.reshape(ids, [-1]), tf.range(shape[0] + 1) * shape[1]
