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

from ember_tf.frontend.rewrite import KernelCall, Skip
from ember_tf.grappler_like.pattern import OpTypePattern
from ember_tf.grappler_like.rewriter.base import (
    Lookup, Rewriter, params_table, splice, typed_lookup, unique_lookup,
)
from ember_tf.ir import embedding_ops

COMBINERS = {"SparseSegmentSum": "sum", "SparseSegmentMean": "mean", "SparseSegmentSqrtN": "sqrtn"}
_OPS = "|".join(list(COMBINERS) + [op + "WithNumSegments" for op in COMBINERS])


class SparseSegmentRewriter(Rewriter):
    order = 20
    family = "SparseSegment"
    anchor = "segment"
    pattern = OpTypePattern(_OPS, "segment")

    def rewrite(self, graph, match):
        view, node = match.view, match.node("segment")
        inputs = view.fanin(node.name)
        data, indices, segment_ids = inputs[:3]
        num_segments = inputs[3] if len(inputs) == 4 else None
        lookup = unique_lookup(view, graph, data, indices)
        if lookup is None:   # the op gathers the table itself
            table = params_table(view, graph, data)
            lookup = table if isinstance(table, Skip) else Lookup(table, indices, None, ())
        found = typed_lookup(graph, lookup)
        if not isinstance(found, tuple):
            return found
        lookup, ids_type = found
        combiner = COMBINERS[node.op.removesuffix("WithNumSegments")]
        offsets, flat_ids = segment_offsets(graph, segment_ids, lookup.ids, ids_type, num_segments)
        func = embedding_ops.embedding_bag(lookup.table.dim, combiner, dtype=lookup.table.dtype,
                                           id_dtype=ids_type, name=f"eb_{combiner}", max_norm=lookup.max_norm)
        return KernelCall(self.family, func, [lookup.table.source, flat_ids, offsets], [f"{node.name}:0"],
                          [node.name, *lookup.nodes])


def segment_offsets(graph, segment_ids, ids, ids_type, num_segments=None) -> list[str]:
    """Host nodes giving (CSR offsets, flat ids) for sorted segment ids."""
    feeds = {"segment_ids": segment_ids, "ids": ids}
    if num_segments is not None:
        feeds["num_segments"] = num_segments
    return splice(graph, functools.partial(_offsets, ids_dtype=ids_type), feeds, "ember_segment_offsets")


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
