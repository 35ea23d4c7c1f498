"""Ablation sanity: on a mid-size batch (64 bags of 15-25 ids into a 2000 x 64
table) every opt level makes the tmu kernel strictly faster in emulated cycles,
O0 > O1 > O2 > O3, and every level computes the same result."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compiler.helpers import COMBINERS, OPT_LEVELS, bag_inputs, bag_reference, model, run

SIZES = tuple(int(s) for s in np.random.default_rng(0).integers(15, 26, 64))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("combiner", COMBINERS)
def test_cycles_fall_with_each_opt_level(combiner, weighted):
    feeds = bag_inputs(seed=1, dim=64, weighted=weighted, rows=2000, sizes=SIZES)
    want = bag_reference(feeds, combiner)
    cycles = []
    for opt_level in OPT_LEVELS:
        got, it = run(model("bag", 64, "tmu", opt_level, combiner, weighted), "tmu", feeds)
        # ~20 f32 additions per bag (with cancellation) against a float64 reference
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        cycles.append(it.last_stats.cycles)
    print(f"{'weighted ' if weighted else ''}{combiner}: cycles O0..O3 = {cycles}")
    assert cycles[0] > cycles[1] > cycles[2] > cycles[3], cycles
