"""read_saved_model on real TF 2.21 SavedModels: signatures, bodies, variables, weights."""

from __future__ import annotations

import numpy as np

from ember_tf.grappler_like import GraphView, read_saved_model


def _gathers(g, sig, op):
    view = GraphView(g.functions[sig.function_name], g.functions)
    return view, view.nodes_by_op(op)


def _variable_of(g, sig, view, node, input_index=0):
    """The variable behind a gather's resource (or ReadVariableOp's) input."""
    src = view.producer(node.name, input_index)
    assert src.is_arg
    return g.resource_inputs(sig.function_name)[view.arg_index(src.node)]


def test_dense_lookup_signature_body_and_variable(dense_model):
    g = read_saved_model(dense_model.path)
    assert set(g.signatures) == {"serving_default"}
    sig = g.signature("serving_default")
    assert sig.method_name == "tensorflow/serving/predict"
    assert sig.call_chain[0].startswith("__inference_signature_wrapper_")
    assert sig.function_name.startswith("__inference___call___")
    assert sig.inputs["ids"].dtype == "int32"
    assert sig.inputs["ids"].shape == (None,)
    assert sig.inputs["ids"].tensor == "serving_default_ids:0"
    assert sig.outputs["output_0"].shape == (None, 8)
    assert sig.input_groups["ids"].kind == "dense"

    view, gathers = _gathers(g, sig, "ResourceGather")
    assert len(gathers) == 1
    var = _variable_of(g, sig, view, gathers[0])
    assert var.name == "table"
    assert var.checkpoint_key == "table/.ATTRIBUTES/VARIABLE_VALUE"
    assert var.dtype == "float32" and var.shape == (100, 8)
    assert g.graph_def is not None
    handle = {n.name: n for n in g.graph_def.node}[var.handle_node]
    assert handle.op == "VarHandleOp"
    assert var.shared_name == handle.attr["shared_name"].s.decode()
    np.testing.assert_array_equal(g.read_variable(var), dense_model.tables["table"])
    np.testing.assert_array_equal(g.read_variable("table"), dense_model.tables["table"])


def test_fingerprint_read(dense_model):
    fp = read_saved_model(dense_model.path).fingerprint
    assert fp is not None and fp.saved_model_checksum != 0


def test_sparse_input_grouped(sparse_model):
    g = read_saved_model(sparse_model.path)
    sig = g.signatures["serving_default"]
    # TF 2.21 writes the three components as plain TensorInfos `ids`, `ids_1`, `ids_2`.
    assert set(sig.inputs) == {"ids", "ids_1", "ids_2"}
    assert list(sig.input_groups) == ["ids"]
    group = sig.input_groups["ids"]
    assert group.kind == "sparse"
    comps = group.components
    assert list(comps) == ["ids.indices", "ids.values", "ids.dense_shape"]
    assert comps["ids.indices"].shape == (None, 2)
    assert comps["ids.values"].shape == (None,)
    assert comps["ids.dense_shape"].shape == (2,)
    assert {c.dtype for c in comps.values()} == {"int64"}
    assert comps["ids.indices"].tensor == "serving_default_ids:0"

    view, gathers = _gathers(g, sig, "ResourceGather")
    ops = {n.op for n in view.nodes.values()}
    assert {"Unique", "ResourceGather", "SparseSegmentSum", "StridedSlice"} <= ops
    (gather,) = gathers
    assert _variable_of(g, sig, view, gather).name == "table"
    # Unique:y feeds the gather; Unique:idx is the segment op's `indices` input.
    unique = view.nodes_by_op("Unique")[0]
    assert view.producer(gather.name, 1).node == unique.name
    assert view.producer(gather.name, 1).index == 0
    seg = view.nodes_by_op("SparseSegmentSum")[0]
    assert view.producer(seg.name, 1).node == unique.name
    assert view.producer(seg.name, 1).index == 1
    np.testing.assert_array_equal(g.read_variable(g.variable("table")), sparse_model.tables["table"])


def test_ragged_input_grouped(ragged_model):
    g = read_saved_model(ragged_model.path)
    sig = g.signatures["serving_default"]
    assert set(sig.inputs) == {"ids", "ids_1"}
    group = sig.input_groups["ids"]
    assert group.kind == "ragged"
    assert list(group.components) == ["ids.values", "ids.row_splits"]
    assert group.components["ids.values"].dtype == "int32"
    assert group.components["ids.row_splits"].dtype == "int64"
    view, gathers = _gathers(g, sig, "ResourceGather")
    ops = {n.op for n in view.nodes.values()}
    assert {"Unique", "ResourceGather"} <= ops
    assert ops & {"SparseSegmentSum", "SegmentSum", "UnsortedSegmentSum"}
    assert _variable_of(g, sig, view, gathers[0]).name == "table"


def test_keras_embedding_maps_by_object_path(keras_model):
    g = read_saved_model(keras_model.path)
    assert {"serve", "serving_default"} <= set(g.signatures)
    for key in ("serve", "serving_default"):
        sig = g.signatures[key]
        assert sig.input_groups["ids"].kind == "dense"
        view, gathers = _gathers(g, sig, "GatherV2")
        (gather,) = gathers
        read = view.node(view.producer(gather.name, 0).node)
        assert read.op == "ReadVariableOp"
        var = _variable_of(g, sig, view, read)
        # The object path, not the handle's shared_name (`embedding/embeddings_1`).
        assert var.checkpoint_key == var.name + "/.ATTRIBUTES/VARIABLE_VALUE"
        assert var.name != var.shared_name
        assert var.variable_name == "embedding/embeddings"
        np.testing.assert_array_equal(g.read_variable(var), keras_model.tables["embedding"])


def test_nested_variables(nested_model):
    g = read_saved_model(nested_model.path)
    names = {v.name for v in g.variables}
    assert {"tables/user", "tables/item"} <= names
    sig = g.signatures["serving_default"]
    view, gathers = _gathers(g, sig, "ResourceGather")
    assert len(gathers) == 2
    by_ids_arg = {}
    for gather in gathers:
        ids = view.producer(gather.name, 1)
        assert ids.is_arg
        by_ids_arg[ids.node] = _variable_of(g, sig, view, gather).name
    assert by_ids_arg == {"users": "tables/user", "items": "tables/item"}
    for name in ("tables/user", "tables/item"):
        var = g.variable(name)
        assert var.checkpoint_key == name + "/.ATTRIBUTES/VARIABLE_VALUE"
        np.testing.assert_array_equal(g.read_variable(var), nested_model.tables[name])
