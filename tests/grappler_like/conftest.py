"""Session fixtures: real SavedModels built once (fixed seeds) for the import tests."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")


class _Built:
    """A saved model directory and the numpy arrays it was built from."""

    def __init__(self, path, tables):
        self.path = str(path)
        self.tables = tables


def _table(seed, rows=100, dim=8):
    return np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)


class _DenseLookup(tf.Module):
    def __init__(self, table):
        super().__init__()
        self.table = tf.Variable(table)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def __call__(self, ids):
        return tf.nn.embedding_lookup(self.table, ids)


class _SparseLookup(tf.Module):
    def __init__(self, table):
        super().__init__()
        self.table = tf.Variable(table)

    @tf.function(input_signature=[tf.SparseTensorSpec([None, None], tf.int64)])
    def __call__(self, ids):
        return tf.nn.embedding_lookup_sparse(self.table, ids, None, combiner="sum")


class _RaggedLookup(tf.Module):
    def __init__(self, table):
        super().__init__()
        self.table = tf.Variable(table)

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1)])
    def __call__(self, ids):
        return tf.nn.embedding_lookup_sparse(self.table, ids, None, combiner="sum")


class _Tables(tf.Module):
    def __init__(self, user, item):
        super().__init__()
        self.user = tf.Variable(user)
        self.item = tf.Variable(item)


class _Nested(tf.Module):
    def __init__(self, user, item):
        super().__init__()
        self.tables = _Tables(user, item)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32),
                                  tf.TensorSpec([None], tf.int32)])
    def __call__(self, users, items):
        return (tf.nn.embedding_lookup(self.tables.item, items)
                * tf.nn.embedding_lookup(self.tables.user, users))


@pytest.fixture(scope="session")
def dense_model(tmp_path_factory):
    table = _table(0)
    path = tmp_path_factory.mktemp("dense") / "model"
    tf.saved_model.save(_DenseLookup(table), str(path))
    return _Built(path, {"table": table})


@pytest.fixture(scope="session")
def sparse_model(tmp_path_factory):
    table = _table(1)
    path = tmp_path_factory.mktemp("sparse") / "model"
    tf.saved_model.save(_SparseLookup(table), str(path))
    return _Built(path, {"table": table})


@pytest.fixture(scope="session")
def ragged_model(tmp_path_factory):
    table = _table(2)
    path = tmp_path_factory.mktemp("ragged") / "model"
    tf.saved_model.save(_RaggedLookup(table), str(path))
    return _Built(path, {"table": table})


@pytest.fixture(scope="session")
def nested_model(tmp_path_factory):
    user, item = _table(3, 30, 4), _table(4, 40, 4)
    path = tmp_path_factory.mktemp("nested") / "model"
    tf.saved_model.save(_Nested(user, item), str(path))
    return _Built(path, {"tables/user": user, "tables/item": item})


@pytest.fixture(scope="session")
def keras_model(tmp_path_factory):
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(5)
    inp = keras.Input(shape=(None,), dtype="int32", name="ids")
    layer = keras.layers.Embedding(50, 4, name="embedding")
    model = keras.Model(inp, layer(inp))
    path = tmp_path_factory.mktemp("keras") / "model"
    model.export(str(path), verbose=False)
    return _Built(path, {"embedding": layer.embeddings.numpy()})
