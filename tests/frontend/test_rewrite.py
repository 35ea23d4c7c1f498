"""The rewrite driver both frontends use: each site tried once per rewriter, sites read
again after every applied rewrite (the graph changed), skips reported with the rewriter's
family and the site's node and op, rewriters run in the order given."""

from __future__ import annotations

from ember_tf.frontend import KernelCall, Rewriter, Site, Skip, Skipped, rewrite_graph


class _Graph:
    """Nodes `name -> op`; a recorded call turns its nodes into 'done'."""

    def __init__(self, nodes: dict[str, str]):
        self.nodes = dict(nodes)
        self.reads = 0
        self.recorded: list[tuple[int, list[str]]] = []

    def sites(self, rewriter):
        self.reads += 1
        return [Site(name, op, name) for name, op in self.nodes.items() if op in rewriter.ops]

    def record(self, call: KernelCall, index: int) -> None:
        self.recorded.append((index, call.nodes))
        for node in call.nodes:
            self.nodes[node] = "done"


class _Bag(Rewriter):
    family, ops = "bag", ("sum",)

    def rewrite(self, graph, match):
        if match == "odd":
            return Skip("odd bags stay on the host")
        return KernelCall(self.family, func=None, inputs=[], nodes=[match, f"{match}/gather"])


class _Gather(Rewriter):
    family, ops = "gather", ("gather",)

    def rewrite(self, graph, match):
        return None if match == "b/gather" else KernelCall(self.family, func=None, inputs=[], nodes=[match])


def test_rewriters_run_in_order_each_site_once():
    graph = _Graph({"a": "sum", "a/gather": "gather", "odd": "sum", "b/gather": "gather", "c": "gather"})
    result = rewrite_graph(graph, [_Bag(), _Gather()])
    assert [c.nodes for c in result.calls] == [["a", "a/gather"], ["c"]]   # a's gather went with the bag
    assert result.skipped == [Skipped("bag", "odd", "sum", "odd bags stay on the host")]
    assert graph.recorded == [(0, ["a", "a/gather"]), (1, ["c"])]
    # bag: read, applied (a), read again, nothing new; gather: read, applied (c), read again
    assert graph.reads == 4


def test_no_rewriters_no_calls():
    result = rewrite_graph(_Graph({"a": "sum"}), [])
    assert result.calls == [] and result.skipped == []


def test_each_frontend_registers_its_rewriters_by_order():
    """A family is one file: its Rewriter subclass with an `order` is found, lowest first."""
    from ember_tf.grappler_like.rewriter import REWRITERS as SAVED_MODEL
    from ember_tf.hlo_import.rewriter import REWRITERS as HLO

    assert [type(r).__name__ for r in HLO] == ["BagRewriter", "SegmentSumRewriter", "GatherRewriter"]
    names = [type(r).__name__ for r in SAVED_MODEL]
    assert names[:3] == ["WeightedMeanRewriter", "WeightedSqrtnRewriter", "WeightedSumRewriter"]
    assert names.index("ReduceBagRewriter") < names.index("ResourceGatherRewriter") and len(names) == 12
    assert all(r.family for r in SAVED_MODEL + HLO)
