"""Labelled op-type patterns matched over the bodies of real SavedModels: the
shapes ecosystem.md lists for tf.nn.embedding_lookup (ResourceGather),
embedding_lookup_sparse (Unique -> ResourceGather -> SparseSegmentSum) and Keras 3's
Embedding (ReadVariableOp -> GatherV2)."""

from __future__ import annotations

import pytest

from ember_tf.grappler_like import ANY, ARG, GraphView, OpTypePattern, match_all, read_saved_model

SPARSE_BAG = OpTypePattern("SparseSegmentSum|SparseSegmentMean|SparseSegmentSqrtN", "combine", [
    OpTypePattern("ResourceGather", "gather", [ARG("table"), OpTypePattern("Unique", "unique")]),
    OpTypePattern("Unique", "unique"),
    ANY("segment_ids"),
])


def _body(path: str, key: str = "serving_default"):
    graph = read_saved_model(path)
    signature = graph.signatures[key]
    return graph, signature, GraphView(graph.functions[signature.function_name], graph.functions)


def test_dense_lookup_is_a_resource_gather_of_a_variable_by_a_signature_input(dense_model):
    graph, signature, view = _body(dense_model.path)
    pattern = OpTypePattern("ResourceGather", "gather", [ARG("table"), ARG("ids")])
    (match,) = match_all(view, pattern)
    table = match.tensors["table"]
    variable = graph.resource_inputs(signature.function_name)[view.arg_index(table.node)]
    assert variable.name == "table"
    assert match.tensors["ids"].node == view.args[0]
    assert match.node("gather").op == "ResourceGather"


def test_sparse_bag_pattern_binds_the_shared_unique_once(sparse_model):
    graph, signature, view = _body(sparse_model.path)
    (match,) = match_all(view, SPARSE_BAG)
    assert match.node("combine").op == "SparseSegmentSum"
    assert match.node("unique").op == "Unique"
    variable = graph.resource_inputs(signature.function_name)[view.arg_index(match.tensors["table"].node)]
    assert variable.name == "table"
    # the combine feeds the signature output; the gather and Unique are read only inside the match
    assert match.only_consumed_inside(["gather", "unique"], keep="combine")


def test_a_label_used_twice_must_bind_the_same_node(sparse_model):
    _, _, view = _body(sparse_model.path)
    crossed = OpTypePattern("SparseSegmentSum", "combine", [
        OpTypePattern("ResourceGather", "gather", [ARG("table"), ANY("ids")]),
        ARG("table"),                                  # the positions are Unique's idx, not the table
        ANY(),
    ])
    assert list(match_all(view, crossed)) == []
    # labels bind nodes: Unique's y (into the gather) and idx (into the combine) are one node
    (match,) = match_all(view, SPARSE_BAG)
    assert match.tensors["unique"].node == view.nodes_by_op("Unique")[0].name


def test_keras_embedding_reads_the_variable_then_gathers(keras_model):
    graph, signature, view = _body(keras_model.path)
    pattern = OpTypePattern("GatherV2", "gather", [
        OpTypePattern("ReadVariableOp", "read", [ARG("table")]),
        ANY("ids"),
        OpTypePattern("Const", "axis"),
    ])
    (match,) = match_all(view, pattern)
    variable = graph.resource_inputs(signature.function_name)[view.arg_index(match.tensors["table"].node)]
    assert variable.name == "variables/0"
    assert match.node("axis").attr["value"].tensor.int_val == [0]
    # the ids reach the gather through Keras' negative-id wrap (SelectV2), not directly
    assert match.node("ids").op == "SelectV2"


def test_no_match_and_unconstrained_inputs(dense_model):
    _, _, view = _body(dense_model.path)
    assert list(match_all(view, OpTypePattern("SparseSegmentSum"))) == []
    assert [m.node("g").op for m in match_all(view, OpTypePattern("ResourceGather", "g"))] == ["ResourceGather"]
    with pytest.raises(KeyError, match="argument"):
        next(match_all(view, OpTypePattern("ResourceGather", "g", [ARG("t"), ANY("i")]))).node("t")
