"""What the fast mode does to go fast changes nothing: scratch arrays reused from run to
run (and grown, with a rerun, when short), instructions run in pairs, the timing model's
compiled passes, huge pages under the tables. Each is checked against the plain way."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.emulator import Interpreter, fast, timing
from ember_tf.emulator import interpreter as interpreter_module
from ember_tf.emulator.activity import AddressMap, CoreActivity
from ember_tf.errors import EmulationError
from ember_tf.ir import embedding_ops

KERNELS = pathlib.Path(__file__).resolve().parents[2] / "kernels"


def _eb_sum_model() -> bytes:
    path = KERNELS / "eb_sum.dasm"
    return dae_isa.serialize_model(dae_isa.assemble(path.read_text(), str(path)))


def _bags(seed: int, bags: int, rows: int, dim: int, max_len: int = 9) -> dict:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, max_len + 1, size=bags)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return {"table": rng.standard_normal((rows, dim)).astype(np.float32),
            "indices": rng.integers(0, rows, size=int(offsets[-1])).astype(np.int32), "offsets": offsets}


def _run(model: bytes, feeds: dict, machine: str = "tmu", mode: str = "fast", **options):
    interpreter = Interpreter(model_content=model, machine=machine, mode=mode, **options)
    outputs = interpreter.get_signature_runner()(**feeds)
    return outputs, interpreter.last_stats.to_json() | {"mode": None}


def _same(a, b) -> None:
    assert a[0].keys() == b[0].keys()
    for key in a[0]:
        assert a[0][key].dtype == b[0][key].dtype
        assert np.array_equal(a[0][key].view(np.uint8), b[0][key].view(np.uint8)), key
    assert a[1] == b[1]


@pytest.fixture(scope="module")
def compiled():
    cache = {}

    def model(target: str, dim: int) -> bytes:
        if (target, dim) not in cache:
            cache[target, dim] = compile_model(embedding_ops.embedding_bag(dim, "sum"),
                                               CompileOptions(target=target, opt_level=3))
        return cache[target, dim]

    return model


# -- workspaces -------------------------------------------------------------------------

def test_one_interpreter_across_sizes_equals_fresh_ones():
    """Workspaces (queue, scratch, logs) outlive a run; one sized for a big run serves a small
    one and grows for a bigger one."""
    model = _eb_sum_model()
    interpreter = Interpreter(model_content=model)
    runner = interpreter.get_signature_runner()
    for seed, bags, dim in ((1, 40, 37), (2, 3, 37), (3, 0, 16), (4, 120, 37), (5, 40, 150), (6, 2, 16)):
        feeds = _bags(seed, bags, rows=60, dim=dim)
        again = runner(**feeds), interpreter.last_stats.to_json() | {"mode": None}
        _same(again, _run(model, feeds))


@pytest.mark.parametrize("target, dim", [("tmu", 16), ("tmu", 150), ("cpu", 150), ("cpu", 16)])
def test_short_workspaces_rerun_to_the_same_result(compiled, monkeypatch, target, dim):
    """Every core run gets a workspace too small for its queue and its access log, so the
    access unit and the core both run again, the core from the tensors it started from
    (D = 150 reads the output rows it accumulates in; cpu runs copies as cores 1..7)."""
    feeds = _bags(7, 50, rows=80, dim=dim)
    golden = _run(compiled(target, dim), feeds, machine=target, mode="golden")

    def tiny(enc):
        enc.queue_capacity, enc.log_capacity = (1, 1, 1, 1), 1
        return fast._Workspace(enc)

    monkeypatch.setattr(fast._Encoded, "take_workspace", tiny)
    _same(_run(compiled(target, dim), feeds, machine=target), golden)


def test_which_kernels_read_their_outputs(compiled):
    """Only a core that loads from an output needs its starting outputs copied for a rerun."""
    machine = Interpreter(model_content=compiled("tmu", 16)).machine
    for dim, reads in ((16, False), (150, True)):
        program = Interpreter(model_content=compiled("tmu", dim)).kernels[0]
        assert fast._encoded(program, machine).core_reads_outputs is reads


def test_run_fast_core_activity_is_its_own():
    """run_fast_core's CoreActivity does not share the workspace the next run writes."""
    interpreter = Interpreter(model_content=_eb_sum_model())
    program, machine = interpreter.kernels[0], interpreter.machine
    activities = []
    for seed in (1, 2):
        feeds = _bags(seed, 30, rows=40, dim=16)
        out = np.zeros((30, 16), np.float32)
        arrays = [feeds["table"], feeds["indices"], feeds["offsets"], out]
        addresses = interpreter_module._AddressSpace()
        address_map = AddressMap(
            base=np.array([addresses.base(i, a) for i, a in enumerate(arrays)], np.int64),
            itemsize=np.array([a.itemsize for a in arrays], np.int64), line_bytes=machine.line_bytes)
        activity = fast.run_fast_core(program, machine, arrays, [30, 16], program.roots, ["a", "b", "c", "d"],
                                      address_map, 0)
        activities.append((activity, activity.owned()))
    first, kept = activities[0]
    for name, value in vars(kept).items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(getattr(first, name), value), name


# -- instructions run in pairs ------------------------------------------------------------

def _unfused(monkeypatch):
    monkeypatch.setattr(fast, "_fused", lambda code, pc: fast.FUSED_NONE)


@pytest.mark.parametrize("dim", [16, 37, 150])
def test_fused_pairs_change_nothing(monkeypatch, compiled, dim):
    feeds = _bags(9, 30, rows=50, dim=dim)
    for model in (_eb_sum_model(), compiled("tmu", dim)):
        fused = _run(model, feeds)
        interpreter = Interpreter(model_content=model)
        assert any(fast._encoded(p, interpreter.machine).exe_fused.any() for p in interpreter.kernels)
        with monkeypatch.context() as patch:
            _unfused(patch)
            _same(fused, _run(model, feeds))


def _fault(model: bytes, feeds: dict, limit: int) -> str:
    try:
        _run(model, feeds, max_instructions=limit)
    except EmulationError as error:
        return str(error)
    return "ran to completion"


def test_fused_pairs_stop_at_the_same_instruction(monkeypatch, compiled):
    """A step limit that falls on either instruction of a pair stops the core at the same pc
    as when they run one at a time."""
    feeds = _bags(10, 6, rows=20, dim=37, max_len=4)
    for model in (_eb_sum_model(), compiled("tmu", 37)):
        limits = list(range(0, 160)) + [400, 10_000]
        fused = [_fault(model, feeds, limit) for limit in limits]
        with monkeypatch.context() as patch:
            _unfused(patch)
            assert [_fault(model, feeds, limit) for limit in limits] == fused
        assert sum("without halting" in message for message in fused) > 40 and fused[-1] == "ran to completion"


# -- the timing model -------------------------------------------------------------------

def _reference_time_core(activity: CoreActivity, machine, active_cores: int) -> dict:
    """timing.time_core as numpy and plain Python, step by step as first written (the
    compiled passes must give the same floats)."""
    line = machine.line_bytes
    bw_share = machine.dram_bytes_per_cycle / max(1, active_cores)
    entry_chunk = np.cumsum(np.concatenate([[0], activity.entry_bytes]))[:-1] // machine.queue_chunk_bytes
    n_chunks = int(entry_chunk[-1]) + 1 if len(entry_chunk) else 1

    def chunk_of(entry):
        return 0 if entry < 0 else n_chunks - 1 if entry >= len(entry_chunk) else int(entry_chunk[entry])

    def coalesce(streams, lines):
        previous, keep = {}, []
        for stream, at in zip(streams.tolist(), lines.tolist()):
            keep.append(previous.get(stream) != at)
            previous[stream] = at
        return np.array(keep, dtype=bool)

    def recency(lines, window):
        last, hit = {}, []
        for i, at in enumerate(lines.tolist()):
            hit.append(at in last and i - last[at] <= window)
            last[at] = i
        return hit

    iterations, hits, misses, core, fill = (np.zeros(n_chunks) for _ in range(5))
    for e in range(len(entry_chunk)):
        iterations[entry_chunk[e]] += activity.entry_iterations[e]
        fill[entry_chunk[e]] += activity.entry_bytes[e]
    iterations[n_chunks - 1] += activity.trailing_iterations
    kept = coalesce(activity.au_stream, activity.au_line)
    requests, request_entry = activity.au_line[kept], activity.au_entry[kept]
    llc_hit = recency(requests, machine.llc_bytes // line)
    for i in range(len(requests)):
        (hits if llc_hit[i] else misses)[chunk_of(request_entry[i])] += 1
    for token, cycles in zip(activity.core_token, activity.core_cycles):
        core[chunk_of(token)] += cycles
    keep = coalesce(activity.access_store.astype(np.int64), activity.access_line)
    lines, stores, tokens = activity.access_line[keep], activity.access_store[keep], activity.access_token[keep]
    l1_hit, llc_hit_core = recency(lines, machine.l1_bytes // line), recency(lines, machine.llc_bytes // line)
    loads = l1_hits = core_dram_reads = 0
    for i in range(len(lines)):
        if stores[i]:
            continue
        loads += 1
        if l1_hit[i]:
            l1_hits += 1
            continue
        core_dram_reads += 0 if llc_hit_core[i] else 1
        core[chunk_of(tokens[i])] += (machine.llc_latency_cycles if llc_hit_core[i]
                                      else machine.dram_latency_cycles) / machine.mlp
    written_lines = len(set(lines[stores].tolist()))
    au = np.maximum.reduce([
        iterations / (machine.lanes * machine.au_elements_per_lane_cycle),
        misses * machine.dram_latency_cycles / machine.outstanding_requests,
        misses * line / bw_share,
        hits * machine.llc_latency_cycles / machine.outstanding_requests,
    ]) if machine.has_access_unit else np.zeros(n_chunks)
    startup = machine.dram_latency_cycles if machine.has_access_unit and misses.sum() else 0.0
    au_start, au_end, core_start, core_end = (np.zeros(n_chunks) for _ in range(4))
    previous_au, previous_core = float(startup), 0.0
    for k in range(n_chunks):
        free = core_end[k - machine.queue_chunks] if k >= machine.queue_chunks else 0.0
        au_start[k] = max(previous_au, free)
        au_end[k] = previous_au = au_start[k] + au[k]
        core_start[k] = max(previous_core, au_end[k])
        core_end[k] = previous_core = core_start[k] + core[k]
    dram_reads = int(misses.sum()) + core_dram_reads
    # Write-back LLC: the core's share holds llc/active_cores lines; allocations past it evict,
    # stored lines in proportion.
    allocations, share = written_lines + dram_reads, machine.llc_bytes // line // active_cores
    written_back = round(written_lines * (allocations - share) / allocations) if allocations > share else 0
    dram_bytes = (dram_reads + written_back) * line
    cycles = max(float(core_end[-1]), float(au_end[-1]), dram_bytes / bw_share)
    return dict(
        core_id=activity.core_id, cycles=cycles, au_busy=float(au.sum()),
        au_stalled=float((au_start - np.concatenate(([startup], au_end[:-1]))).sum()),
        core_busy=float(core.sum()), core_stalled=float(cycles - core.sum()), au_requests=len(requests),
        llc_hits=int(np.count_nonzero(llc_hit)), dram_reads=dram_reads, core_loads=loads, core_l1_hits=l1_hits,
        dram_writes=written_back, dram_bytes=dram_bytes, queue_bytes=int(activity.entry_bytes.sum()),
        chunks=n_chunks, callbacks=activity.callbacks, counts=activity.counts, chunk_au_start=au_start,
        chunk_au_end=au_end, chunk_core_start=core_start, chunk_core_end=core_end, chunk_fill=fill,
        # no placed slots (tests/emulator/test_placement.py times those)
        dma_bytes=0, dma_cycles=0.0, scratchpad_accesses=0, buffer_accesses=0, hot_accesses=0,
        au_dram_reads=int(misses.sum()), stored_lines=written_lines)


def _assert_timing_as_reference(activity, machine, active_cores) -> None:
    got = vars(timing.time_core(activity, machine, active_cores))
    want = _reference_time_core(activity, machine, active_cores)
    assert got.keys() == want.keys()
    for name, value in want.items():
        if isinstance(value, np.ndarray):
            assert got[name].dtype == value.dtype and np.array_equal(got[name].view(np.uint8),
                                                                     value.view(np.uint8)), name
        else:
            assert type(got[name]) is type(value) and got[name] == value, name


@pytest.mark.parametrize("mode", ["fast", "golden"])
@pytest.mark.parametrize("target, dim", [("tmu", 37), ("cpu", 150), ("tmu", 150)])
def test_time_core_as_first_written_on_real_runs(monkeypatch, compiled, mode, target, dim):
    seen = []

    def checked(activity, machine, active_cores):
        _assert_timing_as_reference(activity, machine, active_cores)
        seen.append(activity.core_id)
        return timing.time_core(activity, machine, active_cores)

    monkeypatch.setattr(fast, "time_core", checked)
    monkeypatch.setattr(interpreter_module, "time_core", checked)
    _run(compiled(target, dim), _bags(11, 40, rows=70, dim=dim), machine=target, mode=mode)
    assert len(seen) == 8


@pytest.mark.parametrize("seed", range(12))
def test_time_core_as_first_written_on_made_up_activities(seed):
    """Tokens before the first entry and past the last, several streams interleaved, lines
    met again inside and outside the cache windows, stores, empty logs, no access unit."""
    rng = np.random.default_rng(seed)
    machine = Interpreter(model_content=_eb_sum_model()).machine
    if seed % 3 == 2:
        machine = machine.with_overrides(llc_bytes=64 * 40, l1_bytes=64 * 8, queue_chunk_bytes=256)
    if seed % 4 == 3:
        machine = Interpreter(model_content=_eb_sum_model(), machine="cpu").machine
    n = int(rng.integers(0, 300))
    n_log = int(rng.integers(0, 900)) if seed % 5 else 0
    n_acc = int(rng.integers(0, 400))
    tokens = int(rng.integers(0, n + 2))
    activity = CoreActivity(
        core_id=seed, entry_bytes=rng.choice([4, 8, 72, 136, 264, 520], size=n).astype(np.int64),
        entry_iterations=rng.integers(0, 40, size=n), trailing_iterations=int(rng.integers(0, 30)),
        au_entry=np.sort(rng.integers(-1, n + 3, size=n_log)), au_stream=rng.integers(0, 5, size=n_log),
        au_line=rng.integers(100, 100 + max(1, n_log // 3), size=n_log),
        core_token=np.sort(rng.choice(np.arange(-1, n + 2), size=min(tokens, n + 3), replace=False)),
        core_cycles=rng.random(min(tokens, n + 3)) * rng.choice([1.0, 7.5, 1e-3]),
        access_token=np.sort(rng.integers(-1, n + 2, size=n_acc)), access_line=rng.integers(0, 60, size=n_acc),
        access_store=rng.random(n_acc) < 0.3, counts={"vector": n}, callbacks=tokens)
    _assert_timing_as_reference(activity, machine, int(rng.integers(1, 9)))


# -- huge pages -----------------------------------------------------------------------------

def test_huge_pages_hint_leaves_the_data_alone():
    data = np.random.default_rng(0).standard_normal(3 << 20).astype(np.float32)  # 12 MiB
    table = np.frombuffer(data.tobytes(), np.float32)
    before = table.copy()
    interpreter_module._huge_pages_for(table)
    interpreter_module._huge_pages_for(table)  # asked once only
    interpreter_module._huge_pages_for(table[:10])  # too small to ask for
    assert np.array_equal(table, before)
