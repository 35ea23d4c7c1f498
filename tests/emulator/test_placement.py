"""Placed slots (docs/EMULATOR.md, "Placement"): a table in the core's scratchpad or streamed
through its unified buffer gives the same outputs as in DRAM, the two emulation modes agree
on every statistic, and the DRAM bytes and cycles are what the formulas say."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.emulator import Interpreter
from ember_tf.errors import EmulationError
from ember_tf.machines import load_machine
from tests.emulator import schedule_cases
from tests.emulator.programs import multi_table_gather

KERNELS = pathlib.Path(__file__).resolve().parents[2] / "kernels"
ROWS, DIM = 1000, 64
TABLE_BYTES = ROWS * DIM * 4          # 256,000: a whole number of 64-byte lines


def _placed(text: str, slot: str, place: str) -> bytes:
    """The model with READ slot `slot` placed (`place` = "" leaves it in DRAM)."""
    lines = text.splitlines()
    hits = [i for i, line in enumerate(lines) if line.startswith(f".slot {slot} ")]
    assert len(hits) == 1, slot
    if place:
        lines[hits[0]] += f" place={place}"
    return dae_isa.serialize_model(dae_isa.assemble("\n".join(lines) + "\n"))


def _gather(place: str) -> bytes:
    return _placed((KERNELS / "gather_input.dasm").read_text(), "table", place)


def _table(rows: int = ROWS, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)


def _ids(n: int, rows: int = ROWS, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, rows, n).astype(np.int32)


def _run(model: bytes, feeds: dict, mode: str = "golden", machine: str = "tmu", **overrides):
    interpreter = Interpreter(model_content=model, machine=machine, mode=mode, **overrides)
    outputs = interpreter.get_signature_runner()(**feeds)
    return outputs, interpreter.last_stats


def _cases():
    """name -> (dasm text, placed slot, machine, overrides, feeds)."""
    gather = (KERNELS / "gather_input.dasm").read_text()
    eb = schedule_cases._kernel_feeds("eb_sum", 37)
    multi_feeds = schedule_cases._tables_feeds(3)
    cpu_scratchpad = {"scratchpad_bytes": 1 << 20, "scratchpad_latency_cycles": 12, "buffer_bytes": 65536,
                      "buffer_latency_cycles": 6, "dma_bandwidth_gbps": 25.6, "cores": 4}
    return {
        "gather_input": (gather, "table", "tmu", {"buffer_bytes": 65536}, {"ids": _ids(700), "table": _table()}),
        "eb_sum": ((KERNELS / "eb_sum.dasm").read_text(), "table", "tmu", {"buffer_bytes": 16384}, eb),
        "eb_sum_cpu": ((KERNELS / "eb_sum_cpu.dasm").read_text(), "table", "cpu", cpu_scratchpad, eb),
        "multi_table_gather": (multi_table_gather(3), "table1", "tmu", {"cores": 2, "buffer_bytes": 65536},
                               multi_feeds),
        "compiled_multi_cpu": ((schedule_cases.DATA / "multi_cpu.dasm").read_text(), "t1_table", "cpu",
                               cpu_scratchpad, schedule_cases._multi_feeds()),
        "compiled_multi_gpu": ((schedule_cases.DATA / "multi_gpu.dasm").read_text(), "t2_table", "gpu", {},
                               schedule_cases._multi_feeds()),
    }


CASES = _cases()
PLACES = ("scratchpad", "buffer")
GRID = [(name, place) for name in CASES for place in PLACES if not (name == "compiled_multi_gpu" and place == "buffer")]


@pytest.mark.parametrize("name, place", GRID, ids=[f"{n}-{p}" for n, p in GRID])
def test_placement_keeps_outputs_and_the_modes_agree(name, place):
    text, slot, machine, overrides, feeds = CASES[name]
    reference, dram = _run(_placed(text, slot, ""), feeds, machine=machine, **overrides)
    model = _placed(text, slot, place)
    golden_out, golden = _run(model, feeds, "golden", machine, **overrides)
    fast_out, fast = _run(model, feeds, "fast", machine, **overrides)
    for key in reference:
        assert np.array_equal(golden_out[key], reference[key]), key
        assert np.array_equal(fast_out[key], reference[key]), key
    assert fast.to_json() | {"mode": None} == golden.to_json() | {"mode": None}
    cores = [c for k in golden.kernels for c in k.cores]
    assert sum(c.dma_bytes for c in cores) > 0
    assert sum(c.scratchpad_accesses if place == "scratchpad" else c.buffer_accesses for c in cores) > 0
    # every DMA byte is a DRAM byte; the placed table's lines no longer reach the caches
    assert all(c.dma_bytes <= c.dram_read_bytes for c in cores)
    assert sum(c.au_requests for c in cores) <= sum(c.au_requests for k in dram.kernels for c in k.cores)


@pytest.mark.parametrize("n", [10, 1000, 20000])
def test_a_scratchpad_table_costs_its_bytes_once_however_many_lookups(n):
    """The table's N bytes come from DRAM once (by DMA); its lookups cost no DRAM traffic: what
    remains is the ids read (cold lines). The rows written stay in the write-back LLC."""
    ids = _ids(n)
    _, stats = _run(_gather("scratchpad"), {"ids": ids, "table": _table()})
    core, = stats.kernels[0].cores
    id_lines = math.ceil(ids.nbytes / 64)
    assert core.dma_bytes == TABLE_BYTES
    assert core.dram_read_bytes == TABLE_BYTES + id_lines * 64
    assert core.stored_bytes == n * DIM * 4 and core.dram_write_bytes == 0
    assert stats.dram_bytes == TABLE_BYTES + id_lines * 64
    assert core.au_requests == id_lines                 # only the ids go through the caches
    assert core.scratchpad_accesses == 4 * n            # four 64-byte lines a row, each a request
    if n == 20000:
        # with an LLC smaller than the table, rows in DRAM are read again and again; the placed
        # table never meets the LLC, so its reads do not change (the rows written no longer fit
        # the LLC: all but its 1,024 lines are written back)
        _, small_llc = _run(_gather("scratchpad"), {"ids": ids, "table": _table()}, llc_bytes=65536)
        _, dram = _run(_gather(""), {"ids": ids, "table": _table()}, llc_bytes=65536)
        small_core, = small_llc.kernels[0].cores
        assert small_core.dram_read_bytes == core.dram_read_bytes
        stored = n * DIM * 4 // 64
        assert small_core.dram_write_bytes == 64 * round(stored * (stored + id_lines - 1024) / (stored + id_lines))
        dram_core, = dram.kernels[0].cores
        assert dram_core.dram_read_bytes - id_lines * 64 > 10 * TABLE_BYTES   # the table read 10 times over


def test_the_preload_is_bytes_over_the_dma_rate_before_the_core_starts():
    feeds = {"ids": _ids(3000), "table": _table()}
    tmu = load_machine("tmu")
    _, slow = _run(_gather("scratchpad"), feeds)
    _, fast_dma = _run(_gather("scratchpad"), feeds, dma_bandwidth_gbps=1000.0)
    share = tmu.dram_bytes_per_cycle / 1      # one core busy
    slow_dma = TABLE_BYTES / min(tmu.dma_bytes_per_cycle, share)
    quick_dma = TABLE_BYTES / min(1000.0 / tmu.clock_ghz, share)   # the DRAM share caps the engine
    assert slow.kernels[0].cores[0].dma_cycles == round(slow_dma) == 20000
    assert fast_dma.kernels[0].cores[0].dma_cycles == round(quick_dma) == 2500
    # the rest of the run does not change: the chunks just start later
    t_slow, t_fast = slow.kernels[0].timings[0], fast_dma.kernels[0].timings[0]
    assert t_slow.cycles - t_fast.cycles == pytest.approx(slow_dma - quick_dma)
    assert np.allclose(t_slow.chunk_core_start - slow_dma, t_fast.chunk_core_start - quick_dma)
    assert t_slow.chunk_core_start[0] >= slow_dma


def test_the_dram_share_caps_the_dma_engine_when_cores_share_it():
    """Eight tables on eight cores: each DMA engine gets min(its rate, the core's share)."""
    tables = 8
    text = multi_table_gather(tables)
    lines = [line + (" place=scratchpad" if line.startswith(".slot table") else "") for line in text.splitlines()]
    model = dae_isa.serialize_model(dae_isa.assemble("\n".join(lines) + "\n"))
    rng = np.random.default_rng(2)
    feeds = {}
    for t in range(tables):
        feeds[f"table{t}"] = rng.standard_normal((500, 32)).astype(np.float32)
        feeds[f"ids{t}"] = rng.integers(0, 500, 50).astype(np.int32)
    _, stats = _run(model, feeds, dram_bandwidth_gbps=51.2)    # share 51.2 / 8 = 6.4 GB/s < 25.6 GB/s
    kernel, = stats.kernels
    assert kernel.active_cores == 8
    share = 51.2 / 2.0 / 8
    assert all(c.dma_bytes == 500 * 32 * 4 and c.dma_cycles == round(500 * 32 * 4 / share) for c in kernel.cores)


def test_a_buffered_table_streams_in_blocks():
    """N bytes through a B-byte buffer: ceil(N / B) blocks, N / rate cycles of DMA (the first
    block before the core starts, the rest overlapped), and the access unit scans its
    streams once per block."""
    buffer_bytes = 65536
    blocks = math.ceil(TABLE_BYTES / buffer_bytes)
    tmu = load_machine("tmu")
    rate = min(tmu.dma_bytes_per_cycle, tmu.dram_bytes_per_cycle)
    few = {"ids": _ids(10), "table": _table()}
    _, stats = _run(_gather("buffer"), few, buffer_bytes=buffer_bytes)
    core, = stats.kernels[0].cores
    assert core.dma_bytes == TABLE_BYTES and core.dma_cycles == round(TABLE_BYTES / rate)
    assert core.buffer_accesses == 4 * 10 and core.au_requests == 1
    # a few lookups: the run is the DMA engine's, N / rate
    assert stats.kernels[0].timings[0].cycles == pytest.approx(TABLE_BYTES / rate)
    # the access unit's work (lane-bound with one lane) is its scratchpad work times the blocks
    overrides = {"buffer_bytes": buffer_bytes, "lanes": 1, "buffer_latency_cycles": 12}
    many = {"ids": _ids(4000), "table": _table()}
    _, buffered = _run(_gather("buffer"), many, **overrides)
    _, resident = _run(_gather("scratchpad"), many, **overrides)
    au_buffered, au_resident = buffered.kernels[0].timings[0].au_busy, resident.kernels[0].timings[0].au_busy
    assert au_buffered == blocks * au_resident
    # a table that fits the buffer is one block: the same timing as the scratchpad at that latency
    _, one_block = _run(_gather("buffer"), many, **(overrides | {"buffer_bytes": TABLE_BYTES}))
    assert one_block.kernels[0].timings[0].au_busy == au_resident
    assert one_block.cycles == resident.cycles


def test_scratchpad_slots_are_per_core():
    """Three tables, one root each: a core preloads only the placed tables its roots read, and
    only those must fit its scratchpad."""
    text = multi_table_gather(3)
    lines = [line + (" place=scratchpad" if line.startswith(".slot table") else "") for line in text.splitlines()]
    model = dae_isa.serialize_model(dae_isa.assemble("\n".join(lines) + "\n"))
    feeds = schedule_cases._tables_feeds(3)
    table_bytes = feeds["table0"].nbytes          # 3000 x 24 f32 = 288,000
    _, stats = _run(model, feeds, cores=3, scratchpad_bytes=300_000)
    assert [c.dma_bytes for c in stats.kernels[0].cores] == [table_bytes] * 3
    with pytest.raises(EmulationError) as error:
        _run(model, feeds, cores=2, scratchpad_bytes=300_000)   # core 0 runs tables 0 and 2
    message = str(error.value)
    assert "\n" not in message
    assert message == (f"kernel 'gather_tables': scratchpad slots of core 0 take {2 * table_bytes:,} bytes (slot "
                       f"'table0': {table_bytes:,}), more than the 300,000 bytes of scratchpad per core of machine "
                       f"'tmu'")


def test_copies_on_one_core_load_the_scratchpad_once():
    text, slot, machine, overrides, feeds = CASES["compiled_multi_cpu"]
    _, stats = _run(_placed(text, slot, "scratchpad"), feeds, machine=machine, **overrides)
    kernel, = stats.kernels
    assert len(kernel.cores) == 4                           # 8 copies, two per core
    table = feeds["t1_table"].nbytes
    assert all(c.dma_bytes == math.ceil(table / 64) * 64 for c in kernel.cores)


def test_every_sm_of_the_gpu_loads_its_own_copy():
    text, slot, machine, overrides, feeds = CASES["compiled_multi_gpu"]
    _, stats = _run(_placed(text, slot, "scratchpad"), feeds, machine=machine, **overrides)
    kernel, = stats.kernels
    lines = math.ceil(feeds["t2_table"].nbytes / 32)
    assert len(kernel.cores) == 132 and all(c.dma_bytes == lines * 32 for c in kernel.cores)


@pytest.mark.parametrize("place, machine, overrides, message", [
    ("scratchpad", "tmu", {"scratchpad_bytes": 0}, "kernel 'gather_rows': slot 'table' is placed in the scratchpad, "
                                                  "but machine 'tmu' has none (scratchpad_bytes = 0)"),
    ("buffer", "tmu", {"buffer_bytes": 0}, "kernel 'gather_rows': slot 'table' is placed in the buffer, but machine "
                                          "'tmu' has none (buffer_bytes = 0)"),
    ("scratchpad", "tmu", {"scratchpad_bytes": 100_000},
     "kernel 'gather_rows': scratchpad slots of core 0 take 256,000 bytes (slot 'table': 256,000), more than the "
     "100,000 bytes of scratchpad per core of machine 'tmu'"),
])
def test_placement_the_machine_cannot_hold_is_one_line(place, machine, overrides, message):
    with pytest.raises(EmulationError) as error:
        _run(_gather(place), {"ids": _ids(10), "table": _table()}, machine=machine, **overrides)
    assert str(error.value) == message


def test_the_cpu_has_no_scratchpad():
    text = (KERNELS / "gather_input_cpu.dasm").read_text()
    with pytest.raises(EmulationError, match=r"^kernel '.*': slot 'table' is placed in the scratchpad, but machine "
                                             r"'cpu' has none \(scratchpad_bytes = 0\)$"):
        _run(_placed(text, "table", "scratchpad"), {"ids": _ids(10), "table": _table()}, machine="cpu")


def test_machine_parameters_are_validated():
    from ember_tf.errors import MachineError

    with pytest.raises(MachineError, match="scratchpad_bytes = 4096 needs a DMA engine"):
        load_machine("cpu").with_overrides(scratchpad_bytes=4096)
    with pytest.raises(MachineError, match="buffer_latency_cycles must not be negative"):
        load_machine("tmu").with_overrides(buffer_latency_cycles=-1)
    with pytest.raises(MachineError, match="buffer_bytes \\(32\\) must hold at least one 64-byte line"):
        load_machine("tmu").with_overrides(buffer_bytes=32)


def test_without_an_access_unit_the_core_scans_once_per_block():
    """On a machine without an access unit the core walks the ids itself, so it walks them
    once per block of a buffered table: its instruction cycles count n times."""
    text, slot, machine, overrides, feeds = CASES["eb_sum_cpu"]
    table_bytes = feeds["table"].nbytes                       # 300 x 37 f32 = 44,400
    blocks = math.ceil(math.ceil(table_bytes / 64) * 64 / 4096)
    same = overrides | {"buffer_bytes": 4096, "scratchpad_latency_cycles": 0.0, "buffer_latency_cycles": 0.0,
                        "mlp": 1 << 40}                       # core stalls vanish: busy = instructions
    _, buffered = _run(_placed(text, slot, "buffer"), feeds, machine=machine, **same)
    _, resident = _run(_placed(text, slot, "scratchpad"), feeds, machine=machine, **same)
    busy_buffered = sum(t.core_busy for t in buffered.kernels[0].timings)
    busy_resident = sum(t.core_busy for t in resident.kernels[0].timings)
    assert blocks == 11 and busy_buffered == pytest.approx(blocks * busy_resident, rel=1e-9)
