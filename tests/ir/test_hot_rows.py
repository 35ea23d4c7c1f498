"""Hot-row remapping (ir/hot_rows.py): every kernel that gathers table rows by id computes
the same outputs through the remap and the extended table, in both emulation modes, with the
hot rows served by the hot-row storage; an out-of-range id still faults; kernels that do not
read the table at loaded ids are left alone."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.emulator import Interpreter
from ember_tf.errors import EmulationError
from ember_tf.ir import embedding_ops
from ember_tf.ir.hot_rows import REMAP, hot_remapped, remappable
from tests.emulator.schedule_cases import _kernel_feeds

DIM = 16
KERNELS = {
    "gather_input": lambda: embedding_ops.gather(DIM, name="gather_input"),
    "eb_sum": lambda: embedding_ops.embedding_bag(DIM, "sum"),
    "eb_weighted_mean": lambda: embedding_ops.embedding_bag(DIM, "mean", weighted=True),
    "segment_sum:input": lambda: embedding_ops.segment_sum(DIM, segments="input"),
    "spmm_csr": lambda: embedding_ops.spmm_csr(DIM),
}


def _hot(table: np.ndarray, hot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The extended table (hot rows first) and the remap, as the converter lays them out."""
    remap = np.arange(len(hot), len(hot) + table.shape[0])
    remap[hot] = np.arange(len(hot))
    return np.concatenate([table[hot], table]), remap.astype(np.int32)


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("mode", ["golden", "fast"])
def test_remapped_kernels_compute_the_same_outputs(name, mode):
    func = KERNELS[name]()
    table_arg = func.arg_names[0]
    feeds = _kernel_feeds(name.split(":")[0], DIM)
    if name == "segment_sum:input":
        feeds["num_segments"] = np.array([300], np.int32)
    plain = Interpreter(model_content=compile_model(func), mode=mode)
    want = plain.get_signature_runner()(**feeds)
    hot_ids = np.array([5, 17, 42, 299, 0])
    extended, remap = _hot(feeds[table_arg], hot_ids)
    options = CompileOptions(placements=((table_arg, f"hot:{len(hot_ids)}"), (REMAP, "hot")))
    remapped = hot_remapped(func, table_arg)
    assert remapped.arg_names[1] == REMAP and REMAP not in func.arg_names      # func itself is unchanged
    interpreter = Interpreter(model_content=compile_model(remapped, options), mode=mode)
    got = interpreter.get_signature_runner()(**feeds | {table_arg: extended, REMAP: remap})
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
    assert sum(c.hot_accesses for k in interpreter.last_stats.kernels for c in k.cores) > 0


def test_both_modes_agree_on_every_statistic():
    func = hot_remapped(embedding_ops.embedding_bag(DIM, "sum"))
    feeds = _kernel_feeds("eb_sum", DIM)
    extended, remap = _hot(feeds["table"], np.arange(0, 300, 7))
    content = compile_model(func, CompileOptions(placements=(("table", "hot:43"), (REMAP, "hot"))))
    stats = []
    for mode in ("golden", "fast"):
        interpreter = Interpreter(model_content=content, mode=mode)
        interpreter.get_signature_runner()(**feeds | {"table": extended, "remap": remap})
        stats.append(interpreter.last_stats.to_json())
    for key in ("mode", "wall_seconds"):
        for s in stats:
            s.pop(key, None)
    assert stats[0] == stats[1]


@pytest.mark.parametrize("mode", ["golden", "fast"])
def test_an_out_of_range_id_still_faults(mode):
    func = hot_remapped(embedding_ops.embedding_bag(DIM, "sum"))
    feeds = _kernel_feeds("eb_sum", DIM)
    extended, remap = _hot(feeds["table"], np.array([1, 2]))
    feeds["indices"][3] = 300          # the table's rows: 0..299; the extended table has 302
    interpreter = Interpreter(model_content=compile_model(func), mode=mode)
    with pytest.raises(EmulationError, match="out of range|outside"):
        interpreter.get_signature_runner()(**feeds | {"table": extended, "remap": remap})


def test_kernels_that_do_not_read_rows_by_id_are_not_remappable():
    assert not remappable(embedding_ops.ragged_gather(DIM), "values")
    assert not remappable(embedding_ops.segment_sum(DIM), "features")     # its output has the table's rows
    assert remappable(embedding_ops.embedding_bag(DIM, "sum"))
    with pytest.raises(ValueError, match="not loaded ids"):
        hot_remapped(embedding_ops.ragged_gather(DIM), "values")


@pytest.mark.parametrize("mode", ["golden", "fast"])
def test_a_core_without_an_access_unit_reads_its_hot_rows_from_the_hot_storage(mode):
    func = hot_remapped(embedding_ops.embedding_bag(DIM, "sum"))
    feeds = _kernel_feeds("eb_sum", DIM)
    want = Interpreter(model_content=compile_model(embedding_ops.embedding_bag(DIM, "sum"),
                                                   CompileOptions(target="cpu")), machine="cpu", mode=mode)
    want = want.get_signature_runner()(**feeds)["out"]
    everything = np.arange(300)                       # every row hot: nothing of the table from DRAM
    extended, remap = _hot(feeds["table"], everything)
    content = compile_model(func, CompileOptions(target="cpu", placements=(("table", "hot:300"), (REMAP, "hot"))))
    interpreter = Interpreter(model_content=content, machine="cpu", mode=mode)
    got = interpreter.get_signature_runner()(**feeds | {"table": extended, "remap": remap})["out"]
    np.testing.assert_array_equal(got, want)
    assert sum(c.hot_accesses for k in interpreter.last_stats.kernels for c in k.cores) > 0
