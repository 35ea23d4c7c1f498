"""The embedding families of the model zoo: each is the TensorFlow code a user writes
(tables, the lookup, a little dense work around it), independent of how it is saved.

A family is written once against a `weights` dict; the save styles (`styles.py`) wrap
it in a tf.Module, a Keras 3 model or a Keras 2 (tf_keras) model. `report_families`
is what the conversion report must show as offloaded for the signature."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

SEED = 1234


@dataclasses.dataclass(frozen=True)
class Family:
    name: str
    tables: Callable[[], dict[str, np.ndarray]]
    specs: Callable[[object], dict[str, object]]          # tf -> {input name: TensorSpec/TypeSpec}
    inputs: Callable[[object], dict[str, object]]         # tf -> {input name: value}
    call: Callable[[object, dict, dict], dict[str, object]]  # (tf, weights, inputs) -> outputs
    report_families: tuple[str, ...]
    # Keras layers among the weights (keras module -> {name: layer}), beside the tables' variables
    layers: Callable[[object], dict[str, object]] | None = None


def _rng(salt: int) -> np.random.Generator:
    return np.random.default_rng(SEED + salt)


def _table(rows: int, dim: int, salt: int) -> np.ndarray:
    return _rng(salt).standard_normal((rows, dim)).astype(np.float32)


def _sparse(tf, dense_ids: list[list[int]], dtype, weights: list[list[float]] | None = None):
    """A SparseTensor of ids (and, if given, weights) from ragged Python lists."""
    indices = [[b, k] for b, row in enumerate(dense_ids) for k in range(len(row))]
    width = max((len(r) for r in dense_ids), default=0)
    shape = [len(dense_ids), width]
    ids = tf.SparseTensor(np.array(indices, np.int64).reshape(-1, 2),
                          np.array([i for r in dense_ids for i in r], dtype), shape)
    if weights is None:
        return ids
    return ids, tf.SparseTensor(ids.indices, np.array([w for r in weights for w in r], np.float32), shape)


# -- the families -------------------------------------------------------------------------

def _lookup() -> Family:
    return Family(
        "embedding_lookup",
        lambda: {"table": _table(50, 8, 1)},
        lambda tf: {"ids": tf.TensorSpec([None], tf.int32)},
        lambda tf: {"ids": np.array([3, 0, 49, 3, 17], np.int32)},
        lambda tf, w, x: {"rows": tf.nn.relu(tf.nn.embedding_lookup(w["table"], x["ids"]))},
        ("ResourceGather|GatherV2",))


def _keras_embedding() -> Family:
    def layers(keras):
        layer = keras.layers.Embedding(40, 8, name="embeddings",
                                       embeddings_initializer=keras.initializers.Constant(_table(40, 8, 2)))
        layer.build((None,))
        return {"embeddings": layer}

    return Family(
        "keras_embedding",
        lambda: {},
        lambda tf: {"ids": tf.TensorSpec([None, 3], tf.int64)},
        lambda tf: {"ids": np.array([[1, 2, 3], [39, 0, 7]], np.int64)},
        lambda tf, w, x: {"flat": tf.reshape(w["embeddings"](x["ids"]), [-1, 24])},
        ("ResourceGather|GatherV2",), layers=layers)


def _string_lookup() -> Family:
    """String ids through a Keras StringLookup (a hash table the host rebuilds), then a table."""
    return Family(
        "string_lookup",
        lambda: {"table": _table(6, 8, 15)},
        lambda tf: {"ids": tf.TensorSpec([None], tf.string)},
        lambda tf: {"ids": np.array([b"berlin", b"paris", b"nowhere", b"tokyo", b"paris"], object)},
        lambda tf, w, x: {"rows": tf.nn.embedding_lookup(w["table"], w["vocabulary"](x["ids"]))},
        ("ResourceGather|GatherV2",),
        layers=lambda keras: {"vocabulary": keras.layers.StringLookup(
            vocabulary=["berlin", "lima", "paris", "rome", "tokyo"], name="vocabulary")})


def _sparse_bag(combiner: str, salt: int) -> Family:
    return Family(
        f"sparse_{combiner}",
        lambda: {"table": _table(60, 8, salt)},
        lambda tf: {"ids": tf.SparseTensorSpec([None, None], tf.int64)},
        lambda tf: {"ids": _sparse(tf, [[1, 2, 59], [], [7], [0, 0, 5, 9]], np.int64)},
        lambda tf, w, x: {"bag": tf.nn.embedding_lookup_sparse(w["table"], x["ids"], None, combiner=combiner)},
        ("SparseSegment",))


def _weighted_bag() -> Family:
    def inputs(tf):
        ids, weights = _sparse(tf, [[4, 1], [9], [], [2, 2, 30]], np.int64,
                               [[0.5, 2.0], [1.5], [], [1.0, -0.25, 3.0]])
        return {"ids": ids, "weights": weights}

    return Family(
        "weighted_sqrtn",
        lambda: {"table": _table(32, 8, 4)},
        lambda tf: {"ids": tf.SparseTensorSpec([None, None], tf.int64),
                    "weights": tf.SparseTensorSpec([None, None], tf.float32)},
        inputs,
        lambda tf, w, x: {"bag": tf.nn.embedding_lookup_sparse(w["table"], x["ids"], x["weights"], combiner="sqrtn")},
        ("weighted SparseSegment",))


def _safe_bag() -> Family:
    return Family(
        "safe_sparse",
        lambda: {"table": _table(25, 8, 5)},
        lambda tf: {"ids": tf.SparseTensorSpec([None, None], tf.int64)},
        lambda tf: {"ids": _sparse(tf, [[3, -1, 24], [], [-5], [0, 11]], np.int64)},
        lambda tf, w, x: {"bag": tf.nn.safe_embedding_lookup_sparse(w["table"], x["ids"], None, combiner="mean")},
        ("SparseSegment",))


def _ragged_lookup() -> Family:
    return Family(
        "ragged_lookup",
        lambda: {"table": _table(30, 4, 6)},
        lambda tf: {"ids": tf.RaggedTensorSpec([None, None], tf.int32, 1, tf.int64)},
        lambda tf: {"ids": tf.ragged.constant([[1, 2, 29], [], [4], [0, 0]], tf.int32, row_splits_dtype=tf.int64)},
        lambda tf, w, x: {"rows": tf.nn.embedding_lookup(w["table"], x["ids"]) * 2.0},
        ("ResourceGather|GatherV2",))


def _ragged_table() -> Family:
    def call(tf, w, x):
        table = tf.RaggedTensor.from_row_splits(tf.convert_to_tensor(w["values"]),
                                                tf.convert_to_tensor(w["row_splits"]), validate=False)
        return {"rows": tf.gather(table, x["ids"])}

    return Family(
        "ragged_table",
        lambda: {"values": _table(9, 4, 7), "row_splits": np.array([0, 3, 3, 7, 9], np.int64)},
        lambda tf: {"ids": tf.TensorSpec([None], tf.int32)},
        lambda tf: {"ids": np.array([2, 0, 1, 3, 2], np.int32)},
        call, ("RaggedGather",))


def _partitioned() -> Family:
    full = _table(23, 8, 8)
    return Family(
        "partitioned",
        lambda: {f"part{k}": s for k, s in enumerate(np.array_split(full, 3))},
        lambda tf: {"ids": tf.TensorSpec([None], tf.int64)},
        lambda tf: {"ids": np.array([0, 22, 7, 8, 15, 16], np.int64)},
        lambda tf, w, x: {"rows": tf.nn.embedding_lookup([w["part0"], w["part1"], w["part2"]], x["ids"])},
        ("partitioned table",))


def _max_norm() -> Family:
    return Family(
        "max_norm",
        lambda: {"table": _table(20, 8, 9) * 3.0},
        lambda tf: {"ids": tf.TensorSpec([None], tf.int32)},
        lambda tf: {"ids": np.array([5, 19, 0, 5], np.int32)},
        lambda tf, w, x: {"rows": tf.nn.embedding_lookup(w["table"], x["ids"], max_norm=1.5)},
        ("max_norm lookup",))


def _segment_sum() -> Family:
    rng = _rng(10)
    return Family(
        "segment_sum",
        lambda: {"features": _table(12, 8, 10)},
        lambda tf: {"src": tf.TensorSpec([None], tf.int32), "dst": tf.TensorSpec([None], tf.int32)},
        lambda tf: {"src": rng.integers(0, 12, 30).astype(np.int32), "dst": rng.integers(0, 7, 30).astype(np.int32)},
        lambda tf, w, x: {"nodes": tf.math.unsorted_segment_sum(tf.gather(w["features"], x["src"]), x["dst"], 7)},
        ("UnsortedSegmentSum",))


def _spmm() -> Family:
    def inputs(tf):
        rng = _rng(11)
        dense = rng.standard_normal((6, 10)).astype(np.float32) * (rng.random((6, 10)) < 0.35)
        dense[3] = 0.0
        return {"adjacency": tf.sparse.from_dense(dense)}

    return Family(
        "spmm",
        lambda: {"weights": _table(10, 8, 11)},
        lambda tf: {"adjacency": tf.SparseTensorSpec([None, 10], tf.float32)},
        inputs,
        lambda tf, w, x: {"h": tf.nn.relu(tf.sparse.sparse_dense_matmul(x["adjacency"], w["weights"]))},
        ("SparseTensorDenseMatMul",))


def _reduce_bag() -> Family:
    return Family(
        "reduce_mean_bag",
        lambda: {"table": _table(40, 8, 12)},
        lambda tf: {"ids": tf.TensorSpec([None, 4], tf.int32)},
        lambda tf: {"ids": np.array([[1, 2, 3, 4], [39, 39, 0, 5], [7, 7, 7, 7]], np.int32)},
        lambda tf, w, x: {"bag": tf.reduce_mean(tf.nn.embedding_lookup(w["table"], x["ids"]), axis=1)},
        ("reduce over gather",))


def _segment_with_num_segments() -> Family:
    return Family(
        "sparse_segment_sum_n",
        lambda: {"table": _table(16, 8, 13)},
        lambda tf: {"indices": tf.TensorSpec([None], tf.int32), "segments": tf.TensorSpec([None], tf.int32)},
        lambda tf: {"indices": np.array([0, 15, 3, 3, 9], np.int32), "segments": np.array([0, 0, 2, 2, 3], np.int32)},
        lambda tf, w, x: {"bags": tf.sparse.segment_sum(tf.convert_to_tensor(w["table"]), x["indices"],
                                                        x["segments"], num_segments=5)},
        ("SparseSegment",))


FAMILIES: tuple[Family, ...] = (
    _lookup(), _keras_embedding(), _sparse_bag("sum", 3), _sparse_bag("mean", 14), _weighted_bag(), _safe_bag(),
    _ragged_lookup(), _ragged_table(), _partitioned(), _max_norm(), _segment_sum(), _spmm(), _reduce_bag(),
    _segment_with_num_segments(), _string_lookup(),
)
BY_NAME = {f.name: f for f in FAMILIES}
