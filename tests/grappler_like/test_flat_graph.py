"""FlatGraph: nested tf.function calls are inlined, inputs named after npz components,
static types known; a lookup inside a nested function is still found and offloaded."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.grappler_like import read_saved_model
from ember_tf.grappler_like.flat_graph import CALL_OPS, FlatGraph
from tests.conversion import assert_matches, convert, offloaded_families, run

tf = pytest.importorskip("tensorflow")


class _Inner(tf.Module):
    def __init__(self, table):
        super().__init__()
        self.table = tf.Variable(table)

    @tf.function
    def lookup(self, ids):
        return tf.nn.embedding_lookup(self.table, ids) * 2.0


class _Outer(tf.Module):
    def __init__(self, table):
        super().__init__()
        self.inner = _Inner(table)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.SparseTensorSpec([None, None], tf.int64)])
    def __call__(self, ids, sparse):
        return {"rows": self.inner.lookup(ids), "count": tf.size(sparse.values)}


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    table = np.arange(40, dtype=np.float32).reshape(10, 4)
    path = tmp_path_factory.mktemp("flat") / "model"
    module = _Outer(table)
    tf.saved_model.save(module, str(path))
    return str(path), table


def test_nested_calls_are_inlined(nested):
    graph = read_saved_model(nested[0])
    body = graph.functions[graph.signature("serving_default").function_name]
    assert any(n.op in CALL_OPS for n in body.node_def)     # the inner tf.function is a call
    flat = FlatGraph(graph, graph.signature("serving_default"))
    ops = [n.op for n in flat.graph_def.node]
    assert not set(ops) & set(CALL_OPS)
    assert "ResourceGather" in ops
    assert set(flat.inputs) == {"ids", "sparse.indices", "sparse.values", "sparse.dense_shape"}
    assert [v.name for v in flat.variables.values()] == ["inner/table"]
    assert flat.tensor_info(flat.outputs["rows"]).shape == (None, 4)


def test_lookup_in_a_nested_function_is_offloaded(nested, tmp_path):
    path, table = nested
    out = convert(path, tmp_path / "m.daebin")
    assert offloaded_families(out) == ["ResourceGather"]
    ids = np.array([9, 0], np.int32)
    feeds = {"ids": ids, "sparse.indices": np.zeros((3, 2), np.int64), "sparse.values": np.arange(3),
             "sparse.dense_shape": np.array([1, 3], np.int64)}
    got = run(out, feeds)
    assert_matches(got["rows"], table[ids] * 2.0, exact=True)
    assert int(got["count"]) == 3
