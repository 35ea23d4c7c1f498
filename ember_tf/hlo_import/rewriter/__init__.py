"""One rewriter per pattern of embedding work in HLO: a bag (reduce over a gather),
a segment sum (scatter-add of gathered rows), a row lookup (gather). Each looks at
instructions of its opcodes and returns a KernelCall, a Skip (with the reason
`ember-tf inspect` shows), or None. A new pattern is a new file here: a Rewriter
subclass with a family, opcodes and an order."""

from __future__ import annotations

from ember_tf.frontend.rewrite import Rewritten, registered_rewriters
from ember_tf.frontend.rewrite import rewrite_graph as frontend_rewrite_graph
from ember_tf.hlo_import.graph import FlatGraph
from ember_tf.hlo_import.rewriter.base import Rewriter

# Every Rewriter with an `order` in this package, lowest first (a bag before its gather).
REWRITERS: tuple[Rewriter, ...] = registered_rewriters(__name__, Rewriter)


def rewrite_graph(graph: FlatGraph, rewriters=REWRITERS) -> Rewritten:
    """The frontend core's driver over this frontend's rewriters (each tries the
    instructions of its opcodes that no kernel stands for yet: FlatGraph.sites)."""
    return frontend_rewrite_graph(graph, rewriters)
