"""tf.nn.embedding_lookup on a variable: `ResourceGather(table, ids)`, ids of any rank."""

from __future__ import annotations

from ember_tf.frontend.rewrite import KernelCall, Skip
from ember_tf.grappler_like.pattern import ANY, OpTypePattern
from ember_tf.grappler_like.rewriter.base import Rewriter, ids_rank, row_lookup, typed_lookup
from ember_tf.ir import embedding_ops


def lookup_call(family, match, graph, label="gather") -> KernelCall | Skip | None:
    """The gather kernel for the row lookup bound to `label` (clipped if max_norm)."""
    found = typed_lookup(graph, row_lookup(match.view, graph, match.tensors[label]))
    if not isinstance(found, tuple):
        return found
    lookup, ids_type = found
    rank = ids_rank(graph, lookup.ids)
    if isinstance(rank, Skip):
        return rank
    name = "gather" if lookup.max_norm is None else "gather_max_norm"
    func = embedding_ops.gather(lookup.table.dim, lookup.table.dtype, ids_type, name=name, id_rank=rank,
                                max_norm=lookup.max_norm)
    return KernelCall(family, func, [lookup.table.source, str(lookup.ids)], [str(match.tensors[label])],
                      list(lookup.nodes))


class ResourceGatherRewriter(Rewriter):
    order = 90
    family = "ResourceGather"
    anchor = "gather"
    pattern = OpTypePattern("ResourceGather", "gather", [ANY("table"), ANY("ids")])

    def rewrite(self, graph, match):
        return lookup_call(self.family, match, graph)
