"""GraphView over FunctionDef bodies: edge resolution, fan-out, args and returns."""

from __future__ import annotations

import pytest

from ember_tf.grappler_like import GraphView, Tensor, read_saved_model


@pytest.fixture(scope="module")
def sparse_view(sparse_model):
    g = read_saved_model(sparse_model.path)
    return GraphView(g.functions[g.signatures["serving_default"].function_name], g.functions)


def test_unique_outputs_resolve_to_flat_indices(sparse_view):
    v = sparse_view
    unique = v.nodes_by_op("Unique")[0].name
    fan = v.fanout(unique)
    assert set(fan) == {0, 1}
    consumer_ops = {i: {v.node(n).op for n, _ in users} for i, users in fan.items()}
    assert consumer_ops == {0: {"ResourceGather"}, 1: {"SparseSegmentSum"}}
    assert v.consumers(Tensor(unique, 1)) == fan[1]


def test_args_returns_and_control_inputs(sparse_view):
    v = sparse_view
    assert v.args[:3] == ["ids", "ids_1", "ids_2"]
    assert v.arg_types[v.args[-1]] == 20  # captured table: trailing DT_RESOURCE
    unique = v.nodes_by_op("Unique")[0].name
    assert v.fanin(unique) == [Tensor("ids_1", 0, is_arg=True)]
    assert v.consumers(Tensor("ids_1", 0, is_arg=True)) == [(unique, 0)]
    (ret,) = v.outputs.values()
    assert v.is_output(ret)
    assert v.node(ret.node).op == "Identity"
    # Every `^x` stays out of the data inputs and names a real node.
    for name in v.nodes:
        for c in v.control_inputs(name):
            assert c in v.nodes
        assert all(not t.node.startswith("^") for t in v.fanin(name))


def test_wrapper_call_outputs_use_callee_signature(sparse_model):
    g = read_saved_model(sparse_model.path)
    wrapper = g.signatures["serving_default"].call_chain[0]
    v = GraphView(g.functions[wrapper], g.functions)
    (call,) = v.nodes_by_op("StatefulPartitionedCall")
    assert v.fanout(call.name) == {0: [(v.outputs[next(iter(v.outputs))].node, 0)]}
    assert str(Tensor(call.name, 0)) == f"{call.name}:0"
