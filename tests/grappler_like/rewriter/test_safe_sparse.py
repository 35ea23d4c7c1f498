"""safe_embedding_lookup_sparse: the pruning of invalid ids, SparseFillEmptyRows and
the zeroing of empty rows stay on the host around an offloaded bag."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conversion import assert_matches, convert, offloaded_families, run, save, sparse_feeds

tf = pytest.importorskip("tensorflow")

TABLE = np.random.default_rng(17).standard_normal((25, 6)).astype(np.float32)


def _module(combiner, default_id, weighted):
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(TABLE)

        @tf.function(input_signature=[tf.SparseTensorSpec([None, None], tf.int64),
                                      tf.SparseTensorSpec([None, None], tf.float32)])
        def __call__(self, ids, weights):
            return tf.nn.safe_embedding_lookup_sparse(self.table, ids, weights if weighted else None,
                                                      combiner=combiner, default_id=default_id)

    return Module()


@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
@pytest.mark.parametrize("default_id", [None, 3])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_safe_lookup_matches_tensorflow(tmp_path, combiner, default_id, weighted):
    module = _module(combiner, default_id, weighted)
    indices = [[0, 0], [0, 1], [1, 0], [3, 0], [3, 1]]
    ids = tf.sparse.SparseTensor(indices, np.array([4, -1, -7, 24, 0], np.int64), [5, 2])  # negatives pruned
    weights = tf.sparse.SparseTensor(indices, np.array([1.0, 2.0, 3.0, 0.5, -2.0], np.float32), [5, 2])
    want = module(ids, weights).numpy()     # rows 1, 2 and 4 are empty after pruning
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    family = "weighted SparseSegment" if weighted else "SparseSegment"
    assert offloaded_families(out) == [family]
    assert_matches(run(out, sparse_feeds("ids", ids) | sparse_feeds("weights", weights))["output_0"], want)
