"""The cpu machine's multi-core mapping: without an access unit, split_cores makes a
kernel whose top-level loops write private rows run as one copy per core, each
bounding the loops to its share. Results equal numpy on any number of cores (copies
beyond the cores run in turn), golden equals fast, and cycles fall with cores."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.emulator import Interpreter
from ember_tf.ir import embedding_ops as E
from tests.compiler.helpers import bag_inputs, bag_reference, gather_inputs


def _copies(data: bytes) -> int:
    return dae_isa.model_from_buffer(data).kernels[0].copies


def _run(data: bytes, feeds: dict, cores: int, mode: str = "fast"):
    interpreter = Interpreter(model_content=data, machine="cpu", mode=mode, cores=cores)
    return interpreter.get_signature_runner()(**feeds)["out"], interpreter.last_stats


@pytest.mark.parametrize("cores", [1, 2, 3, 8])
@pytest.mark.parametrize("combiner", ["sum", "mean"])
def test_bag_copies_equal_numpy_on_any_core_count(cores, combiner):
    data = compile_model(E.embedding_bag(37, combiner), CompileOptions(target="cpu", opt_level=3))
    assert _copies(data) == 8                        # the cpu machine file has eight cores
    feeds = bag_inputs(4, 37, weighted=False, rows=50)
    got, stats = _run(data, feeds, cores)
    np.testing.assert_allclose(got, bag_reference(feeds, combiner), rtol=1e-6, atol=1e-6)
    assert len(stats.kernels[0].cores) == min(cores, 8)


def test_gather_copies_golden_equals_fast():
    data = compile_model(E.gather(20), CompileOptions(target="cpu", opt_level=3))
    feeds = gather_inputs(2, 20, n=29)
    fast, fast_stats = _run(data, feeds, 3)
    golden, golden_stats = _run(data, feeds, 3, mode="golden")
    np.testing.assert_array_equal(fast, feeds["table"][feeds["ids"]])
    np.testing.assert_array_equal(golden, fast)
    assert fast_stats.to_json() | {"mode": None} == golden_stats.to_json() | {"mode": None}


def test_segment_sums_are_not_split():
    """Rows chosen by data (segment ids) would race between copies."""
    data = compile_model(E.segment_sum(16), CompileOptions(target="cpu", opt_level=3))
    assert _copies(data) == 1


def test_split_cores_disabled_gives_one_copy():
    data = compile_model(E.embedding_bag(16), CompileOptions(target="cpu", opt_level=3, disable_pass=("split_cores",)))
    assert _copies(data) == 1


def test_cycles_fall_with_cores():
    """A memory-latency-bound bag: each cpu core keeps its own misses in flight, so eight
    cores take at most a quarter of one core's cycles (the floor of the baselines issue)."""
    data = compile_model(E.embedding_bag(64), CompileOptions(target="cpu", opt_level=3))
    rng = np.random.default_rng(0)
    feeds = {"table": rng.standard_normal((20_000, 64)).astype(np.float32),
             "indices": rng.integers(0, 20_000, 64 * 16).astype(np.int32),
             "offsets": np.arange(0, 64 * 16 + 1, 16, dtype=np.int32)}
    cycles = {cores: _run(data, feeds, cores)[1].cycles for cores in (1, 8)}
    assert cycles[8] <= cycles[1] / 4, cycles


def test_copies_round_trip_through_assembly():
    data = compile_model(E.embedding_bag(16), CompileOptions(target="cpu", opt_level=3))
    text = dae_isa.disassemble(dae_isa.model_from_buffer(data))
    assert re.search(r'^\.kernel "\w+" version=3 copies=8$', text, re.M)
    assert re.search(r"^\.param p\d+ copy$", text, re.M)
    again = dae_isa.serialize_model(dae_isa.assemble(text))
    assert dae_isa.disassemble(dae_isa.model_from_buffer(again)) == text
