"""UnsortedSegmentSum of gathered rows (message passing), rows from a variable or
from a signature input."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conversion import assert_matches, convert, offloaded_families, run, save

tf = pytest.importorskip("tensorflow")


class _Messages(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32), tf.TensorSpec([None], tf.int32),
                                  tf.TensorSpec([None], tf.int32)])
    def __call__(self, features, src, dst):
        messages = tf.gather(features, src)
        return tf.math.unsorted_segment_sum(messages, dst, tf.shape(features)[0])


class _TableMessages(tf.Module):
    def __init__(self, table):
        super().__init__()
        self.table = tf.Variable(table)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int64)])
    def __call__(self, src, dst):
        return tf.math.unsorted_segment_sum(tf.nn.embedding_lookup(self.table, src), dst, 7)


def test_message_passing_over_input_features(tmp_path):
    rng = np.random.default_rng(4)
    features = rng.standard_normal((12, 8)).astype(np.float32)
    src = rng.integers(0, 12, 40).astype(np.int32)
    dst = rng.integers(-1, 12, 40).astype(np.int32)     # TensorFlow drops negative segment ids
    module = _Messages()
    want = module(features, src, dst).numpy()
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["UnsortedSegmentSum"]
    assert_matches(run(out, {"features": features, "src": src, "dst": dst})["output_0"], want)


def test_segment_sum_of_table_rows(tmp_path):
    table = np.random.default_rng(8).standard_normal((20, 4)).astype(np.float32)
    module = _TableMessages(table)
    src, dst = np.array([0, 19, 5, 5], np.int64), np.array([6, 0, 6, 2], np.int64)
    want = module(src, dst).numpy()
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["UnsortedSegmentSum"]
    assert_matches(run(out, {"src": src, "dst": dst})["output_0"], want)


def test_segment_sum_of_plain_rows_is_reported_and_stays_on_the_host(tmp_path):
    from tests.conversion import report

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32), tf.TensorSpec([None], tf.int32)])
        def __call__(self, rows, segments):
            return tf.math.unsorted_segment_sum(rows, segments, 3)

    module = Module()
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    (signature,) = report(out)
    assert signature["offloaded"] == []
    assert signature["not_offloaded"][0]["op"] == "UnsortedSegmentSum"
    assert "no rewriter" in signature["not_offloaded"][0]["reason"]
    rows, segments = np.ones((5, 4), np.float32), np.array([0, 2, 2, 1, 0], np.int32)
    assert_matches(run(out, {"rows": rows, "segments": segments})["output_0"], module(rows, segments).numpy())
