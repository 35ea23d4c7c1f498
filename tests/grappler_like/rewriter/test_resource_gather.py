"""tf.nn.embedding_lookup on a variable (ResourceGather) through the binary."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.errors import EmulationError
from tests.conversion import assert_matches, convert, offloaded_families, run, save

tf = pytest.importorskip("tensorflow")


def _lookup(table, spec):
    class Lookup(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(table)

        @tf.function(input_signature=[spec])
        def __call__(self, ids):
            return {"rows": tf.nn.embedding_lookup(self.table, ids)}

    return Lookup()


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("ids_dtype, shape", [("int32", [None]), ("int64", [None, 3]), ("int32", [2, None, 2])])
def test_lookup_matches_tensorflow(tmp_path, dtype, ids_dtype, shape):
    rng = np.random.default_rng(0)
    table = tf.cast(rng.standard_normal((40, 8)), dtype)
    module = _lookup(table, tf.TensorSpec(shape, ids_dtype))
    concrete = [d if d is not None else 3 for d in shape]
    ids = rng.integers(0, 40, concrete).astype(ids_dtype)
    want = module(tf.constant(ids))["rows"].numpy()
    saved = save(module, tmp_path / "m")
    for machine in ("tmu", "cpu"):
        out = convert(saved, tmp_path / f"{machine}.daebin", target=machine)
        assert offloaded_families(out) == ["ResourceGather"]
        assert_matches(run(out, {"ids": ids}, machine=machine)["rows"], want, exact=True)


def test_golden_mode_agrees(tmp_path):
    table = np.arange(60, dtype=np.float32).reshape(20, 3)
    module = _lookup(table, tf.TensorSpec([None], tf.int32))
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    ids = np.array([3, 19, 0, 3], np.int32)
    assert_matches(run(out, {"ids": ids}, mode="golden")["rows"], table[ids], exact=True)


def test_id_out_of_range_is_an_error_as_in_tensorflow(tmp_path):
    table = np.ones((10, 4), np.float32)
    module = _lookup(table, tf.TensorSpec([None], tf.int32))
    with pytest.raises(tf.errors.InvalidArgumentError):
        module(tf.constant([10]))
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    with pytest.raises(EmulationError, match="out of range|outside"):
        run(out, {"ids": np.array([1, 10], np.int32)})
