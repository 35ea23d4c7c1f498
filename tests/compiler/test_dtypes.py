"""Narrow float tables (f16, bf16 via ml_dtypes) and int64 ids, end to end at every
opt level on both machines. Gathers copy rows and must be bitwise exact; reductions
round every addition to the table's type, so they are compared with the float64
reference (rounded once to the table's type) at a tolerance of a few ulps.

The IR's vectors have at least 4-byte lanes (16 lanes on a 64-byte machine) while
instructions on 2-byte elements run 32 lanes: the row widths below (17, 37, 300:
partial chunks, more chunks than are unrolled) check the tail masks of that."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compiler.helpers import (
    COMBINERS, MACHINES, OPT_LEVELS, bag_inputs, bag_reference, gather_inputs, model, run, segment_inputs,
    spmm_inputs,
)
from tests.reference import embedding_ops as ref

# f16: eps 2^-10, about 10 eps; bf16: eps 2^-7, about 4 eps (bags of up to 5 ids)
TOL = {"f32": dict(rtol=1e-6, atol=1e-6), "f16": dict(rtol=1e-2, atol=1e-2), "bf16": dict(rtol=3e-2, atol=3e-2)}

def cases(shapes, extra=((),)):
    """(machine, opt_level, dtype, dim, id_dtype, *extra) for every machine, opt level and
    narrow dtype. (Scalar bf16 streams, every stream at O0 and the weights of weighted bags
    and SpMM above, once faulted in the emulator: they are covered here.)"""
    out = []
    for machine in MACHINES:
        for opt_level in OPT_LEVELS:
            for dtype in ("f16", "bf16"):
                for dim, id_dtype in shapes:
                    for e in extra:
                        out.append(pytest.param(machine, opt_level, dtype, dim, id_dtype, *e,
                                                id="-".join([machine, f"O{opt_level}", dtype, f"d{dim}", id_dtype,
                                                             *map(str, e)])))
    return out


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16) if a.dtype.itemsize == 2 else a.view(np.uint32)


@pytest.mark.parametrize("machine, opt_level, dtype, dim, id_dtype",
                         cases([(16, "i32"), (37, "i64"), (300, "i32")]))
def test_gather_narrow_floats_bitwise(machine, opt_level, dtype, dim, id_dtype):
    feeds = gather_inputs(seed=dim, dim=dim, dtype=dtype, id_dtype=id_dtype)
    got, _ = run(model("gather", dim, machine, opt_level, dtype=dtype, id_dtype=id_dtype), machine, feeds)
    want = ref.gather(feeds["table"], feeds["ids"])
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(bits(got), bits(want))


@pytest.mark.parametrize("machine, opt_level, dtype, dim, id_dtype, combiner, weighted",
                         cases([(17, "i32"), (300, "i64")],
                               extra=[(c, w) for c in COMBINERS for w in (False, True)]))
def test_bag_narrow_floats(machine, opt_level, dtype, dim, id_dtype, combiner, weighted):
    feeds = bag_inputs(seed=11, dim=dim, weighted=weighted, dtype=dtype, id_dtype=id_dtype)
    data = model("bag", dim, machine, opt_level, combiner, weighted, dtype, id_dtype)
    got, _ = run(data, machine, feeds)
    want = bag_reference(feeds, combiner)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), **TOL[dtype])
    assert not got[np.diff(feeds["offsets"]) == 0].astype(np.float64).any()


@pytest.mark.parametrize("machine, opt_level, dtype, dim, id_dtype, op",
                         cases([(20, "i32"), (300, "i64")],
                               extra=[("segment_sum",), ("spmm_csr",)]))
def test_graph_ops_narrow_floats(machine, opt_level, dtype, dim, id_dtype, op):
    if op == "segment_sum":
        feeds = segment_inputs(seed=5, dim=dim, dtype=dtype, id_dtype=id_dtype)
        want = ref.message_passing(feeds["features"], feeds["src"], feeds["dst"])
    else:
        feeds = spmm_inputs(seed=5, dim=dim, dtype=dtype, id_dtype=id_dtype)
        want = ref.spmm_csr(feeds["row_splits"], feeds["col"], feeds["val"], feeds["dense"])
    got, _ = run(model(op, dim, machine, opt_level, dtype=dtype, id_dtype=id_dtype), machine, feeds)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), **TOL[dtype])


@pytest.mark.parametrize("opt_level", OPT_LEVELS, ids=lambda o: f"O{o}")
@pytest.mark.parametrize("machine", MACHINES)
def test_int64_ids_f32(machine, opt_level):
    """int64 ids, offsets, edges and column indices with f32 data, every operation."""
    dim = 37
    feeds = gather_inputs(seed=1, dim=dim, id_dtype="i64", rows=300)
    got, _ = run(model("gather", dim, machine, opt_level, id_dtype="i64"), machine, feeds)
    assert np.array_equal(got, ref.gather(feeds["table"], feeds["ids"]))
    for combiner in COMBINERS:
        feeds = bag_inputs(seed=2, dim=dim, weighted=True, id_dtype="i64", rows=300)
        got, _ = run(model("bag", dim, machine, opt_level, combiner, True, id_dtype="i64"), machine, feeds)
        np.testing.assert_allclose(got, bag_reference(feeds, combiner), **TOL["f32"])
    feeds = segment_inputs(seed=3, dim=dim, id_dtype="i64")
    got, _ = run(model("segment_sum", dim, machine, opt_level, id_dtype="i64"), machine, feeds)
    np.testing.assert_allclose(got, ref.message_passing(feeds["features"], feeds["src"], feeds["dst"]),
                               **TOL["f32"])
    feeds = spmm_inputs(seed=4, dim=dim, id_dtype="i64")
    got, _ = run(model("spmm_csr", dim, machine, opt_level, id_dtype="i64"), machine, feeds)
    np.testing.assert_allclose(got, ref.spmm_csr(feeds["row_splits"], feeds["col"], feeds["val"], feeds["dense"]),
                               **TOL["f32"])
