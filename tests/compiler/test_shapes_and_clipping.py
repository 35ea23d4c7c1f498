"""Gathers with ids of any rank (tf.nn.embedding_lookup keeps the id shape) and
max_norm clipping (each looked-up row scaled to an L2 norm of at most
max_norm, before combining), every opt level and machine, through the binary."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.ir import embedding_ops as E
from tests.compiler.helpers import MACHINES, OPT_LEVELS, bag_inputs, run, table
from tests.reference import embedding_ops as ref

MAX_NORM = 2.5


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("opt_level", OPT_LEVELS)
@pytest.mark.parametrize("id_shape", [(3, 4), (2, 3, 2), (0, 5)])
def test_gather_keeps_the_id_shape(machine, opt_level, id_shape):
    rng = np.random.default_rng(3)
    t = table(rng, 40, 20)
    ids = rng.integers(0, 40, id_shape).astype(np.int32)
    data = compile_model(E.gather(20, id_rank=len(id_shape)), CompileOptions(target=machine, opt_level=opt_level))
    out, _ = run(data, machine, {"table": t, "ids": ids})
    assert out.shape == id_shape + (20,)
    np.testing.assert_array_equal(out, ref.gather(t, ids))


def _clippable_table(rng, rows, dim):
    t = table(rng, rows, dim)
    t[1] = 0.0                      # a zero row: norm 0, left as it is
    t[2] *= 0.01                    # a row already inside the ball
    return t


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("opt_level", OPT_LEVELS)
@pytest.mark.parametrize("dim", [7, 37])
def test_gather_max_norm(machine, opt_level, dim):
    rng = np.random.default_rng(5)
    t = _clippable_table(rng, 30, dim)
    ids = np.array([1, 2, 0, 29, 2, 5, 1], np.int32)
    data = compile_model(E.gather(dim, max_norm=MAX_NORM), CompileOptions(target=machine, opt_level=opt_level))
    out, _ = run(data, machine, {"table": t, "ids": ids})
    np.testing.assert_allclose(out, ref.clip_rows(t[ids], MAX_NORM), rtol=1e-6, atol=1e-6)
    assert np.all(np.linalg.norm(out.astype(np.float64), axis=1) <= MAX_NORM * (1 + 1e-6))


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("opt_level", OPT_LEVELS)
@pytest.mark.parametrize("combiner", E.COMBINERS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bag_max_norm(machine, opt_level, combiner, weighted):
    feeds = bag_inputs(seed=9, dim=20, weighted=weighted)
    feeds["table"][feeds["indices"][0]] = 0.0
    data = compile_model(E.embedding_bag(20, combiner, weighted, max_norm=MAX_NORM),
                         CompileOptions(target=machine, opt_level=opt_level))
    out, _ = run(data, machine, feeds)
    want = ref.embedding_bag(feeds["table"], feeds["indices"], feeds["offsets"], combiner, feeds.get("weights"),
                             max_norm=MAX_NORM)
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)


def test_max_norm_must_be_positive():
    with pytest.raises(ValueError, match="max_norm"):
        E.gather(8, max_norm=0.0)
