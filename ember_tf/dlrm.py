"""A DLRM-like recommendation model written with plain TensorFlow, for the demo,
the tests and the benchmarks: a bottom MLP over dense features, one embedding
table per categorical feature, a top MLP over their concatenation.

Categorical features come in the three shapes real exports use: one id per
sample (a column of an int matrix: `tf.nn.embedding_lookup`), multi-hot
SparseTensors (`tf.nn.safe_embedding_lookup_sparse`, sum or mean) and fixed-length
id lists (`tf.reduce_mean` over a gathered [B, L, D])."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class DlrmConfig:
    one_hot_rows: tuple[int, ...] = (50_000, 20_000, 5_000, 1_000)
    multi_hot_rows: tuple[int, ...] = (100_000, 40_000)     # SparseTensor inputs
    fixed_rows: tuple[int, ...] = (30_000, 10_000)          # [B, L] inputs
    fixed_length: int = 8
    dim: int = 32
    dense_features: int = 13
    bottom: tuple[int, ...] = (64,)
    top: tuple[int, ...] = (64, 32)
    seed: int = 0

    @property
    def table_bytes(self) -> int:
        rows = sum(self.one_hot_rows) + sum(self.multi_hot_rows) + sum(self.fixed_rows)
        return rows * self.dim * 4


def build(config: DlrmConfig = DlrmConfig()):
    """A tf.Module with a `serving_default`-ready `__call__`."""
    import tensorflow as tf

    rng = np.random.default_rng(config.seed)

    def table(rows):
        return tf.Variable(rng.uniform(-0.05, 0.05, (rows, config.dim)).astype(np.float32))

    def mlp(sizes, inputs):
        layers = []
        for width in sizes:
            w = (rng.standard_normal((inputs, width)) * np.sqrt(2.0 / inputs)).astype(np.float32)
            layers.append((tf.Variable(w), tf.Variable(np.zeros(width, np.float32))))
            inputs = width
        return layers

    n_multi, n_fixed = len(config.multi_hot_rows), len(config.fixed_rows)
    signature = [tf.TensorSpec([None, config.dense_features], tf.float32, name="dense"),
                 tf.TensorSpec([None, len(config.one_hot_rows)], tf.int32, name="categorical")]
    signature += [tf.SparseTensorSpec([None, None], tf.int64) for _ in range(n_multi)]
    signature += [tf.TensorSpec([None, config.fixed_length], tf.int32) for _ in range(n_fixed)]
    width = config.dim * (1 + len(config.one_hot_rows) + n_multi + n_fixed)

    class Dlrm(tf.Module):
        def __init__(self):
            super().__init__()
            self.one_hot = [table(r) for r in config.one_hot_rows]
            self.multi_hot = [table(r) for r in config.multi_hot_rows]
            self.fixed = [table(r) for r in config.fixed_rows]
            self.bottom = mlp(config.bottom + (config.dim,), config.dense_features)
            self.top = mlp(config.top, width)
            self.head = mlp((1,), config.top[-1])

        @tf.function(input_signature=signature)
        def __call__(self, dense, categorical, *id_lists):
            x = _dense_stack(tf, self.bottom, dense)
            features = [x]
            features += [tf.nn.embedding_lookup(t, categorical[:, i]) for i, t in enumerate(self.one_hot)]
            features += [tf.nn.safe_embedding_lookup_sparse(t, ids, None, combiner="sum" if i % 2 == 0 else "mean")
                         for i, (t, ids) in enumerate(zip(self.multi_hot, id_lists[:n_multi]))]
            features += [tf.reduce_mean(tf.nn.embedding_lookup(t, ids), axis=1)
                         for t, ids in zip(self.fixed, id_lists[n_multi:])]
            hidden = _dense_stack(tf, self.top, tf.concat(features, axis=1))
            logits = _dense_stack(tf, self.head, hidden, last_activation=False)
            return {"probability": tf.sigmoid(logits)}

    return Dlrm()


def _dense_stack(tf, layers, x, last_activation=True):
    for i, (w, b) in enumerate(layers):
        x = tf.matmul(x, w) + b
        if last_activation or i < len(layers) - 1:
            x = tf.nn.relu(x)
    return x


def batch(config: DlrmConfig, size: int, pooling: int = 20, seed: int = 1):
    """(TensorFlow inputs for __call__, the same as npz-convention feeds)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((size, config.dense_features)).astype(np.float32)
    categorical = np.stack([rng.integers(0, r, size) for r in config.one_hot_rows], axis=1).astype(np.int32)
    args, feeds = [dense, categorical], {"dense": dense, "categorical": categorical}
    for i, rows in enumerate(config.multi_hot_rows):
        lengths = rng.integers(0, 2 * pooling + 1, size)
        indices = np.array([[b, j] for b in range(size) for j in range(lengths[b])], np.int64).reshape(-1, 2)
        values = rng.integers(0, rows, len(indices)).astype(np.int64)
        sparse = tf.sparse.SparseTensor(indices, values, [size, int(lengths.max(initial=0))])
        name = f"id_lists_{i}"
        args.append(sparse)
        feeds |= {f"{name}.indices": indices, f"{name}.values": values,
                  f"{name}.dense_shape": np.array([size, int(lengths.max(initial=0))], np.int64)}
    for i, rows in enumerate(config.fixed_rows):
        ids = rng.integers(0, rows, (size, config.fixed_length)).astype(np.int32)
        args.append(ids)
        feeds[f"id_lists_{len(config.multi_hot_rows) + i}"] = ids
    return args, feeds
