"""tf.nn.embedding_lookup(..., max_norm=c): a row gather under clip_by_norm
(`Mul`/`Sum`/`Sqrt`/`Select`/`Maximum`/`RealDiv`), one gather kernel that clips
each row as it is read. (Bags with max_norm are found by the bag rewriters.)"""

from __future__ import annotations

from ember_tf.grappler_like.rewriter.base import CLIP_BY_NORM, Rewriter
from ember_tf.grappler_like.rewriter.resource_gather import lookup_call


class MaxNormGatherRewriter(Rewriter):
    order = 80
    family = "max_norm lookup"
    anchor = "clipped"
    pattern = CLIP_BY_NORM

    def rewrite(self, graph, match):
        return lookup_call(self.family, match, graph, label="clipped")
