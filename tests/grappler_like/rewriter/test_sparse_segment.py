"""embedding_lookup_sparse without weights (Unique → gather → SparseSegment*) and
SparseSegment*WithNumSegments, through the binary."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.errors import EmulationError
from tests.conversion import assert_matches, convert, offloaded_families, run, save, sparse_feeds

tf = pytest.importorskip("tensorflow")

TABLE = np.random.default_rng(11).standard_normal((64, 8)).astype(np.float32)


def _sparse_module(combiner, ids_dtype):
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(TABLE)

        @tf.function(input_signature=[tf.SparseTensorSpec([None, None], ids_dtype)])
        def __call__(self, ids):
            return tf.nn.embedding_lookup_sparse(self.table, ids, None, combiner=combiner)

    return Module()


def _batch(ids_dtype, rows=5):
    # bags 0, 2 and 3 hold ids; bag 1 is empty; the batch's last rows are empty too
    indices = [[0, 0], [0, 1], [0, 2], [2, 0], [3, 0], [3, 1]]
    values = np.array([3, 63, 3, 17, 0, 40], ids_dtype)
    return tf.sparse.SparseTensor(indices, values, [rows, 4])


@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
@pytest.mark.parametrize("ids_dtype", ["int32", "int64"])
def test_sparse_bags_match_tensorflow(tmp_path, combiner, ids_dtype):
    module = _sparse_module(combiner, ids_dtype)
    sparse = _batch(ids_dtype)
    want = module(sparse).numpy()      # rows = last non-empty bag + 1, as TensorFlow gives
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["SparseSegment"]
    assert_matches(run(out, sparse_feeds("ids", sparse))["output_0"], want)


def test_larger_random_batch(tmp_path):
    rng = np.random.default_rng(5)
    module = _sparse_module("mean", "int64")
    dense = rng.integers(-1, 64, (32, 10))
    dense[rng.random((32, 10)) < 0.4] = -1
    sparse = tf.sparse.from_dense(tf.constant(dense, tf.int64) + 1)    # ids 0..63, zeros dropped
    sparse = tf.sparse.SparseTensor(sparse.indices, sparse.values - 1, sparse.dense_shape)
    want = module(sparse).numpy()
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert_matches(run(out, sparse_feeds("ids", sparse))["output_0"], want)


def test_with_num_segments(tmp_path):
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(TABLE)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32),
                                      tf.TensorSpec([], tf.int32)])
        def __call__(self, ids, segments, n):
            return tf.sparse.segment_mean(self.table, ids, segments, num_segments=n)

    module = Module()
    ids, segments = np.array([5, 6, 7, 5], np.int32), np.array([0, 0, 2, 2], np.int32)
    want = module(ids, segments, tf.constant(6)).numpy()
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["SparseSegment"]
    got = run(out, {"ids": ids, "segments": segments, "n": np.array(6, np.int32)})["output_0"]
    assert_matches(got, want)


def test_unsorted_segment_ids_are_an_error_as_in_tensorflow(tmp_path):
    module = _sparse_module("sum", "int64")
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    feeds = {"ids.indices": np.array([[2, 0], [0, 0]], np.int64), "ids.values": np.array([1, 2], np.int64),
             "ids.dense_shape": np.array([3, 2], np.int64)}
    with pytest.raises(EmulationError, match="not increasing"):
        run(out, feeds)
