"""Byte-identical output: converting the same SavedModel or HLO module twice gives the same
bytes, in processes with different hash seeds (set and dict orders that leak into a file
show up there), and the file holds no absolute path of the machine it was made on."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from tests.test_cli import EMBER_TF

tf = pytest.importorskip("tensorflow")


def _convert_twice(source, tmp_path, *flags, seeds=("1", "2")) -> bytes:
    outputs = []
    for seed in seeds:
        out = tmp_path / f"converted_{seed}.daebin"
        result = subprocess.run([str(EMBER_TF), "convert", str(source), str(out), *flags], capture_output=True,
                                text=True, timeout=300,
                                env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stderr
        outputs.append(out.read_bytes())
    assert all(o == outputs[0] for o in outputs)
    assert str(tmp_path).encode() not in outputs[0] and os.getcwd().encode() not in outputs[0]
    return outputs[0]


def test_the_demo_model_converts_to_identical_bytes(tmp_path):
    from ember_tf import dlrm

    model = dlrm.build(dlrm.DlrmConfig())
    tf.saved_model.save(model, str(tmp_path / "dlrm"))
    _convert_twice(tmp_path / "dlrm", tmp_path)


def test_a_signature_with_many_outputs_converts_to_identical_bytes(tmp_path):
    """A SignatureDef's outputs are a protobuf map, iterated in an order of the process's own."""
    class Tables(tf.Module):
        def __init__(self):
            super().__init__()
            self.tables = [tf.Variable(np.full((20, 4), i, np.float32)) for i in range(6)]

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="ids")])
        def serve(self, ids):
            return {f"out_{name}": tf.gather(t, ids) for name, t in zip("fbdace", self.tables)}

    module = Tables()
    tf.saved_model.save(module, str(tmp_path / "tables"), signatures=module.serve)
    _convert_twice(tmp_path / "tables", tmp_path, seeds=("1", "2", "3", "4"))


def test_a_keras_model_with_a_vocabulary_converts_to_identical_bytes(tmp_path):
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(4)
    city = keras.Input(shape=(1,), dtype="string", name="city")
    ids = keras.Input(shape=(3,), dtype="int32", name="ids")
    looked_up = keras.layers.StringLookup(vocabulary=["lima", "oslo", "rome"])(city)
    x = keras.layers.Concatenate()([keras.layers.Flatten()(keras.layers.Embedding(4, 8)(looked_up)),
                                    keras.layers.Flatten()(keras.layers.Embedding(50, 8)(ids))])
    model = keras.Model([city, ids], keras.layers.Dense(1)(x))
    model.export(str(tmp_path / "keras"), verbose=False)
    _convert_twice(tmp_path / "keras", tmp_path)


def test_an_hlo_module_converts_to_identical_bytes(tmp_path):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    def forward(table, ids, src, dst, w):
        rows = jnp.take(table, ids, axis=0, mode="clip")
        messages = jax.ops.segment_sum(jnp.take(table, src, axis=0, mode="clip"), dst, num_segments=8)
        return jnp.tanh(rows.sum(axis=1) @ w), messages

    specs = (jax.ShapeDtypeStruct((40, 8), np.float32), jax.ShapeDtypeStruct((6, 3), np.int32),
             jax.ShapeDtypeStruct((12,), np.int32), jax.ShapeDtypeStruct((12,), np.int32),
             jax.ShapeDtypeStruct((8, 4), np.float32))
    module = tmp_path / "module.hlo"
    module.write_text(jax.jit(forward).lower(*specs).as_text(dialect="hlo"))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "params.npz", p0=rng.standard_normal((40, 8)).astype(np.float32))
    _convert_twice(module, tmp_path, f"--hlo_params={tmp_path / 'params.npz'}")
