"""tf.nn.embedding_lookup_sparse without weights (sum / mean / sqrtn):
`Unique(ids)` → gather(table, unique ids) → `SparseSegment{Sum,Mean,SqrtN}(rows,
idx, segment_ids)`, and the `...WithNumSegments` forms; also a SparseSegment op
reading a table directly (`tf.sparse.segment_sum(table, ids, segments)`).

The kernel is an embedding bag over CSR offsets. The host turns the sorted
segment ids into offsets (`searchsorted`), after the checks TensorFlow's kernel
makes (ids increasing and non-negative, below num_segments), so the output has
TensorFlow's row count: the last segment id + 1, or num_segments."""

from __future__ import annotations

import functools

from ember_tf.grappler_like.pattern import OpTypePattern
from ember_tf.grappler_like.rewriter.base import KernelCall, Rewriter, Skip, gather_table, id_dtype, params_table, splice
from ember_tf.ir import embedding_ops

COMBINERS = {"SparseSegmentSum": "sum", "SparseSegmentMean": "mean", "SparseSegmentSqrtN": "sqrtn"}
_OPS = "|".join(list(COMBINERS) + [op + "WithNumSegments" for op in COMBINERS])


class SparseSegmentRewriter(Rewriter):
    family = "SparseSegment"
    anchor = "segment"
    pattern = OpTypePattern(_OPS, "segment")

    def rewrite(self, match, graph):
        view, node = match.view, match.node("segment")
        inputs = view.fanin(node.name)
        data, indices, segment_ids = inputs[:3]
        num_segments = inputs[3] if len(inputs) == 4 else None
        found = _unique_gather(view, graph, data, indices)
        if found is None:   # the op gathers the table itself
            found = params_table(view, graph, data), indices
        if not isinstance(found, tuple):
            return found
        table, ids = found
        if isinstance(table, Skip):
            return table
        ids_type = id_dtype(graph, ids)
        if isinstance(ids_type, Skip):
            return ids_type
        combiner = COMBINERS[node.op.removesuffix("WithNumSegments")]
        feeds = {"segment_ids": segment_ids} | ({"num_segments": num_segments} if num_segments is not None else {})
        offsets, flat_ids = splice(graph, functools.partial(_offsets, ids_dtype=ids_type),
                                   feeds | {"ids": ids}, "ember_segment_offsets")
        func = embedding_ops.embedding_bag(table.dim, combiner, dtype=table.dtype, id_dtype=ids_type,
                                           name=f"eb_{combiner}")
        return KernelCall(self.family, func, [table.source, flat_ids, offsets], [f"{node.name}:0"],
                          [node.name])


def _unique_gather(view, graph, data, indices):
    """(table, ids) when `data` gathers a table by `Unique(ids).y` and `indices` is
    that Unique's `idx`: the pair reads table[ids] in order."""
    if data.is_arg or indices.is_arg:
        return None
    gather = view.node(data.node)
    while gather.op == "Identity":
        data = view.fanin(gather.name)[0]
        if data.is_arg:
            return None
        gather = view.node(data.node)
    if gather.op not in ("ResourceGather", "GatherV2"):
        return None
    found = gather_table(view, graph, gather)
    if not isinstance(found, tuple):
        return found
    table, unique_y = found
    if unique_y.is_arg or view.node(unique_y.node).op != "Unique" or unique_y.index != 0:
        return None
    if indices.node != unique_y.node or indices.index != 1:
        return None
    return table, view.fanin(unique_y.node)[0]


def _offsets(segment_ids, ids, num_segments=None, *, ids_dtype):
    """CSR offsets of sorted segment ids (and the ids, flattened), with TensorFlow's checks."""
    import tensorflow as tf

    out_type = tf.int64 if ids_dtype == "i64" else tf.int32
    seg = tf.cast(tf.reshape(segment_ids, [-1]), tf.int64)
    checks = [tf.debugging.assert_non_negative(seg, message="segment ids must be >= 0"),
              tf.debugging.assert_greater_equal(seg[1:], seg[:-1], message="segment ids are not increasing")]
    if num_segments is None:
        rows = tf.reduce_max(tf.concat([[-1], seg], 0)) + 1
    else:
        rows = tf.cast(tf.reshape(num_segments, []), tf.int64)
        checks.append(tf.debugging.assert_less(seg, rows, message="segment ids must be < num_segments"))
    with tf.control_dependencies(checks):
        offsets = tf.searchsorted(seg, tf.range(rows + 1, dtype=tf.int64), side="left", out_type=out_type)
    return offsets, tf.reshape(ids, [-1])
