"""tf.nn.embedding_lookup on a variable: `ResourceGather(table, ids)`, ids of any rank."""

from __future__ import annotations

from ember_tf.grappler_like.pattern import ANY, OpTypePattern
from ember_tf.grappler_like.rewriter.base import KernelCall, Rewriter, Skip, gather_table, id_dtype
from ember_tf.ir import embedding_ops


def lookup_call(family, match, graph, label="gather") -> KernelCall | Skip | None:
    """The gather kernel for the row gather bound to `label`."""
    node = match.node(label)
    found = gather_table(match.view, graph, node)
    if not isinstance(found, tuple):
        return found
    table, ids = found
    if isinstance(table, Skip):
        return table
    ids_type = id_dtype(graph, ids)
    if isinstance(ids_type, Skip):
        return ids_type
    shape = graph.tensor_info(ids).shape
    if shape is None or len(shape) == 0:
        return Skip("ids of unknown rank or a scalar id")
    func = embedding_ops.gather(table.dim, table.dtype, ids_type, name="gather", id_rank=len(shape))
    return KernelCall(family, func, [table.source, str(ids)], [f"{node.name}:0"], [node.name])


class ResourceGatherRewriter(Rewriter):
    family = "ResourceGather"
    anchor = "gather"
    pattern = OpTypePattern("ResourceGather", "gather", [ANY("table"), ANY("ids")])

    def rewrite(self, match, graph):
        return lookup_call(self.family, match, graph)
