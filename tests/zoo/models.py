"""Whole recommendation models of the zoo, built with TF Recommenders on Keras 2
(tf_keras, as TFRS expects): a DLRM with `DotInteraction` and a DCN with `Cross`
layers, saved with `model.save(dir)` and with `tf.saved_model.save(model, dir)`."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from tests.zoo.styles import Saved

CARDINALITIES = (30, 50, 20)
DIM = 8


@dataclasses.dataclass(frozen=True)
class ZooModel:
    name: str
    inputs: Callable[[object], dict[str, object]]
    build: Callable[[], object]
    report_families: tuple[str, ...]


def _inputs(tf) -> dict:
    rng = np.random.default_rng(77)
    batch = 6
    values = {"dense": rng.standard_normal((batch, 4)).astype(np.float32)}
    for k, rows in enumerate(CARDINALITIES):
        values[f"cat{k}"] = rng.integers(0, rows, batch).astype(np.int64)
    values["city"] = np.array([b"lima", b"oslo", b"paris", b"lima", b"atlantis", b"rome"], object)
    values["tags"] = tf.SparseTensor([[0, 0], [0, 1], [2, 0], [3, 0], [3, 1], [3, 2], [5, 0]],
                                     np.array([1, 4, 2, 0, 0, 9, 5], np.int64), [batch, 3])
    return values


def _embeddings(keras):
    rng = np.random.default_rng(5)
    return [keras.layers.Embedding(rows, DIM, name=f"embedding_{k}", embeddings_initializer=keras.initializers.Constant(
        rng.standard_normal((rows, DIM)).astype(np.float32))) for k, rows in enumerate(CARDINALITIES)]


def _cities(keras):
    """A string feature, as TFRS's tutorials have them: StringLookup, then an Embedding."""
    cities = ["lima", "oslo", "paris", "rome"]
    table = np.random.default_rng(6).standard_normal((len(cities) + 1, DIM)).astype(np.float32)
    return keras.layers.StringLookup(vocabulary=cities), keras.layers.Embedding(
        len(cities) + 1, DIM, embeddings_initializer=keras.initializers.Constant(table))


def _features(tf, model, inputs) -> list:
    """Dense features through the bottom MLP, one-hot categories (ids and strings) and a multi-hot bag."""
    dense = model.bottom(inputs["dense"])
    categories = [embedding(inputs[f"cat{k}"]) for k, embedding in enumerate(model.embeddings)]
    categories.append(model.city_embedding(model.cities(inputs["city"])))
    tags = tf.nn.safe_embedding_lookup_sparse(model.tags, inputs["tags"], None, combiner="mean")
    return [dense, *categories, tags]


def _dlrm():
    import tensorflow as tf
    import tensorflow_recommenders as tfrs

    keras = tf.keras

    class Dlrm(keras.Model):
        def __init__(self):
            super().__init__(name="dlrm")
            self.embeddings = _embeddings(keras)
            self.cities, self.city_embedding = _cities(keras)
            self.tags = self.add_weight(name="tags", shape=(12, DIM), initializer="glorot_uniform")
            self.bottom = keras.Sequential([keras.layers.Dense(16, activation="relu"),
                                            keras.layers.Dense(DIM, activation="relu")])
            self.interaction = tfrs.layers.feature_interaction.DotInteraction()
            self.top = keras.Sequential([keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])

        def call(self, inputs):
            features = _features(tf, self, inputs)
            return {"score": self.top(tf.concat([features[0], self.interaction(features)], axis=1))}

    return Dlrm()


def _dcn():
    import tensorflow as tf
    import tensorflow_recommenders as tfrs

    keras = tf.keras

    class Dcn(keras.Model):
        def __init__(self):
            super().__init__(name="dcn")
            self.embeddings = _embeddings(keras)
            self.cities, self.city_embedding = _cities(keras)
            self.tags = self.add_weight(name="tags", shape=(12, DIM), initializer="glorot_uniform")
            self.bottom = keras.layers.Dense(DIM, activation="relu")
            self.cross = [tfrs.layers.dcn.Cross(), tfrs.layers.dcn.Cross(projection_dim=8)]
            self.deep = keras.layers.Dense(16, activation="relu")
            self.head = keras.layers.Dense(1)

        def call(self, inputs):
            x0 = tf.concat(_features(tf, self, inputs), axis=1)
            x = x0
            for cross in self.cross:
                x = cross(x0, x)
            return {"score": self.head(self.deep(x))}

    return Dcn()


def _save(how: str):
    def save(model: ZooModel, path: str) -> Saved:
        import tensorflow as tf

        keras_model = model.build()
        keras_model(model.inputs(tf))
        if how == "model.save":
            keras_model.save(path)
        else:
            tf.saved_model.save(keras_model, path)
        return Saved({"serving_default": keras_model})

    return save


FAMILIES = ("ResourceGather", "SparseSegment")
DLRM = ZooModel("tfrs_dlrm", _inputs, _dlrm, FAMILIES)
DCN = ZooModel("tfrs_dcn", _inputs, _dcn, FAMILIES)
MODELS = [(style, model, _save(how)) for style, how in (("tf_keras_save", "model.save"),
                                                         ("tf_keras_saved_model", "saved_model.save"))
          for model in (DLRM, DCN)]
