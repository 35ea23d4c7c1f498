"""Keras 3 Embedding (ReadVariableOp → GatherV2 after the negative-id wrap), exported
with `model.export()`, through the binary."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conversion import assert_matches, convert, offloaded_families, report, run

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def keras_mlp(tmp_path_factory):
    keras.utils.set_random_seed(7)
    ids = keras.Input(shape=(3,), dtype="int32", name="ids")
    x = keras.layers.Embedding(50, 8, name="embedding")(ids)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    model = keras.Model(ids, keras.layers.Dense(2)(x))
    path = tmp_path_factory.mktemp("keras") / "model"
    model.export(str(path), verbose=False)
    return model, str(path)


def test_embedding_and_mlp_match_keras(keras_mlp, tmp_path):
    model, path = keras_mlp
    ids = np.array([[1, 2, 3], [4, -1, 49], [-50, 0, 7]], np.int32)   # Keras wraps negative ids
    want = model(ids).numpy()
    out = convert(path, tmp_path / "k.daebin")
    assert offloaded_families(out) == ["GatherV2"]
    for key in ("serving_default", "serve"):
        assert_matches(run(out, {"ids": ids}, key=key)["output_0"], want)


def test_host_segments_hold_the_wrap_and_the_mlp(keras_mlp, tmp_path):
    out = convert(keras_mlp[1], tmp_path / "k.daebin", signature_keys=["serving_default"])
    (signature,) = report(out)
    before, after = signature["host_segments"]
    assert {"Less", "SelectV2"} <= set(before["ops"])
    assert {"MatMul", "Relu"} <= set(after["ops"])


def test_plain_tf_gather_of_a_variable_value(tmp_path):
    table = np.random.default_rng(3).standard_normal((30, 4)).astype(np.float32)

    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(table)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
        def __call__(self, ids):
            return tf.gather(self.table.read_value(), ids) * 2.0

    path = tmp_path / "m"
    tf.saved_model.save(Module(), str(path))
    out = convert(str(path), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["GatherV2"]
    ids = np.array([29, 0, 5], np.int64)
    assert_matches(run(out, {"ids": ids})["output_0"], table[ids] * 2.0, exact=True)
