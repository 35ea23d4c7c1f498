"""reduce_sum / reduce_mean over a gathered [B, L, D] become embedding bags."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conversion import assert_matches, convert, offloaded_families, report, run, save

tf = pytest.importorskip("tensorflow")

TABLE = np.random.default_rng(2).standard_normal((100, 16)).astype(np.float32)


def _module(reduce, shape, keepdims=False):
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(TABLE)

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.int32)])
        def __call__(self, ids):
            return reduce(tf.nn.embedding_lookup(self.table, ids), axis=1, keepdims=keepdims)

    return Module()


@pytest.mark.parametrize("reduce", [tf.reduce_sum, tf.reduce_mean], ids=["sum", "mean"])
def test_fixed_length_bags(tmp_path, reduce):
    module = _module(reduce, [None, 6])
    ids = np.random.default_rng(0).integers(0, 100, (9, 6)).astype(np.int32)
    want = module(tf.constant(ids)).numpy()
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["reduce over gather"]
    assert_matches(run(out, {"ids": ids})["output_0"], want)


def test_sum_over_a_length_known_only_at_run_time(tmp_path):
    module = _module(tf.reduce_sum, [None, None])
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["reduce over gather"]
    for length in (5, 0):
        ids = np.random.default_rng(length).integers(0, 100, (4, length)).astype(np.int32)
        assert_matches(run(out, {"ids": ids})["output_0"], module(tf.constant(ids)).numpy())


def test_mean_over_an_unknown_length_stays_a_gather(tmp_path):
    # TensorFlow's mean over zero rows is NaN, a bag's is 0: only the gather is offloaded
    module = _module(tf.reduce_mean, [None, None])
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    (signature,) = report(out)
    assert [e["family"] for e in signature["offloaded"]] == ["ResourceGather"]
    assert "non-zero" in signature["not_offloaded"][0]["reason"]
    ids = np.array([[1, 2], [3, 99]], np.int32)
    assert_matches(run(out, {"ids": ids})["output_0"], module(tf.constant(ids)).numpy())


def test_keepdims_is_left_to_the_host(tmp_path):
    module = _module(tf.reduce_sum, [None, 3], keepdims=True)
    out = convert(save(module, tmp_path / "m"), tmp_path / "m.daebin")
    assert offloaded_families(out) == ["ResourceGather"]
    ids = np.array([[1, 2, 3]], np.int32)
    assert_matches(run(out, {"ids": ids})["output_0"], module(tf.constant(ids)).numpy())
