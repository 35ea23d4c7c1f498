"""Row caches (emulator/row_cache.py) and the warm LLC: LRU and LFU replace what they should,
a cache keeps its rows from one run to the next and serves them without DRAM, outputs never
change, and both emulation modes give the same statistics."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.emulator import Interpreter, RowCacheConfig
from ember_tf.emulator.row_cache import CachedSlot, RowCache
from ember_tf.errors import EmulationError

LINE, ROW = 64, 64          # one line per row


def _cache(policy: str, rows: int = 2, ways: int = 2) -> RowCache:
    return RowCache(RowCacheConfig(policy, rows * ROW, ways), {7: (100, ROW)})


def _lookup(cache: RowCache, rows: list[int]) -> list[bool]:
    slot = CachedSlot(first_line=0, last_line=99, base=0, row_bytes=ROW, table=cache.table_number(7))
    return cache.lookup(np.array(rows, np.int64), (slot,), LINE).tolist()


def test_lru_evicts_the_row_used_longest_ago():
    cache = _cache("lru")                          # one set of two ways
    assert _lookup(cache, [1, 2, 1, 3, 1, 2]) == [False, False, True, False, True, False]
    assert (cache.hits, cache.misses) == (2, 4)


def test_lfu_keeps_the_rows_read_most_and_bypasses_rarer_ones():
    cache = _cache("lfu")
    # 1 read twice, 2 once; 3 (once) does not replace 2 (once); on its second read it does.
    assert _lookup(cache, [1, 1, 2, 3, 3, 1, 2]) == [False, True, False, False, False, True, False]


def test_a_row_spanning_lines_is_one_lookup():
    cache = RowCache(RowCacheConfig("lru", 4 * 256, 4), {7: (100, 256)})
    slot = CachedSlot(0, 399, 0, 256, cache.table_number(7))
    lines = np.array([0, 1, 2, 3, 0, 1, 2, 3], np.int64)     # row 0 twice
    assert cache.lookup(lines, (slot,), LINE).tolist() == [False] * 4 + [True] * 4


def test_bad_configurations_are_one_line():
    with pytest.raises(EmulationError, match="policy"):
        RowCacheConfig("fifo", 1024)
    with pytest.raises(EmulationError, match="holds no"):
        RowCache(RowCacheConfig("lru", 10), {7: (100, ROW)})


ROWS, DIM, BATCH, POOLING = 20_000, 64, 256, 4
HLO = f"""HloModule bag

add {{
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT s = f32[] add(a, b)
}}

ENTRY main {{
  t = f32[{ROWS},{DIM}] parameter(0)
  i = s32[{BATCH},{POOLING}] parameter(1)
  g = f32[{BATCH},{POOLING},{DIM}] gather(t, i), offset_dims={{2}}, collapsed_slice_dims={{0}}, start_index_map={{0}}, index_vector_dim=2, slice_sizes={{1,{DIM}}}
  z = f32[] constant(0)
  ROOT r = f32[{BATCH},{DIM}] reduce(g, z), dimensions={{1}}, to_apply=add
}}
"""


@pytest.fixture(scope="module")
def bag_model(tmp_path_factory) -> bytes:
    """A model whose table is its own constant (as a converted model's tables are)."""
    from ember_tf import Converter

    folder = tmp_path_factory.mktemp("row_cache")
    (folder / "bag.hlo").write_text(HLO)
    table = np.random.default_rng(0).standard_normal((ROWS, DIM)).astype(np.float32)
    np.savez(folder / "params.npz", p0=table)
    return Converter.from_hlo(folder / "bag.hlo", folder / "params.npz", core_mapping="even",
                              lookup_strategy="gm").convert()


def _ids(seed: int) -> np.ndarray:
    """Mostly a few popular rows (the same in every batch), the rest uniform."""
    rng = np.random.default_rng(seed)
    hot = np.random.default_rng(0).permutation(ROWS)[:64]
    ids = np.where(rng.random(BATCH * POOLING) < 0.8, hot[rng.integers(0, 64, BATCH * POOLING)],
                   rng.integers(0, ROWS, BATCH * POOLING))
    return ids.reshape(BATCH, POOLING).astype(np.int32)


def _runs(model: bytes, mode: str, **options) -> list:
    """Three batches on one Interpreter: (DRAM bytes, cycles, outputs) of each."""
    interpreter = Interpreter(model_content=model, mode=mode, **options)
    runner = interpreter.get_signature_runner()
    out = []
    for seed in (1, 2, 3):
        result = runner(p1=_ids(seed))
        out.append((interpreter.last_stats.dram_bytes, interpreter.last_stats.cycles, list(result.values())[0]))
    return out


@pytest.mark.parametrize("options", [dict(row_cache=RowCacheConfig("lru", 1 << 20)),
                                     dict(row_cache=RowCacheConfig("lfu", 1 << 20)), dict(warm_llc=True)],
                         ids=["lru", "lfu", "warm_llc"])
def test_state_carries_over_runs_and_cuts_dram_bytes_without_changing_outputs(bag_model, options):
    cold = _runs(bag_model, "fast")
    kept = _runs(bag_model, "fast", **options)
    assert kept[0][0] <= cold[0][0]                          # the first batch starts empty
    assert kept[2][0] < cold[2][0]                           # later ones find rows left by earlier
    for (_, _, a), (_, _, b) in zip(cold, kept):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("options", [dict(row_cache=RowCacheConfig("lfu", 1 << 20)), dict(warm_llc=True)],
                         ids=["lfu", "warm_llc"])
def test_golden_and_fast_agree(bag_model, options):
    golden, fast = _runs(bag_model, "golden", **options), _runs(bag_model, "fast", **options)
    assert [(d, c) for d, c, _ in golden] == [(d, c) for d, c, _ in fast]


def test_a_cache_larger_than_the_machine_may_pin_is_refused(bag_model):
    with pytest.raises(EmulationError, match="pinned_llc_bytes"):
        Interpreter(model_content=bag_model, row_cache=RowCacheConfig("lru", 1 << 30))


def test_a_cpu_core_loading_its_own_rows_goes_through_the_cache(tmp_path):
    from ember_tf import Converter

    (tmp_path / "bag.hlo").write_text(HLO)
    np.savez(tmp_path / "params.npz", p0=np.random.default_rng(0).standard_normal((ROWS, DIM)).astype(np.float32))
    from ember_tf.compiler import CompileOptions

    model = Converter.from_hlo(tmp_path / "bag.hlo", tmp_path / "params.npz", CompileOptions(target="cpu"),
                               core_mapping="even", lookup_strategy="gm").convert()
    cold = _runs(model, "fast", machine="cpu")
    cached = _runs(model, "fast", machine="cpu", row_cache=RowCacheConfig("lru", 1 << 20))
    assert cached[2][0] < cold[2][0]
    np.testing.assert_array_equal(cached[2][2], cold[2][2])


def test_the_cli_runs_with_a_row_cache_and_a_warm_llc(bag_model, tmp_path):
    from tests.test_cli import ember_tf

    model, inputs = tmp_path / "bag.daebin", tmp_path / "ids.npz"
    model.write_bytes(bag_model)
    np.savez(inputs, p1=_ids(1))
    plain = ember_tf("run", model, f"--inputs={inputs}")
    cached = ember_tf("run", model, f"--inputs={inputs}", "--row_cache=lfu", "--row_cache_bytes=65536", "--warm_llc")
    assert plain.returncode == 0 and cached.returncode == 0, cached.stderr
    for args, fragment in ((["--row_cache_bytes=100"], "needs --row_cache"), (["--row_cache=lru"], "needs --row_cache_bytes"),
                           (["--row_cache=lru", "--row_cache_bytes=1000000000"], "pinned_llc_bytes")):
        result = ember_tf("run", model, f"--inputs={inputs}", *args)
        assert result.returncode == 2 and fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1
