"""Property-based fuzzing of the SavedModel path: a real SavedModel with one of its files
mutated (bytes flipped, cut short, spliced, duplicated) either converts and runs, or fails
with one of the project's errors (the CLI's one-line message), never anything else.

CI runs a few dozen examples with a fixed seed; a long run (with what happened to them) is
    EMBER_FUZZ_EXAMPLES=1000 .venv/bin/python -m pytest tests/grappler_like/test_fuzz_saved_model.py \
        --hypothesis-show-statistics
"""

from __future__ import annotations

import os
import pathlib
import shutil

import numpy as np
import pytest

from ember_tf.errors import EmberError

tf = pytest.importorskip("tensorflow")
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

EXAMPLES = int(os.environ.get("EMBER_FUZZ_EXAMPLES", "30"))
FILES = ("saved_model.pb", "variables/variables.index", "variables/variables.data-00000-of-00001")
IDS = tf.SparseTensor([[0, 0], [0, 1], [2, 0]], np.array([3, 1, 4], np.int64), [3, 2])


class _Model(tf.Module):
    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.table = tf.Variable(rng.standard_normal((6, 4)).astype(np.float32))
        self.dense = tf.Variable(rng.standard_normal((4, 2)).astype(np.float32))

    @tf.function(input_signature=[tf.SparseTensorSpec([None, None], tf.int64)])
    def serve(self, ids):
        return {"y": tf.nn.relu(tf.nn.embedding_lookup_sparse(self.table, ids, None, combiner="mean") @ self.dense)}


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("fuzz") / "model"
    module = _Model()
    tf.saved_model.save(module, str(path), signatures=module.serve)
    return path


@st.composite
def mutations(draw):
    name = draw(st.sampled_from(FILES))
    kind = draw(st.sampled_from(["flip", "truncate", "splice", "duplicate", "zero"]))
    return name, kind, draw(st.integers(0, 2**31 - 1)), draw(st.integers(1, 16))


def _mutate(data: bytes, kind: str, seed: int, count: int) -> bytes:
    rng = np.random.default_rng(seed)
    if not data:
        return b"\x00"
    buf = bytearray(data)
    if kind == "flip":
        for at in rng.integers(0, len(buf), count):
            buf[at] ^= 1 << int(rng.integers(0, 8))
    elif kind == "truncate":
        del buf[int(rng.integers(0, len(buf))):]
    elif kind == "splice":
        at = int(rng.integers(0, len(buf)))
        buf[at:at] = rng.integers(0, 256, count, dtype=np.uint8).tobytes()
    elif kind == "duplicate":
        start = int(rng.integers(0, len(buf)))
        buf[start:start] = buf[start:start + count * 8]
    else:
        start = int(rng.integers(0, len(buf)))
        buf[start:start + count] = bytes(min(count, len(buf) - start))
    return bytes(buf)


@hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(mutation=mutations())
def test_a_mutated_saved_model_converts_or_fails_cleanly(original, tmp_path_factory, mutation):
    from ember_tf import Converter, Interpreter

    name, kind, seed, count = mutation
    path = tmp_path_factory.mktemp("mutant") / "model"
    shutil.copytree(original, path)
    target = path / name
    target.write_bytes(_mutate(target.read_bytes(), kind, seed, count))
    try:
        content = Converter.from_saved_model(path).convert()
    except EmberError:
        hypothesis.event(f"{name}: refused at conversion")
        return
    runner = Interpreter(model_content=content).get_signature_runner()
    try:
        out = runner(**{"ids.indices": IDS.indices.numpy(), "ids.values": IDS.values.numpy(),
                        "ids.dense_shape": IDS.dense_shape.numpy()})
    except EmberError:
        hypothesis.event(f"{name}: refused at run time")
        return
    hypothesis.event(f"{name}: converted and ran")
    assert set(out) == {"y"} and out["y"].shape == (3, 2)
