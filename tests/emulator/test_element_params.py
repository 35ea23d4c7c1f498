"""ELEMENT kernel params: a scalar read from an integer input tensor (here the last
entry of a ragged result's row_splits) sizes an output and bounds a traversal, in
both emulation modes, and bad values are input errors, not crashes."""

from __future__ import annotations

import types

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.emulator import Interpreter
from ember_tf.emulator.interpreter import _param
from ember_tf.errors import EmulationError, InputError
from tests.emulator.programs import ragged_head_rows

MODES = ("golden", "fast")


def _model(machine: str, **kwargs) -> bytes:
    return dae_isa.serialize_model(dae_isa.assemble(ragged_head_rows(machine, **kwargs), "head_rows.dasm"))


def _run(model: bytes, machine: str, mode: str, feeds: dict):
    interpreter = Interpreter(model_content=model, machine=machine, mode=mode)
    outputs = interpreter.get_signature_runner()(**feeds)
    return outputs, interpreter.last_stats.to_json() | {"mode": None}   # the modes agree on all else


def _table(rows: int = 30, dim: int = 37) -> np.ndarray:
    return np.random.default_rng(4).standard_normal((rows, dim)).astype(np.float32)


@pytest.mark.parametrize("machine", ["tmu", "cpu"])
@pytest.mark.parametrize("splits_dtype", ["int32", "int64"])
def test_last_split_sizes_the_output_in_both_modes(machine, splits_dtype):
    model = _model(machine, splits_dtype=splits_dtype)
    table = _table()
    feeds = {"splits": np.array([0, 4, 4, 9, 13], dtype=splits_dtype), "table": table}
    golden, golden_stats = _run(model, machine, "golden", feeds)
    fast, fast_stats = _run(model, machine, "fast", feeds)
    for out in (golden["out"], fast["out"]):
        assert out.shape == (13, 37) and out.dtype == np.float32
        assert np.array_equal(out, table[:13])
    assert golden_stats == fast_stats


@pytest.mark.parametrize("machine", ["tmu", "cpu"])
def test_element_counted_from_the_start_plus_add(machine):
    model = _model(machine, element=1, add=3)  # n = splits[1] + 3
    table = _table(dim=20)
    feeds = {"splits": np.array([0, 5, 9], np.int32), "table": table}
    for mode in MODES:
        out = _run(model, machine, mode, feeds)[0]["out"]
        assert out.shape == (8, 20) and np.array_equal(out, table[:8])


@pytest.mark.parametrize("machine", ["tmu", "cpu"])
def test_zero_rows(machine):
    model = _model(machine)
    feeds = {"splits": np.array([0, 0, 0], np.int32), "table": _table()}
    for mode in MODES:
        assert _run(model, machine, mode, feeds)[0]["out"].shape == (0, 37)


@pytest.mark.parametrize("splits, kwargs, message", [
    ([], {}, r"input 'splits' has 0 elements; kernel 'head_rows' reads its element -1 \(from the end\)"),
    ([0, 3], {"element": 2}, r"input 'splits' has 2 elements; kernel 'head_rows' reads its element 2$"),
    ([0, 3], {"element": -3}, r"input 'splits' has 2 elements; kernel 'head_rows' reads its element -3 "),
    ([0, -2], {}, r"input 'splits' has -2 at element -1; kernel 'head_rows' needs at least 0"),
    ([0, 3], {"add": -4}, r"input 'splits' has 3 at element -1; kernel 'head_rows' needs at least 4"),
])
@pytest.mark.parametrize("machine", ["tmu", "cpu"])
def test_missing_or_negative_element_is_an_input_error(machine, splits, kwargs, message):
    model = _model(machine, **kwargs)
    for mode in MODES:
        with pytest.raises(InputError, match=message):
            _run(model, machine, mode, {"splits": np.array(splits, np.int32), "table": _table()})


def test_an_impossible_output_size_is_an_input_error():
    model = _model("tmu", splits_dtype="int64")
    feeds = {"splits": np.array([0, 1 << 62], np.int64), "table": _table()}
    with pytest.raises(InputError, match=r"cannot allocate output 'out' of shape \[4611686018427387904, 37\]"):
        _run(model, "tmu", "golden", feeds)


@pytest.mark.parametrize("machine", ["tmu", "cpu"])
def test_more_rows_than_the_table_faults_alike(machine):
    """The param is data, not a promise: reading past the table faults in both modes."""
    model = _model(machine)
    feeds = {"splits": np.array([0, 31], np.int32), "table": _table(rows=30)}
    messages = []
    for mode in MODES:
        with pytest.raises(EmulationError) as error:
            _run(model, machine, mode, feeds)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert "table" in messages[0]


def test_element_index_is_flat_over_any_rank():
    param = fb.KernelParamT(slot=0, kind=fb.ParamKind.ELEMENT, element=-2, add=1)
    program = types.SimpleNamespace(name="k")
    grid = np.arange(12, dtype=np.int64).reshape(3, 4)
    assert _param(param, [grid], ["input 'grid'"], program) == 11
    param.element = 5
    assert _param(param, [grid], ["input 'grid'"], program) == 6
    param.element = 12
    with pytest.raises(InputError, match="input 'grid' has 12 elements"):
        _param(param, [grid], ["input 'grid'"], program)


def test_round_trip_text_and_bytes():
    for machine in ("tmu", "cpu"):
        data = _model(machine, element=-2, add=-1)
        text = dae_isa.disassemble(dae_isa.model_from_buffer(data))
        assert ".param p0 slot=splits element=-2 add=-1" in text
        assert ".param p1 slot=table dim=1 add=0" in text
        assert dae_isa.serialize_model(dae_isa.assemble(text, "again.dasm")) == data


def test_a_value_past_int64_is_an_input_error():
    param = fb.KernelParamT(slot=0, kind=fb.ParamKind.ELEMENT, element=0, add=1)
    big = np.array([(1 << 63) - 1], np.int64)
    with pytest.raises(InputError, match=r"input 'splits' has 9223372036854775807 at element 0; kernel 'k' adds 1, "
                                         r"past the int64 range"):
        _param(param, [big], ["input 'splits'"], types.SimpleNamespace(name="k"))
