"""tf.nn.embedding_lookup(..., max_norm=c): a row gather under clip_by_norm
(`Mul`/`Sum`/`Sqrt`/`Select`/`Maximum`/`RealDiv`), one gather kernel that clips
each row as it is read. (Bags with max_norm are found by the bag rewriters.)"""

from __future__ import annotations

from ember_tf.grappler_like.rewriter.base import CLIP_BY_NORM, KernelCall, Lookup, Rewriter, Skip, id_dtype, row_lookup
from ember_tf.ir import embedding_ops


class MaxNormGatherRewriter(Rewriter):
    family = "max_norm lookup"
    anchor = "clipped"
    pattern = CLIP_BY_NORM

    def rewrite(self, match, graph):
        clipped = match.node("clipped")
        lookup = row_lookup(match.view, graph, match.tensors["clipped"])
        if not isinstance(lookup, Lookup) or lookup.max_norm is None:
            return lookup if isinstance(lookup, Skip) else None
        ids_type = id_dtype(graph, lookup.ids)
        if isinstance(ids_type, Skip):
            return ids_type
        shape = graph.tensor_info(lookup.ids).shape
        if shape is None or len(shape) == 0:
            return Skip("ids of unknown rank or a scalar id")
        func = embedding_ops.gather(lookup.table.dim, lookup.table.dtype, ids_type, name="gather_max_norm",
                                    id_rank=len(shape), max_norm=lookup.max_norm)
        return KernelCall(self.family, func, [lookup.table.source, str(lookup.ids)], [f"{clipped.name}:0"],
                          list(lookup.nodes))
