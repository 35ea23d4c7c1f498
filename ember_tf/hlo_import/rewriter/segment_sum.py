"""A segment sum of looked-up rows (message passing, tf.math.unsorted_segment_sum,
jax.ops.segment_sum): `scatter(zeros[S, D], dst, gather(table, src), to_apply=add)`.

XLA skips updates whose index is out of bounds; the host sends those edges to an
extra segment S that the kernel's output has and the result drops."""

from __future__ import annotations

from ember_tf.frontend.rewrite import KernelCall
from ember_tf.hlo.module import Shape
from ember_tf.hlo_import.graph import FlatGraph
from ember_tf.hlo_import.rewriter.base import (
    FilledRows, Rewriter, RowGather, Skip, clamped_ids, looked_up_rows, nan_where_out_of_bounds, scalar_constant,
)
from ember_tf.ir import embedding_ops


class SegmentSumRewriter(Rewriter):
    order = 20
    family = "scatter-add of gathered rows"
    opcodes = ("scatter",)

    def rewrite(self, graph: FlatGraph, scatter):
        if len(scatter.operands) != 3 or graph.reducer_op(scatter.computation("to_apply")) != "add":
            return None
        base, indices, updates = (graph.get(o) for o in scatter.operands)
        if scalar_constant(graph, base.name) != 0 or len(base.shape.dims) != 2:
            return None
        windows = (scatter.ints("update_window_dims"), scatter.ints("inserted_window_dims"))
        # rows [E, D] inserted along dim 0, or optimized HLO's [E, 1, D] windows
        if windows not in (((1,), (0,)), ((1, 2), ())) or scatter.ints("scatter_dims_to_operand_dims") != (0,):
            return None
        if len(updates.shape.dims) != len(windows[0]) + 1:
            return None
        vector_dim, dims = scatter.int("index_vector_dim"), indices.shape.dims
        if not (len(dims) == 1 and vector_dim == 1) and not (dims[1:] == (1,) and vector_dim == 1):
            return None
        found = looked_up_rows(graph, updates.name)
        if not isinstance(found, (RowGather, FilledRows)):
            return found
        lookup = found if isinstance(found, RowGather) else found.lookup
        if len(lookup.ids_shape) != 1 or updates.shape.dims[-1] != base.shape.dims[1]:
            return None
        if not graph.only_used_by(updates.name, scatter.name):
            return Skip("the gathered rows are also used elsewhere")
        if indices.shape.dtype != graph.get(lookup.ids).shape.dtype:
            return Skip("gather and scatter indices differ in type")
        segments, dim = base.shape.dims
        src = clamped_ids(graph, lookup, scatter.name)
        dst = _dst_or_spare(graph, indices.name, segments, (dims[0],), scatter.name)
        count = graph.constant(scatter.name, [segments + 1], indices.shape.numpy_dtype)
        func = embedding_ops.segment_sum(dim, lookup.dtype, lookup.id_dtype, segments="input")
        wide = Shape(scatter.shape.dtype, (segments + 1, dim))
        out = graph.stand_in(scatter.name, wide)
        total = out
        if isinstance(found, FilledRows):     # segments receiving an out-of-bounds row are NaN, as the select makes them
            nan = nan_where_out_of_bounds(graph, found, scatter.name, scatter.shape.dtype)
            zeros = graph.broadcast_scalar(scatter.name, 0, scatter.shape.numpy_dtype, (segments + 1,))
            per_segment = graph.add(scatter.name, "scatter", Shape(scatter.shape.dtype, (segments + 1,)),
                                    [zeros, dst, nan], {
                                        "update_window_dims": "{}", "inserted_window_dims": "{0}",
                                        "scatter_dims_to_operand_dims": "{0}", "index_vector_dim": "1",
                                        "to_apply": scatter.attrs["to_apply"]})
            spread = graph.add(scatter.name, "broadcast", wide, [per_segment], {"dimensions": "{0}"})
            total = graph.add(scatter.name, "add", wide, [out, spread])
        kept = graph.add(scatter.name, "slice", scatter.shape, [total], {"slice": f"{{[0:{segments}],[0:{dim}]}}"})
        graph.replace_uses(scatter.name, kept)
        return KernelCall(self.family, func, [lookup.table, src, dst, count], [out],
                             [lookup.node, updates.name, scatter.name])


def _dst_or_spare(graph: FlatGraph, indices: str, segments: int, shape: tuple[int, ...], before: str) -> str:
    """dst where 0 <= dst < S, else S (the spare segment)."""
    instruction = graph.get(indices)
    dtype = instruction.shape.numpy_dtype
    ids = indices if instruction.shape.dims == shape else graph.add(before, "reshape",
                                                                    Shape(instruction.shape.dtype, shape), [indices])
    zero = graph.broadcast_scalar(before, 0, dtype, shape)
    limit = graph.broadcast_scalar(before, segments, dtype, shape)
    pred = Shape("pred", shape)
    low = graph.add(before, "compare", pred, [ids, zero], {"direction": "GE"})
    high = graph.add(before, "compare", pred, [ids, limit], {"direction": "LT"})
    inside = graph.add(before, "and", pred, [low, high])
    return graph.add(before, "select", Shape(instruction.shape.dtype, shape), [inside, ids, limit])
