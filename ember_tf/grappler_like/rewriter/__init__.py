"""One rewriter per embedding family (tf2onnx's `rewriter/` layout), one file each. Each
has a labelled pattern and turns a match into a KernelCall (or leaves it to the host
with a reason); `rewrite_graph` runs them in their `order`, most specific first, with the
frontend core's driver (ember_tf/frontend/rewrite.py). A new family is a new file here:
a Rewriter subclass with a family, a pattern, an anchor and an order."""

from __future__ import annotations

from ember_tf.frontend.rewrite import KernelCall, Rewritten, Skip, Skipped, registered_rewriters
from ember_tf.frontend.rewrite import rewrite_graph as frontend_rewrite_graph
from ember_tf.grappler_like.flat_graph import FlatGraph
from ember_tf.grappler_like.rewriter.base import Rewriter
from ember_tf.grappler_like.rewriter.partitioned import ShardedTable

# Every Rewriter with an `order` in this package, lowest first (a bag before its gather).
REWRITERS: tuple[Rewriter, ...] = registered_rewriters(__name__, Rewriter)


def rewrite_graph(graph: FlatGraph, rewriters: tuple[Rewriter, ...] = REWRITERS) -> Rewritten:
    """The frontend core's driver over this frontend's rewriters: every matched output in
    the graph is replaced by a Placeholder the kernel will fill (FlatGraph.record)."""
    return frontend_rewrite_graph(graph, rewriters)


__all__ = ["KernelCall", "REWRITERS", "Rewriter", "Rewritten", "ShardedTable", "Skip", "Skipped", "rewrite_graph"]
