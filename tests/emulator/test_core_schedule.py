"""Operators on core ranges and the schedule (emulator/schedule.py): a kernel holds the cores
of its range until its slowest core finishes, independent kernels on disjoint ranges overlap,
kernels on the same cores and dependent operators wait; files without ranges give exactly
the statistics recorded before ranges existed."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.emulator import Interpreter
from ember_tf.emulator.schedule import Booking, schedule, sharing_cores
from ember_tf.emulator.stats import KernelStats
from ember_tf.emulator.trace import chrome_trace
from ember_tf.errors import EmulationError
from tests.emulator import schedule_cases
from tests.emulator.programs import gather_pipeline, multi_table_gather

KERNELS = pathlib.Path(__file__).resolve().parents[2] / "kernels"
RECORDED = json.loads(schedule_cases.BASELINE.read_text())
CASES = schedule_cases.cases()


def _recorded_fields_equal(old, new, path="") -> list[str]:
    """Where `new` differs from `old` on the fields `old` has (new fields are checked apart)."""
    if isinstance(old, dict):
        return [d for key in old for d in ([f"{path}/{key} missing"] if key not in new
                                           else _recorded_fields_equal(old[key], new[key], f"{path}/{key}"))]
    if isinstance(old, list):
        if len(old) != len(new):
            return [f"{path}: {len(old)} entries, now {len(new)}"]
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in _recorded_fields_equal(a, b, f"{path}[{i}]")]
    return [] if old == new else [f"{path}: {old!r}, now {new!r}"]


@pytest.mark.parametrize("mode", ["golden", "fast"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_files_without_core_ranges_keep_their_recorded_statistics(name, mode):
    """Every operator on all cores: cycles, DRAM bytes and every statistic are bit for bit
    those recorded before core ranges and the schedule existed (kernels back to back)."""
    if name.startswith("host_pipeline"):
        pytest.importorskip("tensorflow")
    _, stats = schedule_cases.run_case(CASES[name], mode)
    report = stats.to_json() | {"mode": None}
    assert not _recorded_fields_equal(RECORDED[name], report)
    machine_cores = {"tmu": 8, "cpu": 8, "gpu": 132}[CASES[name][1]]
    machine_cores = CASES[name][2].get("cores", machine_cores)
    end = 0
    for step in sorted(stats.kernels + stats.host_segments, key=lambda s: s.start_cycle):
        assert step.start_cycle == end   # one after another
        end += step.cycles
    for kernel in report["kernels"]:
        assert (kernel["core_offset"], kernel["core_count"]) == (0, machine_cores)
        assert kernel["active_cores"] == len(kernel["cores"])
        assert all(c["dma_bytes"] == c["dma_cycles"] == c["scratchpad_accesses"] == c["buffer_accesses"] == 0
                   for c in kernel["cores"])


def _gathers(cores: tuple[str, str, str], machine_file: str = "gather_input.dasm") -> bytes:
    """gather_pipeline's three gathers (a and b independent, c reads a's output) with core
    ranges on their operators."""
    text = gather_pipeline((KERNELS / machine_file).read_text())
    lines = text.splitlines()
    ops = [i for i, line in enumerate(lines) if line.startswith(".operator")]
    for i, suffix in zip(ops, cores):
        lines[i] += suffix
    return dae_isa.serialize_model(dae_isa.assemble("\n".join(lines) + "\n"))


def _feeds(seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    return {"table_a": rng.standard_normal((500, 64)).astype(np.float32),
            "table_b": rng.standard_normal((600, 64)).astype(np.float32),
            "ids_a": rng.integers(0, 500, size=400).astype(np.int32),
            "ids_b": rng.integers(0, 600, size=800).astype(np.int32),
            "ids_c": rng.integers(0, 400, size=250).astype(np.int32)}


def _run(model: bytes, feeds: dict, mode: str = "golden", machine: str = "tmu", **overrides):
    interpreter = Interpreter(model_content=model, machine=machine, mode=mode, **overrides)
    outputs = interpreter.get_signature_runner()(**feeds)
    return outputs, interpreter.last_stats


def _check_outputs(outputs, feeds):
    assert np.array_equal(outputs["out_a"], feeds["table_a"][feeds["ids_a"]])
    assert np.array_equal(outputs["out_b"], feeds["table_b"][feeds["ids_b"]])
    assert np.array_equal(outputs["out_c"], feeds["table_a"][feeds["ids_a"]][feeds["ids_c"]])


def test_independent_kernels_on_disjoint_cores_overlap():
    feeds = _feeds()
    outputs, stats = _run(_gathers((" cores=0+4", " cores=4+4", " cores=0+4")), feeds)
    _check_outputs(outputs, feeds)
    a, b, c = stats.kernels
    assert a.start_cycle == b.start_cycle == 0
    assert c.start_cycle == a.cycles                      # after a: it reads a's output, and a's cores
    assert stats.cycles == max(a.cycles + c.cycles, b.cycles)
    assert [(k.core_offset, k.core_count) for k in (a, b, c)] == [(0, 4), (4, 4), (0, 4)]
    assert [t.core_id for t in b.timings] == [4]          # one root, on the first core of its range
    # a and b may run at once: both their cores share the bandwidth; c's wave has c alone
    assert [k.active_cores for k in (a, b, c)] == [2, 2, 1]
    assert stats.kernel_cycles == a.cycles + b.cycles + c.cycles   # the sum of kernel times, not the span


def test_kernels_on_the_same_cores_run_in_turn():
    feeds = _feeds()
    outputs, stats = _run(_gathers((" cores=2+2", " cores=3+5", " cores=0+2")), feeds)
    _check_outputs(outputs, feeds)
    a, b, c = stats.kernels
    assert (a.start_cycle, b.start_cycle) == (0, a.cycles)   # core 3 is a's until a ends
    assert c.start_cycle == a.cycles                          # cores 0-1 are free; a's output is not
    assert stats.cycles == a.cycles + max(b.cycles, c.cycles)
    assert [k.active_cores for k in (a, b, c)] == [1, 1, 1]


def test_a_dependent_kernel_waits_for_its_producer_on_free_cores():
    feeds = _feeds()
    _, stats = _run(_gathers((" cores=0+2", " cores=2+2", " cores=4+4")), feeds)
    a, b, c = stats.kernels
    assert a.start_cycle == b.start_cycle == 0 and c.start_cycle == a.cycles
    assert stats.cycles == max(a.cycles + c.cycles, b.cycles)


@pytest.mark.parametrize("mode", ["golden", "fast"])
def test_the_modes_agree_on_a_schedule(mode):
    feeds = _feeds()
    model = _gathers((" cores=0+4", " cores=4+4", " cores=0+4"))
    _, golden = _run(model, feeds, "golden")
    outputs, stats = _run(model, feeds, mode)
    _check_outputs(outputs, feeds)
    assert stats.to_json() | {"mode": None} == golden.to_json() | {"mode": None}


def test_placed_tables_on_disjoint_ranges_agree_in_both_modes():
    """The fast mode emulates a wave's kernels on threads at once; with placed tables too."""
    feeds = _feeds()
    text = _gathers((" cores=0+4", " cores=4+4", " cores=0+4"))
    model = dae_isa.model_from_buffer(text)
    model.kernels[0].slots[1].placement = 1   # the table slot in the scratchpad
    data = dae_isa.serialize_model(model)
    golden_out, golden = _run(data, feeds, "golden")
    fast_out, fast = _run(data, feeds, "fast")
    _check_outputs(fast_out, feeds)
    _check_outputs(golden_out, feeds)
    assert fast.to_json() | {"mode": None} == golden.to_json() | {"mode": None}
    a, b, c = fast.kernels
    assert a.start_cycle == b.start_cycle == 0 and c.start_cycle == a.cycles
    assert [k.cores[0].dma_bytes for k in (a, b, c)] == [500 * 256, 600 * 256, 400 * 256]


def test_all_cores_equals_no_range():
    """`cores=0+8` on an 8-core machine is what no range means."""
    feeds = _feeds()
    _, ranged = _run(_gathers((" cores=0+8",) * 3), feeds)
    _, plain = _run(_gathers(("",) * 3), feeds)
    assert ranged.to_json() == plain.to_json()


def test_roots_spread_over_the_range():
    model = "\n".join(line + (" cores=5+2" if line.startswith(".operator") else "")
                      for line in multi_table_gather(3).splitlines())
    rng = np.random.default_rng(5)
    feeds = {}
    for t in range(3):
        feeds[f"table{t}"] = rng.standard_normal((300, 24)).astype(np.float32)
        feeds[f"ids{t}"] = rng.integers(0, 300, size=170).astype(np.int32)
    data = dae_isa.serialize_model(dae_isa.assemble(model))
    outputs, stats = _run(data, feeds)
    for t in range(3):
        assert np.array_equal(outputs[f"out{t}"], feeds[f"table{t}"][feeds[f"ids{t}"]])
    kernel, = stats.kernels
    assert [t.core_id for t in kernel.timings] == [5, 6]
    assert (kernel.core_offset, kernel.core_count, kernel.active_cores) == (5, 2, 2)
    # the same as the kernel on a 2-core machine, but for the core numbers
    _, two = _run(dae_isa.serialize_model(dae_isa.assemble(multi_table_gather(3))), feeds, cores=2)
    assert kernel.cycles == two.kernels[0].cycles and kernel.dram_bytes == two.kernels[0].dram_bytes
    assert [c.cycles for c in kernel.cores] == [c.cycles for c in two.kernels[0].cores]


def test_copies_spread_over_the_range():
    """A kernel the cores split by themselves (8 copies, compiled for cpu) on cores 1-3 of an
    8-core machine: copies round-robin over the range, as on a 3-core machine."""
    text = (schedule_cases.DATA / "multi_cpu.dasm").read_text()
    feeds = schedule_cases._multi_feeds()
    _, alone = _run(dae_isa.serialize_model(dae_isa.assemble(text)), feeds, machine="cpu", cores=3)
    ranged = "\n".join(line + (" cores=1+3" if line.startswith(".operator") else "") for line in text.splitlines())
    outputs, stats = _run(dae_isa.serialize_model(dae_isa.assemble(ranged)), feeds, machine="cpu")
    reference, _ = _run(dae_isa.serialize_model(dae_isa.assemble(text)), feeds, machine="cpu")
    assert all(np.array_equal(outputs[k], reference[k]) for k in reference)
    kernel, = stats.kernels
    assert [t.core_id for t in kernel.timings] == [1, 2, 3]
    assert (kernel.core_offset, kernel.core_count, kernel.active_cores) == (1, 3, 3)
    assert [c.cycles for c in kernel.cores] == [c.cycles for c in alone.kernels[0].cores]
    assert kernel.cycles == alone.kernels[0].cycles == stats.cycles


@pytest.mark.parametrize("cores", [" cores=6+4", " cores=8+1", " cores=100+1"])
def test_a_range_beyond_the_machine_is_one_line(cores):
    with pytest.raises(EmulationError) as error:
        _run(_gathers((cores, "", "")), _feeds())
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("kernel 'gather_rows' is to run on cores ") and "machine 'tmu' has 8 (0..7)" in message


def test_trace_shows_each_kernel_on_its_cores_at_its_start():
    _, stats = _run(_gathers((" cores=0+4", " cores=4+4", " cores=0+4")), _feeds())
    trace = chrome_trace(stats)
    to_us = 1.0 / (stats.clock_ghz * 1e3)
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X" and e.get("tid") == 3]
    for kernel in stats.kernels:
        mine = [e for e in spans if e["ts"] == pytest.approx(kernel.start_cycle * to_us)
                and e["dur"] == pytest.approx(kernel.cycles * to_us)]
        assert sorted(e["pid"] for e in mine) == list(range(kernel.core_offset, kernel.core_offset + kernel.core_count))
    # chunks of b lie on core 4's tracks, inside b's span
    b = stats.kernels[1]
    chunks = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["name"].startswith("gather_rows: ")
              and e["pid"] == 4]
    assert chunks and all(b.start_cycle * to_us <= e["ts"] <= (b.start_cycle + b.cycles) * to_us for e in chunks)


def test_host_segments_hold_every_core():
    pytest.importorskip("tensorflow")
    text = schedule_cases.host_pipeline_text(schedule_cases.host_graph())
    text = text.replace(".operator kernel 0 inputs=[0, 1] outputs=[2]", ".operator kernel 0 inputs=[0, 1] outputs=[2] "
                                                                          "cores=0+4")
    text = text.replace(".operator kernel 0 inputs=[4, 1] outputs=[5]", ".operator kernel 0 inputs=[4, 1] outputs=[5] "
                                                                          "cores=4+4")
    text = text.replace(".operator kernel 0 inputs=[6, 3] outputs=[7]", ".operator kernel 0 inputs=[6, 3] outputs=[7] "
                                                                          "cores=6+1")
    model = dae_isa.serialize_model(dae_isa.assemble(text))
    feeds = schedule_cases._host_feeds()
    outputs, stats = _run(model, feeds)
    first, second, last = stats.kernels
    host, = stats.host_segments
    assert first.start_cycle == second.start_cycle == 0
    assert host.start_cycle == max(first.cycles, second.cycles)   # every core free
    assert last.start_cycle == host.start_cycle + host.cycles
    assert stats.cycles == last.start_cycle + last.cycles
    assert np.array_equal(outputs["out3"], outputs["y"][feeds["ids3"]])


def _step(cycles: int) -> KernelStats:
    return KernelStats("k", cycles, 0, False, [])


def test_schedule_rules():
    """List scheduling in file order: free cores, read-after-write, write-after-read."""
    steps = [_step(c) for c in (10, 5, 7, 3, 4)]
    bookings = [
        Booking(steps[0], frozenset({0}), frozenset({1}), 0, 2),   # writes 1 on cores 0-1
        Booking(steps[1], frozenset({0}), frozenset({2}), 2, 2),   # independent, cores 2-3: at 0
        Booking(steps[2], frozenset({0, 2}), frozenset({3}), 0, 1),   # reads 2 (ends 5) on core 0 (free at 10)
        Booking(steps[3], frozenset({5}), frozenset({0}), 3, 1),   # writes 0, which 0-2 read: after 17
        Booking(steps[4], frozenset({1}), frozenset({6}), 2, 1),   # reads 1 (ends 10) on core 2 (free at 5)
    ]
    assert schedule(4, bookings) == 20
    assert [s.start_cycle for s in steps] == [0, 0, 10, 17, 10]


def test_sharing_rule():
    # (first core, range, cores used)
    assert sharing_cores([(0, 8, 3), (0, 8, 8)]) == [3, 8]               # all-core kernels: their own
    assert sharing_cores([(0, 4, 2), (4, 4, 4), (0, 8, 1)]) == [6, 6, 1]   # disjoint ranges add up
    assert sharing_cores([(0, 4, 4), (2, 4, 1), (6, 2, 2)]) == [6, 3, 6]   # 0-3 and 2 overlap: 0-3, 6-7
