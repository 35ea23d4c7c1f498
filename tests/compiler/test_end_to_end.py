"""Every embedding operation at every opt level on both machines, end to end:
build the scf function, compile it (passes + ISA lowering), serialize the
`.daebin`, load it from bytes in the emulator, run it and compare with the
numpy references of TensorFlow's semantics. Gathers copy rows and must be
bitwise exact; reductions accumulate in f32 against a float64 reference."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compiler.helpers import (
    COMBINERS, DIMS, MACHINES, OPT_LEVELS, bag_inputs, bag_reference, gather_inputs, model, run,
    segment_inputs, spmm_inputs,
)
from tests.reference import embedding_ops as ref

TOL = dict(rtol=1e-6, atol=1e-6)

machines = pytest.mark.parametrize("machine", MACHINES)
opt_levels = pytest.mark.parametrize("opt_level", OPT_LEVELS, ids=[f"O{o}" for o in OPT_LEVELS])
dims = pytest.mark.parametrize("dim", DIMS, ids=[f"d{d}" for d in DIMS])
# bags: 64 (whole chunks, no tail) is left to the ablation test
bag_dims = pytest.mark.parametrize("dim", [d for d in DIMS if d != 64], ids=[f"d{d}" for d in DIMS if d != 64])
combiners = pytest.mark.parametrize("combiner", COMBINERS)
weighted = pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])


@dims
@opt_levels
@machines
def test_gather(machine, opt_level, dim):
    feeds = gather_inputs(seed=dim, dim=dim)
    got, _ = run(model("gather", dim, machine, opt_level), machine, feeds)
    want = ref.gather(feeds["table"], feeds["ids"])
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)


@bag_dims
@weighted
@combiners
@opt_levels
@machines
def test_embedding_bag_csr(machine, opt_level, combiner, weighted, dim):
    feeds = bag_inputs(seed=dim + 7, dim=dim, weighted=weighted)
    got, _ = run(model("bag", dim, machine, opt_level, combiner, weighted), machine, feeds)
    want = bag_reference(feeds, combiner)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **TOL)
    sizes = np.diff(feeds["offsets"])
    assert not got[sizes == 0].any(), "an empty bag gives zeros"


@pytest.mark.parametrize("pooling", [1, 3, 5])
@weighted
@combiners
@opt_levels
@machines
def test_embedding_bag_fixed_pooling(machine, opt_level, combiner, weighted, pooling):
    dim = 37
    feeds = bag_inputs(seed=pooling, dim=dim, weighted=weighted, pooling=pooling)
    got, _ = run(model("bag", dim, machine, opt_level, combiner, weighted, pooling=pooling), machine, feeds)
    want = bag_reference(feeds, combiner)
    assert got.shape == want.shape == (feeds["indices"].shape[0], dim)
    np.testing.assert_allclose(got, want, **TOL)


@pytest.mark.parametrize("dim", [20, 100], ids=["d20", "d100"])
@combiners
@opt_levels
@machines
def test_embedding_bag_all_bags_empty_and_no_bags(machine, opt_level, combiner, dim):
    data = model("bag", dim, machine, opt_level, combiner, True)
    feeds = bag_inputs(seed=3, dim=dim, weighted=True, sizes=(0, 0, 0))
    got, _ = run(data, machine, feeds)
    assert got.shape == (3, dim) and not got.any()
    feeds = bag_inputs(seed=3, dim=dim, weighted=True, sizes=())
    got, _ = run(data, machine, feeds)
    assert got.shape == (0, dim)


@dims
@opt_levels
@machines
def test_segment_sum(machine, opt_level, dim):
    feeds = segment_inputs(seed=dim + 1, dim=dim)
    got, _ = run(model("segment_sum", dim, machine, opt_level), machine, feeds)
    want = ref.message_passing(feeds["features"], feeds["src"], feeds["dst"])
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **TOL)
    received = np.zeros(len(want), bool)
    received[feeds["dst"]] = True
    assert not got[~received].any(), "a node without incoming edges stays zero"


@dims
@opt_levels
@machines
def test_spmm_csr(machine, opt_level, dim):
    feeds = spmm_inputs(seed=dim + 2, dim=dim)
    got, _ = run(model("spmm_csr", dim, machine, opt_level), machine, feeds)
    want = ref.spmm_csr(feeds["row_splits"], feeds["col"], feeds["val"], feeds["dense"])
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **TOL)


@opt_levels
@machines
def test_empty_batches(machine, opt_level):
    """No ids, no edges, no matrix rows: empty outputs, no fault."""
    dim = 20
    feeds = gather_inputs(seed=0, dim=dim, n=0)
    got, _ = run(model("gather", dim, machine, opt_level), machine, feeds)
    assert got.shape == (0, dim)
    feeds = segment_inputs(seed=0, dim=dim, edges=0)
    got, _ = run(model("segment_sum", dim, machine, opt_level), machine, feeds)
    assert got.shape == feeds["features"].shape and not got.any()


@opt_levels
@machines
def test_one_model_many_batches(machine, opt_level):
    """A compiled model has run-time batch and table sizes: one binary serves several."""
    dim = 37
    data = model("bag", dim, machine, opt_level, "mean", True)
    for seed, sizes, rows in [(1, (2, 0, 4), 5), (2, (1,) * 13, 200), (3, (6, 6, 0, 6), 1)]:
        feeds = bag_inputs(seed=seed, dim=dim, weighted=True, sizes=sizes, rows=rows)
        got, _ = run(data, machine, feeds)
        np.testing.assert_allclose(got, bag_reference(feeds, "mean"), **TOL)
