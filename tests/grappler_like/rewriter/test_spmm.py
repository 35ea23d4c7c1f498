"""tf.sparse.sparse_dense_matmul against a variable (SpMM) through the binary."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conversion import assert_matches, convert, offloaded_families, run, save, sparse_feeds

tf = pytest.importorskip("tensorflow")


class _Graph(tf.Module):
    def __init__(self, weights):
        super().__init__()
        self.weights = tf.Variable(weights)

    @tf.function(input_signature=[tf.SparseTensorSpec([None, None], tf.float32)])
    def __call__(self, adjacency):
        return tf.nn.relu(tf.sparse.sparse_dense_matmul(adjacency, self.weights))


def test_sparse_dense_matmul(tmp_path):
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((10, 8)).astype(np.float32)
    dense = rng.standard_normal((6, 10)).astype(np.float32) * (rng.random((6, 10)) < 0.3)
    dense[4] = 0.0    # an empty row
    adjacency = tf.sparse.from_dense(dense)
    # entries out of row order, as a SparseTensor may hold them
    order = rng.permutation(int(adjacency.values.shape[0]))
    shuffled = tf.sparse.SparseTensor(tf.gather(adjacency.indices, order), tf.gather(adjacency.values, order),
                                      adjacency.dense_shape)
    module = _Graph(weights)
    want = module(shuffled).numpy()
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["SparseTensorDenseMatMul"]
    assert_matches(run(out, sparse_feeds("adjacency", shuffled))["output_0"], want)
