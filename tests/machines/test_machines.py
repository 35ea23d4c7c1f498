"""Machine descriptions: every shipped parameter cites its source; overrides, paths and
malformed files."""

from __future__ import annotations

import pytest

from ember_tf.errors import EmulationError, MachineError
from ember_tf.machines import MACHINES_DIR, load_machine


def test_machine_files_document_every_parameter():
    for name in ("tmu", "cpu", "gpu"):
        assert load_machine(name).name == name
        text = (MACHINES_DIR / f"{name}.toml").read_text()
        for line in text.splitlines():
            if "=" in line and not line.startswith(("#", "[", "name")):
                assert "#" in line, f"{name}.toml: parameter without its source: {line}"
    tmu = load_machine("tmu")
    assert tmu.lanes == 8 and tmu.outstanding_requests == 128 and tmu.lane_storage_bytes == 2048
    assert load_machine("tmu").has_access_unit and not load_machine("cpu").has_access_unit


def test_machine_overrides_and_paths(tmp_path):
    machine = load_machine("tmu").with_overrides(cores=7, dram_latency_ns=50.0, cost_vector=3)
    assert machine.cores == 7 and machine.dram_latency_ns == 50.0 and machine.costs.vector == 3.0
    with pytest.raises(MachineError, match="unknown instruction group"):
        load_machine("tmu").with_overrides(cost_teleport=1)
    with pytest.raises(MachineError, match="unknown machine parameter"):
        load_machine("tmu").with_overrides(warp_drive=1)
    custom = tmp_path / "mine.toml"
    custom.write_text((MACHINES_DIR / "tmu.toml").read_text().replace(
        "cores = 8", "cores = 3"))
    assert load_machine(str(custom)).cores == 3
    (tmp_path / "broken.toml").write_text("cores = [")
    with pytest.raises(MachineError, match="broken.toml"):
        load_machine(str(tmp_path / "broken.toml"))


def test_an_unknown_machine_names_the_known_ones():
    with pytest.raises(MachineError, match=r"unknown machine 'tpu' \(known: cpu, gpu, tmu"):
        load_machine("tpu")
    assert issubclass(MachineError, EmulationError)   # what callers caught before machines had a layer


def test_core_local_memories(tmp_path):
    """Scratchpad, unified buffer and DMA engine: cited in every machine file, and a machine
    file written before them still loads (without them)."""
    tmu, cpu, gpu = (load_machine(n) for n in ("tmu", "cpu", "gpu"))
    assert (tmu.scratchpad_bytes, tmu.buffer_bytes) == (1 << 20, 256 << 10)   # an Ascend-910-class AI core
    assert tmu.dma_bandwidth_gbps == tmu.dram_bandwidth_gbps / tmu.cores     # each core's share of DRAM
    assert cpu.scratchpad_bytes == cpu.buffer_bytes == 0
    assert gpu.scratchpad_bytes == 228 * 1024 and gpu.buffer_bytes == 0      # H100 shared memory per SM
    assert abs(gpu.dma_bandwidth_gbps - gpu.dram_bandwidth_gbps / gpu.cores) < 0.05
    for machine in (tmu, gpu):
        assert machine.scratchpad_latency_cycles > 0 and isinstance(machine.scratchpad_latency_cycles, float)
    old = "\n".join(line for line in (MACHINES_DIR / "tmu.toml").read_text().splitlines()
                    if not line.startswith(("scratchpad_", "buffer_", "dma_")))
    (tmp_path / "old.toml").write_text(old)
    before = load_machine(str(tmp_path / "old.toml"))
    assert before.scratchpad_bytes == before.buffer_bytes == 0 and before.dma_bandwidth_gbps == 0.0
    with pytest.raises(MachineError, match="scratchpad_bytes = 1024 needs a DMA engine"):
        before.with_overrides(scratchpad_bytes=1024)
    assert before.with_overrides(scratchpad_bytes=1024, dma_bandwidth_gbps=10.0).scratchpad_bytes == 1024


def _lru_write_backs(stream: list[tuple[int, bool]], capacity: int) -> int:
    """Dirty lines an LRU cache of `capacity` lines evicts over a stream of (line, is_store)."""
    from collections import OrderedDict
    cache: OrderedDict[int, bool] = OrderedDict()
    evicted = 0
    for line, store in stream:
        dirty = cache.pop(line, False) or store
        cache[line] = dirty
        if len(cache) > capacity:
            evicted += cache.popitem(last=False)[1]
    return evicted


@pytest.mark.parametrize("stored, read, cores", [(100, 0, 1), (5000, 0, 1), (5000, 0, 8), (3000, 9000, 2),
                                                 (200, 200, 1)])
def test_the_llc_writes_back_what_it_evicts(stored, read, cores):
    """Stored lines reach DRAM only when the write-back LLC evicts them: none while the core's
    share holds everything it allocated, and, with stores spread evenly among the reads, the
    same count as an LRU cache of the share's lines (within 2% of the stored lines)."""
    machine = load_machine("tmu").with_overrides(llc_bytes=64 * 4096)
    total = stored + read
    # every line new; line i is a store when it brings the stores so far up to i * stored / total
    stream = [(i, (i + 1) * stored // total > i * stored // total) for i in range(total)]
    assert sum(s for _, s in stream) == stored
    got = machine.written_back_lines(stored, read, cores)
    want = _lru_write_backs(stream, 4096 // cores)
    assert abs(got - want) <= 0.02 * stored + 1
    if total <= 4096 // cores:
        assert got == 0
