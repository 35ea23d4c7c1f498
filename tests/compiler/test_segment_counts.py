"""Segment sums whose output row count comes from the graph (as many as nodes),
from a num_segments input (tf.math.unsorted_segment_sum) or from the sorted
segment ids (tf.math.segment_sum), compiled at every level on both machines."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.errors import EmberError
from ember_tf.ir import embedding_ops as E
from tests.compiler.helpers import MACHINES, OPT_LEVELS, run
from tests.reference import embedding_ops as ref


def _feeds(seed: int, dim: int, num_segments: int, sorted_ids: bool):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((25, dim)).astype(np.float32)
    src = rng.integers(0, 25, 30).astype(np.int32)
    dst = rng.integers(0, num_segments, 30)
    dst[0] = num_segments - 1
    dst = np.sort(dst) if sorted_ids else dst
    return {"features": features, "src": src, "dst": dst.astype(np.int32)}


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("opt_level", OPT_LEVELS)
def test_unsorted_segment_sum_with_num_segments(machine, opt_level):
    feeds = _feeds(1, 20, 40, sorted_ids=False)          # more segments than nodes
    feeds["num_segments"] = np.array([40], np.int32)
    data = compile_model(E.segment_sum(20, segments="input"), CompileOptions(target=machine, opt_level=opt_level))
    out, _ = run(data, machine, feeds)
    want = ref.unsorted_segment_sum(feeds["features"][feeds["src"]], feeds["dst"], 40)
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("opt_level", OPT_LEVELS)
def test_sorted_segment_sum(machine, opt_level):
    feeds = _feeds(2, 37, 12, sorted_ids=True)
    data = compile_model(E.segment_sum(37, segments="sorted"), CompileOptions(target=machine, opt_level=opt_level))
    out, _ = run(data, machine, feeds)
    assert out.shape == (12, 37)
    want = ref.unsorted_segment_sum(feeds["features"][feeds["src"]], feeds["dst"], 12)
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)


def test_a_segment_id_past_num_segments_is_an_error():
    feeds = _feeds(3, 8, 10, sorted_ids=False)
    feeds["num_segments"] = np.array([5], np.int32)      # ids go up to 9
    data = compile_model(E.segment_sum(8, segments="input"), CompileOptions())
    with pytest.raises(EmberError, match="out"):
        run(data, "tmu", feeds)
