"""Ragged lookups (embedding_lookup / embedding_lookup_sparse of a RaggedTensor) and
tf.gather of ragged rows (RaggedGather), through the binary."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.errors import EmulationError
from tests.conversion import assert_matches, convert, offloaded_families, ragged_feeds, run, save

tf = pytest.importorskip("tensorflow")

TABLE = np.random.default_rng(13).standard_normal((30, 4)).astype(np.float32)
IDS = tf.ragged.constant([[1, 2, 29], [], [4], [0, 0]], dtype=tf.int32, row_splits_dtype=tf.int64)


class _Lookups(tf.Module):
    def __init__(self):
        super().__init__()
        self.table = tf.Variable(TABLE)

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1,
                                                       row_splits_dtype=tf.int64)])
    def lookup(self, ids):
        rows = tf.nn.embedding_lookup(self.table, ids)
        return {"values": rows.flat_values, "row_splits": rows.row_splits}

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1,
                                                       row_splits_dtype=tf.int64)])
    def bag(self, ids):
        return tf.nn.embedding_lookup_sparse(self.table, ids, None, combiner="mean")


class _RaggedRows(tf.Module):
    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None, 4], tf.float32, ragged_rank=1),
                                  tf.TensorSpec([None], tf.int32)])
    def __call__(self, rows, ids):
        picked = tf.gather(rows, ids)
        return {"values": picked.flat_values, "row_splits": picked.row_splits}


def test_ragged_lookup(tmp_path):
    module = _Lookups()
    out = convert(save(module, tmp_path / "m", {"lookup": module.lookup}), tmp_path / "m.daebin")
    assert offloaded_families(out, "lookup") == ["ResourceGather"]
    got = run(out, ragged_feeds("ids", IDS))
    want = module.lookup(IDS)
    assert_matches(got["values"], want["values"].numpy(), exact=True)
    assert_matches(got["row_splits"], want["row_splits"].numpy(), exact=True)


def test_ragged_bag(tmp_path):
    module = _Lookups()
    out = convert(save(module, tmp_path / "m", {"bag": module.bag}), tmp_path / "m.daebin")
    assert offloaded_families(out, "bag") == ["SparseSegment"]
    assert_matches(run(out, ragged_feeds("ids", IDS))["output_0"], module.bag(IDS).numpy())


def test_gather_of_ragged_rows(tmp_path):
    rng = np.random.default_rng(1)
    rows = tf.RaggedTensor.from_row_lengths(rng.standard_normal((9, 4)).astype(np.float32), [3, 0, 4, 2])
    ids = np.array([2, 0, 1, 2, 3], np.int32)
    module = _RaggedRows()
    want = module(rows, ids)
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["RaggedGather"]
    got = run(out, ragged_feeds("rows", rows) | {"ids": ids})
    assert_matches(got["values"], want["values"].numpy(), exact=True)
    assert_matches(got["row_splits"], want["row_splits"].numpy(), exact=True)
    with pytest.raises(EmulationError):
        run(out, ragged_feeds("rows", rows) | {"ids": np.array([4], np.int32)})
