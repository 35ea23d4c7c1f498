"""End-to-end checks for the SavedModel converter: save a real TensorFlow model,
convert it, write the .daebin, read it back, emulate, and compare with what
TensorFlow computed on the same inputs."""

from __future__ import annotations

import json
import pathlib

import numpy as np

from ember_tf.compiler import CompileOptions
from ember_tf.converter import REPORT_METADATA, Converter
from ember_tf.dae_isa import read_model
from ember_tf.dae_isa.writer import buffer_bytes
from ember_tf.emulator import Interpreter


def save(module, path: pathlib.Path, signatures=None) -> str:
    import tensorflow as tf

    tf.saved_model.save(module, str(path), signatures=signatures)
    return str(path)


def convert(saved_model: str, out: pathlib.Path, target: str = "tmu", **kwargs) -> pathlib.Path:
    Converter.from_saved_model(saved_model, options=CompileOptions(target=target), **kwargs).convert_to_file(out)
    return out


def report(daebin: pathlib.Path) -> list[dict]:
    model = read_model(daebin)
    entry = next(m for m in model.metadata if m.name == REPORT_METADATA)
    return json.loads(bytes(buffer_bytes(model.buffers[entry.buffer])).decode())


def offloaded_families(daebin: pathlib.Path, key: str = "serving_default") -> list[str]:
    signature = next(r for r in report(daebin) if r["key"] == key)
    return [entry["family"] for entry in signature["offloaded"]]


def run(daebin: pathlib.Path, feeds: dict, key: str | None = None, machine: str = "tmu",
        mode: str = "fast") -> dict[str, np.ndarray]:
    interpreter = Interpreter(model_path=daebin, machine=machine, mode=mode)
    return interpreter.get_signature_runner(key)(**feeds)


def assert_matches(got: np.ndarray, want, exact: bool = False) -> None:
    want = np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=2e-6, atol=1e-6)


def sparse_feeds(name: str, sparse) -> dict[str, np.ndarray]:
    """The npz components of a tf.SparseTensor input."""
    return {f"{name}.indices": sparse.indices.numpy(), f"{name}.values": sparse.values.numpy(),
            f"{name}.dense_shape": sparse.dense_shape.numpy()}


def ragged_feeds(name: str, ragged) -> dict[str, np.ndarray]:
    return {f"{name}.values": ragged.values.numpy(), f"{name}.row_splits": ragged.row_splits.numpy()}
