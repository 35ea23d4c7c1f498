"""A row lookup: `gather(table[N, D], ids)` whose dimension numbers take whole rows
(TF's GatherV2 and jnp.take, in the plain form and optimized HLO's
`collapsed_slice_dims={}` + bitcast form)."""

from __future__ import annotations

from ember_tf.frontend.rewrite import KernelCall
from ember_tf.hlo.module import Shape
from ember_tf.hlo_import.graph import FlatGraph
from ember_tf.hlo_import.rewriter.base import Rewriter, RowGather, clamped_ids, row_gather
from ember_tf.ir import embedding_ops


class GatherRewriter(Rewriter):
    order = 30
    family = "gather"
    opcodes = ("gather",)

    def rewrite(self, graph: FlatGraph, instruction):
        lookup = row_gather(graph, instruction)
        if not isinstance(lookup, RowGather):
            return lookup
        ids = clamped_ids(graph, lookup, instruction.name)
        func = embedding_ops.gather(lookup.dim, lookup.dtype, lookup.id_dtype, id_rank=len(lookup.ids_shape))
        out = graph.kernel_output(instruction.name, Shape(instruction.shape.dtype, lookup.ids_shape + (lookup.dim,)))
        return KernelCall(self.family, func, [lookup.table, ids], [out], [instruction.name])
