"""An embedding bag: `reduce(gather(table, ids[B, L]) [B, L, D], 0, dimensions={1},
to_apply=add)` (tf.reduce_sum / jnp.sum over a lookup)."""

from __future__ import annotations

import math

from ember_tf.frontend.rewrite import KernelCall
from ember_tf.hlo.module import Shape
from ember_tf.hlo_import.graph import FlatGraph
from ember_tf.hlo_import.rewriter.base import (
    FilledRows, Rewriter, RowGather, Skip, clamped_ids, looked_up_rows, nan_where_out_of_bounds, scalar_constant,
)
from ember_tf.ir import embedding_ops


class BagRewriter(Rewriter):
    order = 10
    family = "reduce over gather"
    opcodes = ("reduce",)

    def rewrite(self, graph: FlatGraph, reduce):
        if len(reduce.operands) != 2 or reduce.ints("dimensions") != (1,):
            return None
        if graph.reducer_op(reduce.computation("to_apply")) != "add" or scalar_constant(graph, reduce.operands[1]) != 0:
            return None
        found = looked_up_rows(graph, reduce.operands[0])
        if not isinstance(found, (RowGather, FilledRows)):
            return found
        lookup = found if isinstance(found, RowGather) else found.lookup
        gather = graph.get(lookup.node) if isinstance(found, RowGather) else graph.get(found.select)
        rows = graph.get(reduce.operands[0]).shape.dims     # [B, L, D]; optimized HLO gathers [B*L, 1, D]
        if len(rows) != 3 or rows[2] != lookup.dim or rows[0] * rows[1] != math.prod(lookup.ids_shape):
            return None
        if not graph.private_chain(gather.name, reduce.name):
            return Skip("the gathered rows are also used outside the reduction")
        if reduce.shape.dtype != graph.get(lookup.table).shape.dtype:
            return None
        ids = clamped_ids(graph, lookup, reduce.name, rows[:2])
        func = embedding_ops.embedding_bag(lookup.dim, "sum", dtype=lookup.dtype, id_dtype=lookup.id_dtype,
                                           pooling=rows[1])
        shape = Shape(reduce.shape.dtype, (rows[0], lookup.dim))
        out = graph.stand_in(reduce.name, shape)
        result = out
        if isinstance(found, FilledRows):     # bags holding an out-of-bounds id are NaN, as the select makes them
            nan = nan_where_out_of_bounds(graph, found, reduce.name, reduce.shape.dtype)
            per_bag = graph.add(reduce.name, "reduce", Shape(reduce.shape.dtype, (rows[0],)),
                                [nan, reduce.operands[1]], {"dimensions": "{1}", "to_apply": reduce.attrs["to_apply"]})
            spread = graph.add(reduce.name, "broadcast", shape, [per_bag], {"dimensions": "{0}"})
            result = graph.add(reduce.name, "add", shape, [out, spread])
        if reduce.shape != shape:
            result = graph.add(reduce.name, "reshape", reduce.shape, [result])
        graph.replace_uses(reduce.name, result)
        return KernelCall(self.family, func, [lookup.table, ids], [out], [lookup.node, gather.name, reduce.name])
