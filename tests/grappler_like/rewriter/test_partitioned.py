"""A table sharded over several variables (div and mod strategies) becomes one gather."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.errors import EmulationError
from tests.conversion import assert_matches, convert, offloaded_families, run, save

tf = pytest.importorskip("tensorflow")

TABLE = np.random.default_rng(19).standard_normal((23, 4)).astype(np.float32)


def _shards(strategy, n):
    if strategy == "div":
        return np.array_split(TABLE, n)
    return [TABLE[k::n] for k in range(n)]


def _module(strategy, n, bag=False):
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.shards = [tf.Variable(s) for s in _shards(strategy, n)]

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.int64)])
        def __call__(self, ids):
            rows = tf.compat.v1.nn.embedding_lookup(self.shards, ids, partition_strategy=strategy)
            return tf.reduce_sum(rows, axis=1) if bag else rows

    return Module()


@pytest.mark.parametrize("strategy", ["div", "mod"])
@pytest.mark.parametrize("n", [2, 3])
def test_sharded_lookup(tmp_path, strategy, n):
    module = _module(strategy, n)
    ids = np.array([[0, 22, 5], [11, 12, 11]], np.int64)
    want = module(ids).numpy()
    np.testing.assert_array_equal(want, TABLE[ids])
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["partitioned table"]
    assert_matches(run(out, {"ids": ids})["output_0"], want, exact=True)
    with pytest.raises(EmulationError):
        run(out, {"ids": np.array([[0, 23, 1]], np.int64)})


def test_tf2_embedding_lookup_of_a_list(tmp_path):
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.shards = [tf.Variable(s) for s in _shards("div", 4)]

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
        def __call__(self, ids):
            return tf.nn.embedding_lookup(self.shards, ids)

    module = Module()
    ids = np.arange(23, dtype=np.int32)[::-1].copy()
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["partitioned table"]
    assert_matches(run(out, {"ids": ids})["output_0"], module(ids).numpy(), exact=True)
