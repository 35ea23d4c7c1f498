"""Keras 3 `Embedding` (and tf.gather on a variable's value):
`ReadVariableOp(table)` → `GatherV2(value, ids, axis=0)`. Keras first wraps
negative ids (`Less`/`AddV2`/`SelectV2`); that stays on the host, in front of the
kernel, so the kernel sees the ids TensorFlow gathers with."""

from __future__ import annotations

from ember_tf.grappler_like.pattern import ANY, OpTypePattern
from ember_tf.grappler_like.rewriter.base import Rewriter
from ember_tf.grappler_like.rewriter.resource_gather import lookup_call


class ReadVariableGatherRewriter(Rewriter):
    order = 100
    family = "GatherV2"
    anchor = "gather"
    pattern = OpTypePattern("GatherV2", "gather", [OpTypePattern("ReadVariableOp", "read"), ANY("ids"),
                                                   ANY("axis")])

    def rewrite(self, graph, match):
        return lookup_call(self.family, match, graph)
