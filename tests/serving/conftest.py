"""Models exported for serving in the tests: a tf.Module with a dense and a sparse
input, and a Keras 3 model."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")


class Recommender(tf.Module):
    def __init__(self, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.users = tf.Variable(rng.standard_normal((40, 8)).astype(np.float32))
        self.items = tf.Variable(rng.standard_normal((60, 8)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.SparseTensorSpec([None, None], tf.int64)])
    def __call__(self, user, history):
        taste = tf.nn.safe_embedding_lookup_sparse(self.items, history, None, combiner="mean")
        return {"score": tf.reduce_sum(tf.nn.embedding_lookup(self.users, user) * taste, axis=1)}


def recommender_feeds(seed: int, batch: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 4, batch)
    indices = np.array([[b, j] for b in range(batch) for j in range(lengths[b])], np.int64).reshape(-1, 2)
    return {"user": rng.integers(0, 40, batch).astype(np.int32), "history.indices": indices,
            "history.values": rng.integers(0, 60, len(indices)).astype(np.int64),
            "history.dense_shape": np.array([batch, 4], np.int64)}


@pytest.fixture
def recommender():
    return Recommender()


@pytest.fixture
def keras_ranker():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(11)
    ids = keras.Input(shape=(2,), dtype="int32", name="ids")
    x = keras.layers.Flatten()(keras.layers.Embedding(30, 4)(ids))
    return keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(x))
