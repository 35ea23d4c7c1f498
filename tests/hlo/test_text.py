"""The HLO text parser: both forms, the printer's round trip, newer XLA's `name#k`
tuple-element operands, and errors with line:column."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.hlo import parse_module, print_module
from ember_tf.hlo.text import HloParseError

jax = pytest.importorskip("jax")


def test_jax_short_form_round_trips():
    fn = lambda t, i: jax.numpy.take(t, i, axis=0).sum(axis=1)   # noqa: E731
    text = jax.jit(fn).lower(np.zeros((10, 4), np.float32), np.zeros((2, 3), np.int32)).as_text(dialect="hlo")
    module = parse_module(text, "jax.hlo")
    printed = print_module(module)
    again = parse_module(printed, "printed.hlo")
    assert print_module(again) == printed
    assert [c for c in again.computations] == [c for c in module.computations]
    opcodes = {i.opcode for c in module.computations.values() for i in c.instructions}
    assert {"gather", "reduce", "call", "select", "compare"} <= opcodes


def test_tuple_element_operands_become_get_tuple_element():
    module = parse_module("HloModule x\nENTRY e {\n  t = (s32[], f32[4]) parameter(0)\n"
                          "  ROOT b = f32[4] add(t#1, t#1)\n}\n")
    element = module.entry_computation.instruction("t#1")
    assert element.opcode == "get-tuple-element" and element.int("index") == 1 and element.operands == ["t"]
    with pytest.raises(HloParseError, match=r":4:8: .*'t#2' is not an element"):
        parse_module("HloModule x\nENTRY e {\n  t = (s32[], f32[4]) parameter(0)\n"
                     "  ROOT b = f32[4] add(t#2, t#1)\n}\n", "bad.hlo")


@pytest.mark.parametrize("text, where, what", [
    ("HloModule x\nENTRY e {\n  a = f32[2 parameter(0)\n}\n", ":3:", "unclosed '['"),
    ("HloModule x\nENTRY e {\n  a = f32[] parameter(0)\n  ROOT b = f32[] add(a, c)\n}\n", ":4:8:", "'c'"),
    ("HloModule x\nENTRY e {\n  ROOT a = f32[3] constant({...})\n}\n", ":3:", "elides this constant"),
    ("HloModule x\nENTRY e {\n  ROOT a = f32[2] constant({1, 2, 3})\n}\n", ":3:", "holds 3 values"),
    ("Module x\n", ":1:1:", "'HloModule'"),
])
def test_errors_name_line_and_column(text, where, what):
    with pytest.raises(HloParseError) as error:
        parse_module(text, "m.hlo")
    message = str(error.value)
    assert message.startswith(f"m.hlo{where}") and what in message and "\n" not in message
