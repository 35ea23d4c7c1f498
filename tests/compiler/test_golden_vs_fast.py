"""The fast emulator mode agrees with the golden interpreter on compiled kernels:
outputs bit for bit and every statistic (cycles included)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compiler.helpers import bag_inputs, gather_inputs, model, run, segment_inputs, spmm_inputs

CASES = [
    # (op, dim, machine, opt_level, combiner, weighted, dtype, pooling)
    ("gather", 37, "tmu", 0, "sum", False, "f32", None),
    ("gather", 37, "tmu", 3, "sum", False, "f32", None),
    ("gather", 130, "cpu", 3, "sum", False, "f32", None),
    ("bag", 20, "tmu", 0, "mean", True, "f32", None),
    ("bag", 20, "tmu", 1, "sqrtn", False, "f32", None),
    ("bag", 20, "tmu", 2, "sum", True, "f32", None),
    ("bag", 100, "tmu", 3, "sqrtn", True, "f32", None),
    ("bag", 37, "tmu", 3, "mean", False, "f32", 3),
    ("bag", 37, "cpu", 3, "mean", True, "f32", None),
    ("bag", 37, "cpu", 0, "sum", False, "f32", None),
    ("bag", 37, "tmu", 3, "sum", False, "f16", None),
    ("bag", 64, "tmu", 3, "sum", False, "bf16", None),
    ("segment_sum", 20, "tmu", 3, "sum", False, "f32", None),
    ("spmm_csr", 37, "tmu", 3, "sum", False, "f32", None),
    ("spmm_csr", 37, "cpu", 2, "sum", False, "f32", None),
]


def inputs(op, dim, weighted, dtype, pooling):
    if op == "gather":
        return gather_inputs(9, dim, dtype)
    if op == "bag":
        return bag_inputs(9, dim, weighted, dtype, pooling=pooling)
    if op == "segment_sum":
        return segment_inputs(9, dim, dtype)
    return spmm_inputs(9, dim, dtype)


@pytest.mark.parametrize("op, dim, machine, opt_level, combiner, weighted, dtype, pooling", CASES,
                         ids=["-".join(str(x) for x in c if x is not None) for c in CASES])
def test_fast_equals_golden(op, dim, machine, opt_level, combiner, weighted, dtype, pooling):
    data = model(op, dim, machine, opt_level, combiner, weighted, dtype, pooling=pooling)
    feeds = inputs(op, dim, weighted, dtype, pooling)
    golden, golden_it = run(data, machine, feeds, mode="golden")
    fast, fast_it = run(data, machine, feeds, mode="fast")
    assert golden.dtype == fast.dtype and golden.shape == fast.shape
    assert np.array_equal(golden.view(np.uint8), fast.view(np.uint8))
    assert golden_it.last_stats.cycles == fast_it.last_stats.cycles > 0
    assert golden_it.last_stats.to_json() | {"mode": None} == fast_it.last_stats.to_json() | {"mode": None}
