"""tf.gather of a ragged tensor, compiled: the selected rows' values, whose count
(the last output row split, computed by the host) sizes the output through an
element-valued kernel param. Every opt level and machine, through the binary."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.errors import EmberError
from ember_tf.ir import embedding_ops as E
from tests.compiler.helpers import MACHINES, OPT_LEVELS
from tests.reference import embedding_ops as ref


def _inputs(seed: int, dim: int, ids, id_dtype=np.int32):
    rng = np.random.default_rng(seed)
    lengths = np.array([2, 0, 3, 1, 0, 4])
    splits = np.concatenate([[0], np.cumsum(lengths)]).astype(id_dtype)
    values = rng.standard_normal((int(splits[-1]), dim)).astype(np.float32)
    ids = np.asarray(ids, id_dtype)
    out_splits = np.concatenate([[0], np.cumsum(lengths[ids])]).astype(id_dtype)
    return {"values": values, "row_splits": splits, "ids": ids, "out_splits": out_splits}


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("opt_level", OPT_LEVELS)
@pytest.mark.parametrize("dim, ids", [(20, [2, 0, 5, 1, 2]), (3, [1, 4]), (37, []), (16, [5])])
def test_ragged_gather_matches_tf_gather(machine, opt_level, dim, ids):
    feeds = _inputs(1, dim, ids)
    data = compile_model(E.ragged_gather(dim), CompileOptions(target=machine, opt_level=opt_level))
    out, _ = run_values(data, machine, feeds)
    want_values, want_splits = ref.ragged_gather(feeds["values"], feeds["row_splits"], feeds["ids"])
    np.testing.assert_array_equal(out, want_values)
    np.testing.assert_array_equal(feeds["out_splits"], want_splits)


def run_values(data, machine, feeds):
    from ember_tf.emulator import Interpreter

    it = Interpreter(model_content=data, machine=machine, mode="fast")
    return it.get_signature_runner()(**feeds)["out_values"], it


def test_int64_ids():
    feeds = _inputs(2, 8, [3, 2, 0], np.int64)
    data = compile_model(E.ragged_gather(8, id_dtype="i64"), CompileOptions())
    out, _ = run_values(data, "tmu", feeds)
    np.testing.assert_array_equal(out, ref.ragged_gather(feeds["values"], feeds["row_splits"], feeds["ids"])[0])


def test_an_id_out_of_range_is_an_error():
    feeds = _inputs(3, 8, [1, 2])
    feeds["ids"] = np.array([1, 6], np.int32)          # 6 rows: ids 0..5
    data = compile_model(E.ragged_gather(8), CompileOptions())
    with pytest.raises(EmberError, match="row_splits"):
        run_values(data, "tmu", feeds)


def test_the_kernel_declares_version_2():
    from ember_tf.compiler import compile_kernel

    text = compile_kernel(E.ragged_gather(8), CompileOptions())
    assert '.kernel "ragged_gather" version=2' in text and "element=-1" in text

