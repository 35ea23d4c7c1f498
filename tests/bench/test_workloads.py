"""bench/workloads.py's recommendation workloads: the published table lists, capping,
FBGEMM-style ids (range, bag sizes, uniqueness, skew, determinism) and the
TensorFlow model that pools them."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import workloads as w  # noqa: E402


def test_published_cardinalities():
    assert len(w.CRITEO_KAGGLE_ROWS) == 26 and sum(w.CRITEO_KAGGLE_ROWS) == 33_762_577
    assert len(w.MLPERF_DCNV2_ROWS) == 26 and sum(w.MLPERF_DCNV2_ROWS) == 204_184_588
    assert len(w.MLPERF_DCNV2_HOTNESS) == 26 and sum(w.MLPERF_DCNV2_HOTNESS) == 214
    assert round(sum(w.CRITEO_KAGGLE_ROWS) / 1e6, 2) == 33.76
    assert round(sum(w.MLPERF_DCNV2_ROWS) / 1e6, 1) == 204.2


def test_uncapped_builders_are_the_published_workloads():
    kaggle = w.criteo_kaggle(row_cap=None)
    assert [t.rows for t in kaggle.tables] == list(w.CRITEO_KAGGLE_ROWS)
    assert all(t.pooling == 1 for t in kaggle.tables) and kaggle.lookups_per_sample == 26
    mlperf = w.mlperf_dcnv2(row_cap=None, dim=128)
    assert [t.rows for t in mlperf.tables] == list(w.MLPERF_DCNV2_ROWS)
    assert [t.pooling for t in mlperf.tables] == list(w.MLPERF_DCNV2_HOTNESS)
    assert mlperf.lookups_per_sample == 214
    assert round(mlperf.nbytes / 2**30) == 97


def test_cap_keeps_small_tables_and_caps_big_ones():
    for build, rows in ((w.criteo_kaggle, w.CRITEO_KAGGLE_ROWS), (w.mlperf_dcnv2, w.MLPERF_DCNV2_ROWS)):
        capped = build(row_cap=50_000)
        assert [t.rows for t in capped.tables] == [min(r, 50_000) for r in rows]
        assert len(capped.tables) == 26
    default = w.criteo_kaggle()
    assert default.rows == 840_543 and default.nbytes < 300e6
    assert w.mlperf_dcnv2().nbytes < 300e6


def test_extreme_imbalance_shape():
    wl = w.extreme_imbalance(row_cap=100_000)
    huge, *tiny = wl.tables
    assert huge.rows == 100_000 and len(tiny) == 40
    assert all(4 <= t.rows <= 200 for t in tiny)
    assert len({t.name for t in wl.tables}) == 41
    assert sum(t.rows for t in tiny) < huge.rows / 10
    assert w.extreme_imbalance() == w.extreme_imbalance()     # fixed seed
    assert all(t.pooling == 1 for t in wl.tables)


def test_zipf_workloads():
    base = w.criteo_kaggle(row_cap=1000)
    variants = w.zipf_workloads(base)
    assert [v.alpha for v in variants] == [1.05, 1.15, 1.3]
    assert all(v.tables == base.tables and v.batch == base.batch for v in variants)
    assert [v.name for v in variants] == ["criteo_kaggle_zipf1_05", "criteo_kaggle_zipf1_15", "criteo_kaggle_zipf1_3"]


@pytest.mark.parametrize("alpha", [None, 0.9, 1.05, 1.15, 1.3])
@pytest.mark.parametrize("rows,pooling", [(1000, 1), (500, 12), (100, 100), (4, 4)])
def test_ids_csr_range_and_bag_sizes(alpha, rows, pooling):
    table = w.TableSpec("t", rows, 8, pooling)
    indices, offsets = w.ids(table, 64, alpha, np.random.default_rng(3))
    assert indices.dtype == np.int32 and offsets.dtype == np.int32
    assert offsets.shape == (65,) and offsets[0] == 0
    assert np.all(np.diff(offsets) == pooling) and indices.size == offsets[-1]
    assert indices.min() >= 0 and indices.max() < rows
    if alpha is not None and alpha > 1:
        bags = indices.reshape(64, pooling)
        assert all(np.unique(bag).size == pooling for bag in bags)


def test_ids_refuse_more_unique_ids_than_rows():
    with pytest.raises(ValueError):
        w.ids(w.TableSpec("t", 10, 8, 11), 4, 1.15, np.random.default_rng(0))


@pytest.mark.parametrize("pooling,batch", [(1, 20_000), (10, 4096)])
def test_skew_grows_with_alpha(pooling, batch):
    table = w.TableSpec("t", 1000, 8, pooling)
    share = {a: w.top_share(w.ids(table, batch, a, np.random.default_rng(0))[0], table.rows)
             for a in (None, 1.05, 1.15, 1.3)}
    assert share[None] < 0.025                                  # uniform: top 1% of rows ~ 1% of accesses
    assert share[1.05] > 0.25
    assert share[1.05] + 0.1 < share[1.15] < share[1.3] - 0.05


def test_hot_ids_are_scattered():
    table = w.TableSpec("t", 100_000, 8, 1)
    indices, _ = w.ids(table, 20_000, 1.3, np.random.default_rng(0))
    hottest = np.argsort(np.bincount(indices, minlength=table.rows))[::-1][:10]
    assert hottest.max() > 1000      # not the ids 0..9 that Zipf makes hot before the permutation


def test_determinism():
    wl = w.mlperf_dcnv2(row_cap=2000, batch=32, alpha=1.15)
    a, b, c = w.feeds(wl, seed=7), w.feeds(wl, seed=7), w.feeds(wl, seed=8)
    assert a.keys() == b.keys() == {t.name for t in wl.tables}
    for name in a:
        np.testing.assert_array_equal(a[name][0], b[name][0])
        np.testing.assert_array_equal(a[name][1], b[name][1])
    assert any(not np.array_equal(a[n][0], c[n][0]) for n in a)
    # a table's ids do not depend on the other tables
    alone = w.feeds(w.Workload("one", wl.tables[:1], wl.batch, wl.alpha), seed=7)
    np.testing.assert_array_equal(alone["C1"][0], a["C1"][0])


def test_feeds_do_not_touch_global_numpy_state():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    w.feeds(w.criteo_kaggle(row_cap=1000, batch=16, alpha=1.15))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_tensorflow_model_pools_like_numpy(tmp_path):
    tf = pytest.importorskip("tensorflow")
    wl = w.Workload("small", (w.TableSpec("a", 50, 8, 1), w.TableSpec("b", 300, 4, 7),
                              w.TableSpec("c", 20, 16, 3)), batch=16, alpha=1.15)
    wl = w.zipf_workloads(wl, alphas=(1.15,))[0]      # a name with a dot in its alpha
    model = w.tensorflow_model(wl, seed=1)
    table_feeds = w.feeds(wl, seed=2)
    expected = w.pooled_reference(w.table_values(wl, seed=1), table_feeds)
    got = model.serve(**w.signature_feeds(table_feeds))
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_allclose(got[name].numpy(), expected[name], rtol=1e-5, atol=1e-5)
    # the saved model's signature takes every table's ids by name and gives the same rows
    tf.saved_model.save(model, str(tmp_path), signatures=model.serve)
    serving = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    assert set(serving.structured_input_signature[1]) == set(w.signature_feeds(table_feeds))
    out = serving(**{k: tf.constant(v) for k, v in w.signature_feeds(table_feeds).items()})
    for name in expected:
        np.testing.assert_allclose(out[name].numpy(), expected[name], rtol=1e-5, atol=1e-5)
