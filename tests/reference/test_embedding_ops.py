"""The numpy references agree with TensorFlow on random shapes, ragged bags,
empty bags, weights, max_norm and id dtypes."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")

from tests.reference import embedding_ops as ref  # noqa: E402


def _bags(rng, bags, rows, max_len):
    lengths = rng.integers(0, max_len + 1, size=bags)
    lengths[rng.integers(0, bags)] = 0  # at least one empty bag
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return offsets, rng.integers(0, rows, size=int(offsets[-1]))


def _sparse(offsets, values):
    lengths = np.diff(offsets)
    row = np.repeat(np.arange(len(lengths)), lengths)
    col = np.arange(len(values)) - np.repeat(offsets[:-1], lengths)
    return tf.SparseTensor(np.stack([row, col], 1).astype(np.int64), values,
                           [len(lengths), max(int(lengths.max(initial=0)), 1)])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
@pytest.mark.parametrize("weighted", [False, True])
def test_embedding_bag_matches_tf(seed, combiner, weighted):
    rng = np.random.default_rng(seed)
    rows, dim = int(rng.integers(5, 60)), int(rng.integers(1, 40))
    table = rng.standard_normal((rows, dim)).astype(np.float32)
    offsets, indices = _bags(rng, int(rng.integers(1, 12)), rows, 6)
    weights = rng.standard_normal(len(indices)).astype(np.float32) if weighted else None
    max_norm = float(rng.uniform(0.5, 3.0)) if seed % 2 else None
    got = ref.embedding_bag(table, indices, offsets, combiner, weights, max_norm)
    sp_weights = _sparse(offsets, weights) if weighted else None
    want = tf.nn.embedding_lookup_sparse(tf.constant(table), _sparse(offsets, indices), sp_weights,
                                         combiner=combiner, max_norm=max_norm).numpy()
    # TF drops trailing empty bags from its output shape; they are zeros in ours.
    assert np.allclose(got[:len(want)], want, rtol=1e-5, atol=1e-5)
    assert not got[len(want):].any()


@pytest.mark.parametrize("id_dtype", [np.int32, np.int64])
def test_gather_any_shape_and_range_errors(id_dtype):
    rng = np.random.default_rng(1)
    table = rng.standard_normal((17, 5)).astype(np.float32)
    ids = rng.integers(0, 17, size=(3, 4, 2)).astype(id_dtype)
    assert np.array_equal(ref.gather(table, ids), tf.nn.embedding_lookup(table, ids).numpy())
    with pytest.raises(IndexError):
        ref.gather(table, np.array([17], id_dtype))
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.nn.embedding_lookup(table, np.array([17], id_dtype))


def test_segment_sum_and_message_passing_match_tf():
    rng = np.random.default_rng(2)
    features = rng.standard_normal((30, 8)).astype(np.float32)
    src, dst = rng.integers(0, 30, 50), rng.integers(0, 30, 50)
    want = tf.math.unsorted_segment_sum(tf.gather(features, src), dst, 30).numpy()
    assert np.allclose(ref.message_passing(features, src, dst), want, rtol=1e-5, atol=1e-6)


def test_spmm_matches_tf():
    rng = np.random.default_rng(3)
    dense = rng.standard_normal((20, 6)).astype(np.float32)
    splits, col = _bags(rng, 9, 20, 5)
    val = rng.standard_normal(len(col)).astype(np.float32)
    lengths = np.diff(splits)
    sparse = tf.SparseTensor(np.stack([np.repeat(np.arange(9), lengths), col], 1), val, [9, 20])
    want = tf.sparse.sparse_dense_matmul(tf.sparse.reorder(sparse), dense).numpy()
    assert np.allclose(ref.spmm_csr(splits, col, val, dense), want, rtol=1e-5, atol=1e-6)


def test_ragged_gather_matches_tf():
    rng = np.random.default_rng(4)
    splits, values = _bags(rng, 7, 100, 4)
    ids = rng.integers(0, 7, 5)
    want = tf.gather(tf.RaggedTensor.from_row_splits(values, splits), ids)
    got_values, got_splits = ref.ragged_gather(values, splits, ids)
    assert np.array_equal(got_values, want.values.numpy())
    assert np.array_equal(got_splits, want.row_splits.numpy())
