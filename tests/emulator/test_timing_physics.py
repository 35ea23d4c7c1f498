"""The timing model obeys physics: no run beats DRAM bandwidth, no access unit
beats Little's law, cold misses cost at least the distinct rows, and cores
help until they share out the DRAM bandwidth."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.emulator import Interpreter
from tests.emulator.programs import multi_table_gather

TABLES, ROWS, IDS, DIM = 8, 5000, 96, 64


@pytest.fixture(scope="module")
def model():
    return dae_isa.serialize_model(dae_isa.assemble(multi_table_gather(TABLES)))


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(1)
    feeds = {}
    for t in range(TABLES):
        feeds[f"table{t}"] = rng.standard_normal((ROWS, DIM)).astype(np.float32)
        feeds[f"ids{t}"] = rng.integers(0, ROWS, size=IDS).astype(np.int32)
    return feeds


def run(model, inputs, **machine):
    interpreter = Interpreter(model_content=model, **machine)
    interpreter.get_signature_runner()(**inputs)
    return interpreter.last_stats


MACHINES = [
    {},
    {"dram_bandwidth_gbps": 10.0},
    {"dram_latency_ns": 400.0, "cores": 1},
    {"outstanding_requests": 4, "cores": 2},
    {"llc_bytes": 4096, "cores": 3},
]


@pytest.mark.parametrize("machine", MACHINES, ids=[str(m) for m in MACHINES])
def test_no_run_beats_dram_bandwidth(model, inputs, machine):
    stats = run(model, inputs, **machine)
    bytes_per_cycle = stats.peak_bandwidth_gbps / stats.clock_ghz
    assert stats.cycles >= stats.dram_bytes / bytes_per_cycle
    for kernel in stats.kernels:
        for core in kernel.cores:
            assert core.cycles >= core.dram_bytes / bytes_per_cycle


@pytest.mark.parametrize("outstanding, latency_ns", [(128, 90.0), (16, 90.0), (128, 400.0), (4, 30.0)])
def test_access_unit_obeys_littles_law(model, inputs, outstanding, latency_ns):
    stats = run(model, inputs, cores=1, dram_bandwidth_gbps=100000.0, outstanding_requests=outstanding,
                dram_latency_ns=latency_ns, llc_bytes=64 * 64)
    core = stats.kernels[0].cores[0]
    limit = outstanding * 64 / (latency_ns * stats.clock_ghz)  # bytes per cycle
    assert core.dram_read_bytes / core.cycles <= limit * (1 + 1e-9)


def test_cold_cache_reads_every_distinct_row(model, inputs):
    stats = run(model, inputs)
    distinct = sum(len(np.unique(inputs[f"ids{t}"])) for t in range(TABLES))
    reads = sum(core.dram_read_bytes for kernel in stats.kernels for core in kernel.cores)
    assert reads >= distinct * DIM * 4
    stored = sum(core.stored_bytes for kernel in stats.kernels for core in kernel.cores)
    assert stored == TABLES * IDS * DIM * 4
    # the outputs (192 KiB) stay in the write-back LLC (32 MiB) for what reads them next
    assert stats.dram_bytes == reads


@pytest.mark.parametrize("llc_lines", [64, 1024, 4096])
def test_outputs_past_the_llc_share_are_written_back(model, inputs, llc_lines):
    """A write-back LLC writes a stored line to DRAM when it evicts it: with a core's share
    of the LLC smaller than what the core allocates, at least the excess of stored lines over
    the share reaches DRAM, and never more than were stored."""
    stats = run(model, inputs, llc_bytes=64 * llc_lines)
    for kernel in stats.kernels:
        share = llc_lines // kernel.active_cores
        for core in kernel.cores:
            stored, written = core.stored_bytes // 64, core.dram_write_bytes // 64
            assert max(0, stored - share) <= written <= stored
            assert core.dram_bytes == core.dram_read_bytes + core.dram_write_bytes


def test_reused_rows_hit_the_cache(model, inputs):
    hot = {k: (np.zeros_like(v) if k.startswith("ids") else v) for k, v in inputs.items()}
    cold = run(model, inputs)
    warm = run(model, hot)
    assert sum(c.dram_read_bytes for c in warm.kernels[0].cores) < sum(c.dram_read_bytes for c in cold.kernels[0].cores)
    assert min(c.llc_hit_rate for c in warm.kernels[0].cores) > 0.9


def test_cores_help_until_bandwidth_is_shared_out(model):
    # 1,000 rows read per table at half the tmu's bandwidth: 8 cores need more bytes per cycle
    # than DRAM gives (the rows written stay in the LLC, so reads alone must saturate it)
    rng = np.random.default_rng(1)
    inputs = {}
    for t in range(TABLES):
        inputs[f"table{t}"] = rng.standard_normal((ROWS, DIM)).astype(np.float32)
        inputs[f"ids{t}"] = rng.integers(0, ROWS, size=1000).astype(np.int32)
    bandwidth = 102.4
    runs = {n: run(model, inputs, cores=n, dram_bandwidth_gbps=bandwidth) for n in (1, 2, 4, 8)}
    cycles = {n: s.cycles for n, s in runs.items()}
    print("cycles by cores:", cycles)
    assert cycles[1] > 1.5 * cycles[2] > 1.5 * 1.5 * cycles[4]  # compute-bound: cores help
    floor = runs[8].dram_bytes / (bandwidth / runs[8].clock_ghz)
    assert cycles[8] <= floor * 1.05  # bandwidth-bound: within 5% of bytes / bandwidth
    assert cycles[8] > cycles[4] / 1.1  # and more cores stop helping


def _gpu_bag(rows: int, batch: int, pooling: int):
    from ember_tf.compiler import CompileOptions, compile_model
    from ember_tf.ir import embedding_ops

    rng = np.random.default_rng(5)
    feeds = {"table": rng.standard_normal((rows, DIM)).astype(np.float32),
             "indices": rng.integers(0, rows, batch * pooling).astype(np.int32),
             "offsets": np.arange(0, batch * pooling + 1, pooling, dtype=np.int32)}
    return compile_model(embedding_ops.embedding_bag(DIM), CompileOptions(target="gpu")), feeds


@pytest.mark.parametrize("overrides", [{}, {"mlp": 16}, {"dram_bandwidth_gbps": 500.0}, {"cores": 7}],
                         ids=["h100", "few warps", "slow hbm", "7 sms"])
def test_gpu_obeys_bandwidth_and_littles_law(overrides):
    """Gathered rows from a table far past the L2: no SM set beats HBM bandwidth, nor keeps more
    sectors in flight than its resident warps allow (SMs x mlp x 32 B / latency); the kernel
    launch is paid once per kernel."""
    model, feeds = _gpu_bag(rows=400_000, batch=264, pooling=16)
    base = Interpreter(model_content=model, machine="gpu", llc_bytes=4096, kernel_launch_cycles=0, **overrides)
    base.get_signature_runner()(**feeds)
    stats, machine = base.last_stats, base.machine
    seconds = stats.cycles / (machine.clock_ghz * 1e9)
    assert stats.dram_bytes / seconds <= machine.dram_bandwidth_gbps * 1e9 * 1.0001
    sms = min(machine.cores, 264)
    in_flight = sms * machine.mlp * machine.line_bytes / (machine.dram_latency_ns * 1e-9)
    reads = sum(core.dram_read_bytes for kernel in stats.kernels for core in kernel.cores)   # writes do not wait
    assert reads / seconds <= in_flight * 1.0001
    launched = Interpreter(model_content=model, machine="gpu", llc_bytes=4096, **overrides)
    launched.get_signature_runner()(**feeds)
    assert launched.last_stats.cycles == stats.cycles + round(launched.machine.kernel_launch_cycles)
