"""max_norm lookups: the clip_by_norm subgraph folds into the gather or the bag kernel."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conversion import assert_matches, convert, offloaded_families, run, save, sparse_feeds

tf = pytest.importorskip("tensorflow")

TABLE = (np.random.default_rng(9).standard_normal((40, 8)) * 2).astype(np.float32)
TABLE[3] = 0.0   # a zero row: clip_by_norm's l2sum == 0 branch


class _Lookup(tf.Module):
    def __init__(self):
        super().__init__()
        self.table = tf.Variable(TABLE)

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.int32)])
    def __call__(self, ids):
        return tf.nn.embedding_lookup(self.table, ids, max_norm=2.0)


class _Bag(tf.Module):
    def __init__(self):
        super().__init__()
        self.table = tf.Variable(TABLE)

    @tf.function(input_signature=[tf.SparseTensorSpec([None, None], tf.int64)])
    def __call__(self, ids):
        return tf.nn.embedding_lookup_sparse(self.table, ids, None, combiner="sqrtn", max_norm=0.5)


def test_lookup_with_max_norm(tmp_path):
    module = _Lookup()
    ids = np.array([[0, 3], [39, 0], [7, 7]], np.int32)
    want = module(ids).numpy()
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["max_norm lookup"]
    assert_matches(run(out, {"ids": ids})["output_0"], want)


def test_sparse_bag_with_max_norm(tmp_path):
    module = _Bag()
    ids = tf.sparse.SparseTensor([[0, 0], [0, 1], [2, 0]], np.array([3, 5, 39], np.int64), [3, 2])
    want = module(ids).numpy()
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["SparseSegment"]
    assert_matches(run(out, sparse_feeds("ids", ids))["output_0"], want)


def test_reduce_over_a_clipped_lookup(tmp_path):
    class Pooled(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(TABLE)

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.int64)])
        def __call__(self, ids):
            return tf.reduce_mean(tf.nn.embedding_lookup(self.table, ids, max_norm=1.0), axis=1)

    module = Pooled()
    ids = np.array([[0, 3, 3, 39], [5, 6, 7, 8]], np.int64)
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["reduce over gather"]
    assert_matches(run(out, {"ids": ids})["output_0"], module(ids).numpy())
