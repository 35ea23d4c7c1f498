"""embedding_lookup_sparse with sp_weights (Mul → SegmentSum [→ DivNoNan]) through the binary."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conversion import assert_matches, convert, offloaded_families, run, save, sparse_feeds

tf = pytest.importorskip("tensorflow")

TABLE = np.random.default_rng(21).standard_normal((32, 8)).astype(np.float32)


def _module(combiner, max_norm=None):
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(TABLE)

        @tf.function(input_signature=[tf.SparseTensorSpec([None, None], tf.int64),
                                      tf.SparseTensorSpec([None, None], tf.float32)])
        def __call__(self, ids, weights):
            return tf.nn.embedding_lookup_sparse(self.table, ids, weights, combiner=combiner, max_norm=max_norm)

    return Module()


def _inputs():
    indices = [[0, 0], [0, 1], [1, 0], [3, 0], [3, 1], [3, 2]]
    ids = tf.sparse.SparseTensor(indices, np.array([4, 31, 4, 0, 7, 4], np.int64), [4, 3])
    weights = tf.sparse.SparseTensor(indices, np.array([0.5, 2.0, -1.0, 0.25, 3.0, 1.5], np.float32), [4, 3])
    return ids, weights


@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
@pytest.mark.parametrize("max_norm", [None, 1.5])
def test_weighted_bags_match_tensorflow(tmp_path, combiner, max_norm):
    module = _module(combiner, max_norm)
    ids, weights = _inputs()
    want = module(ids, weights).numpy()
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["weighted SparseSegment"]
    got = run(out, sparse_feeds("ids", ids) | sparse_feeds("weights", weights))["output_0"]
    assert_matches(got, want)
