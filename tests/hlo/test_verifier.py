"""The HLO verifier: one small malformed module per kind of problem, rejected at parse time
with HloParseError (one line, line:column of the offending instruction, its name and a
clear message); call graphs without recursion; size limits before allocation; and the
evaluator never writing into its inputs.

In each module `/*!*/` marks the instruction the error must point at."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ember_tf.errors import EmberError
from ember_tf.hlo import parse_module, verifier
from ember_tf.hlo.evaluator import SUPPORTED_OPCODES, HloEvaluationError, evaluate
from ember_tf.hlo.module import Computation, Instruction, Module, Shape
from ember_tf.hlo.text import HloParseError

MARK = "/*!*/"


def _module(body: str, extra: str = "") -> str:
    return f"HloModule m\n{extra}\nENTRY main {{\n{body.strip(chr(10))}\n}}\n"


ADD = """
add {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT s = f32[] add(a, b)
}
"""
LT = """
lt {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT c = pred[] compare(a, b), direction=LT
}
"""
TABLE = """
  t = f32[10,4] parameter(0)
  i = s32[3] parameter(1)
"""
GATHER = "offset_dims={1}, collapsed_slice_dims={0}, start_index_map={0}, index_vector_dim=1, slice_sizes={1,4}"
SCATTER = "update_window_dims={1}, inserted_window_dims={0}, scatter_dims_to_operand_dims={0}, index_vector_dim=1"


def _expected_location(text: str) -> str:
    at = text.index(MARK) + len(MARK)
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return f"m.hlo:{line}:{column}: "


CASES = {
    # -- attributes: present and well formed ----------------------------------------------------
    "gather without slice_sizes": (_module(TABLE + f"  ROOT {MARK}g = f32[3,4] gather(t, i), "
                                           + GATHER.replace(", slice_sizes={1,4}", "")),
                                   "main/g: gather needs the attribute slice_sizes"),
    "broadcast without dimensions": (_module(f"  x = f32[] parameter(0)\n  ROOT {MARK}b = f32[3] broadcast(x)"),
                                     "main/b: broadcast needs the attribute dimensions"),
    "reduce without to_apply": (_module(f"  x = f32[4,2] parameter(0)\n  z = f32[] constant(0)\n"
                                        f"  ROOT {MARK}r = f32[4] reduce(x, z), dimensions={{1}}", ADD),
                                "main/r: reduce needs the attribute to_apply"),
    "while without body": (_module(f"  x = f32[] parameter(0)\n  ROOT {MARK}w = f32[] while(x), condition=c",
                                   "c {\n  p = f32[] parameter(0)\n  ROOT k = pred[] constant(false)\n}"),
                           "main/w: while needs the attribute body"),
    "compare without direction": (_module(f"  x = f32[2] parameter(0)\n  ROOT {MARK}c = pred[2] compare(x, x)"),
                                  "compare needs direction=EQ, NE, LT, LE, GT or GE"),
    "compare with a bad direction": (_module(f"  x = f32[2] parameter(0)\n"
                                             f"  ROOT {MARK}c = pred[2] compare(x, x), direction=LESS"),
                                     "direction=LESS is not EQ"),
    "index=true": (_module(f"  x = (f32[], s32[]) parameter(0)\n"
                           f"  ROOT {MARK}e = f32[] get-tuple-element(x), index=true"),
                   "main/e: attribute index=true is not an integer"),
    "iota_dimension=true": (_module(f"  ROOT {MARK}i = s32[4] iota(), iota_dimension=true"),
                            "attribute iota_dimension=true is not an integer"),
    "index out of range": (_module(f"  x = (f32[], s32[]) parameter(0)\n"
                                   f"  ROOT {MARK}e = f32[] get-tuple-element(x), index=2"),
                           "index=2 is out of range for a tuple of 2 element(s)"),
    "a 25-digit dimension number": (_module(f"  x = f32[4] parameter(0)\n"
                                            f"  ROOT {MARK}r = f32[4] reverse(x), dimensions={{1000000000000000000000000}}"),
                                    "attribute dimensions={1000000000000000000000000} is not a list of integers"),
    "malformed slice": (_module(f"  x = f32[4] parameter(0)\n  ROOT {MARK}s = f32[2] slice(x), slice={{[0:two]}}"),
                        "attribute slice={[0:two]} is not a list of [start:limit]"),
    "malformed padding": (_module(f"  x = f32[4] parameter(0)\n  z = f32[] constant(0)\n"
                                  f"  ROOT {MARK}p = f32[6] pad(x, z), padding=1-1"),
                          "attribute padding=1-1 is not low_high[_interior]"),
    "malformed window": (_module(f"  x = f32[4] parameter(0)\n  z = f32[] constant(0)\n"
                                 f"  ROOT {MARK}w = f32[3] reduce-window(x, z), window={{size=2 stride=one}}, "
                                 f"to_apply=add", ADD),
                         "window={size=2stride=one} is malformed"),
    "a missing callee": (_module(f"  x = f32[] parameter(0)\n  ROOT {MARK}c = f32[] call(x), to_apply=nowhere"),
                         "main/c calls 'nowhere', which the module does not define"),
    # -- operand counts -----------------------------------------------------------------------------
    "add of three": (_module(f"  x = f32[2,3] parameter(0)\n  ROOT {MARK}r = f32[2,3] add(x, x, x)"),
                     "main/r: add takes 2 operands, not 3"),
    "negate of two": (_module(f"  x = f32[2] parameter(0)\n  ROOT {MARK}n = f32[2] negate(x, x)"),
                      "main/n: negate takes 1 operand, not 2"),
    "select of two": (_module(f"  p = pred[2] parameter(0)\n  x = f32[2] parameter(1)\n"
                              f"  ROOT {MARK}s = f32[2] select(p, x)"), "select takes 3 operands, not 2"),
    "reduce of three": (_module(f"  x = f32[4,2] parameter(0)\n  z = f32[] constant(0)\n"
                                f"  ROOT {MARK}r = f32[4] reduce(x, z, z), dimensions={{1}}, to_apply=add", ADD),
                        "reduce takes an even number of at least 2 operands, not 3"),
    "scatter of two": (_module(TABLE + f"  ROOT {MARK}s = f32[10,4] scatter(t, i), {SCATTER}, to_apply=add", ADD),
                       "scatter takes an odd number of at least 3 operands, not 2"),
    "conditional with a missing branch operand": (
        _module(f"  i = s32[] parameter(0)\n  x = f32[] parameter(1)\n"
                f"  ROOT {MARK}c = f32[] conditional(i, x), branch_computations={{b, b}}",
                "b {\n  p = f32[] parameter(0)\n  ROOT n = f32[] negate(p)\n}"),
        "conditional with 2 branches takes 3 operands, not 2"),
    "a call given too few arguments": (_module(f"  x = f32[] parameter(0)\n"
                                               f"  ROOT {MARK}c = f32[] call(x), to_apply=add", ADD),
                                       "to_apply=add takes 2 parameter(s), but is given 1"),
    # -- shapes ------------------------------------------------------------------------------------
    "elementwise operands differ": (_module(f"  x = f32[2,3] parameter(0)\n  y = f32[3,2] parameter(1)\n"
                                            f"  ROOT {MARK}r = f32[2,3] add(x, y)"),
                                    "operands must have the same shape: operand 0 is f32[2,3], operand 1 is f32[3,2]"),
    "elementwise result differs": (_module(f"  x = f32[2,3] parameter(0)\n  ROOT {MARK}r = f32[3,2] add(x, x)"),
                                   "main/r: the result shape is f32[3,2], expected f32[2,3]"),
    "not on floats": (_module(f"  x = f32[2] parameter(0)\n  ROOT {MARK}n = f32[2] not(x)"),
                      "not is not defined on operands of type f32"),
    "subtract on pred": (_module(f"  x = pred[2] parameter(0)\n  ROOT {MARK}n = pred[2] subtract(x, x)"),
                         "subtract is not defined on operands of type pred"),
    "reshape changes the element count": (_module(f"  x = f32[2,3] parameter(0)\n"
                                                  f"  ROOT {MARK}r = f32[7] reshape(x)"),
                                          "reshape of f32[2,3] (6 elements) to f32[7] (7 elements)"),
    "broadcast sizes differ": (_module(f"  x = f32[3] parameter(0)\n"
                                       f"  ROOT {MARK}b = f32[2,4] broadcast(x), dimensions={{1}}"),
                               "operand dimension 0 (size 3) goes to result dimension 1 of size 4"),
    "broadcast dimension out of range": (_module(f"  x = f32[3] parameter(0)\n"
                                                 f"  ROOT {MARK}b = f32[2,3] broadcast(x), dimensions={{2}}"),
                                         "dimensions={2}: dimension 2 is out of range for rank 2"),
    "transpose is not a permutation": (_module(f"  x = f32[2,3] parameter(0)\n"
                                               f"  ROOT {MARK}t = f32[3,3] transpose(x), dimensions={{1,1}}"),
                                       "dimensions={1,1} repeats a dimension"),
    "concatenate mismatch": (_module(f"  x = f32[2,3] parameter(0)\n  y = f32[3,3] parameter(1)\n"
                                     f"  ROOT {MARK}c = f32[2,6] concatenate(x, y), dimensions={{1}}"),
                             "operand 1 f32[3,3] does not match operand 0 f32[2,3] outside dimension 1"),
    "slice past the end": (_module(f"  x = f32[4] parameter(0)\n  ROOT {MARK}s = f32[5] slice(x), slice={{[0:5]}}"),
                           "slice range [0:5] of dimension 0 is not within [0:4]"),
    "dynamic-slice larger than its operand": (
        _module(f"  x = f32[4] parameter(0)\n  i = s32[] parameter(1)\n"
                f"  ROOT {MARK}s = f32[4] dynamic-slice(x, i), dynamic_slice_sizes={{1000000000000}}"),
        "dynamic_slice_sizes: size 1000000000000 of dimension 0 is not within [0, 4]"),
    "gather window larger than its operand": (
        _module(TABLE + f"  ROOT {MARK}g = f32[3,4] gather(t, i), "
                + GATHER.replace("slice_sizes={1,4}", "slice_sizes={1,1000000000}")),
        "slice_sizes: size 1000000000 of dimension 1 is not within [0, 4]"),
    "gather result shape": (_module(TABLE + f"  ROOT {MARK}g = f32[4,3] gather(t, i), {GATHER}"),
                            "main/g: the result shape is f32[4,3], expected f32[3,4]"),
    "scatter updates too wide": (_module(TABLE + f"  u = f32[3,5] parameter(2)\n"
                                         f"  ROOT {MARK}s = f32[10,4] scatter(t, i, u), {SCATTER}, to_apply=add", ADD),
                                 "update window dimension 1 (size 5) is larger than operand dimension 1 (size 4)"),
    "dot contracting sizes differ": (_module(f"  a = f32[2,3] parameter(0)\n  b = f32[4,5] parameter(1)\n"
                                             f"  ROOT {MARK}d = f32[2,5] dot(a, b), lhs_contracting_dims={{1}}, "
                                             f"rhs_contracting_dims={{0}}"),
                                     "contracting dimensions differ in size: lhs dimension 1 is 3, rhs dimension 0 is 4"),
    "reduce dimension out of range": (_module(f"  x = f32[4,2] parameter(0)\n  z = f32[] constant(0)\n"
                                              f"  ROOT {MARK}r = f32[4] reduce(x, z), dimensions={{2}}, to_apply=add",
                                              ADD),
                                      "dimensions={2}: dimension 2 is out of range for rank 2"),
    "reducer of the wrong type": (_module(f"  x = s32[4,2] parameter(0)\n  z = s32[] constant(0)\n"
                                          f"  ROOT {MARK}r = s32[4] reduce(x, z), dimensions={{1}}, to_apply=add", ADD),
                                  "to_apply=add: parameter 0 is f32[], but is given s32[]"),
    "pad result": (_module(f"  x = f32[4] parameter(0)\n  z = f32[] constant(0)\n"
                           f"  ROOT {MARK}p = f32[9] pad(x, z), padding=1_2_1"),
                   "the result shape is f32[9], expected f32[10]"),
    "reduce-window result": (_module(f"  x = f32[4] parameter(0)\n  z = f32[] constant(0)\n"
                                     f"  ROOT {MARK}w = f32[4] reduce-window(x, z), window={{size=2}}, to_apply=add",
                                     ADD),
                             "the result shape is f32[4], expected f32[3]"),
    "sort dimension out of range": (_module(f"  x = f32[4] parameter(0)\n"
                                            f"  ROOT {MARK}s = f32[4] sort(x), dimensions={{1}}, to_apply=lt", LT),
                                    "dimensions={1}: dimension 1 is out of range for rank 1"),
    "while body changes the state": (_module(f"  x = f32[] parameter(0)\n"
                                             f"  ROOT {MARK}w = f32[] while(x), condition=c, body=b",
                                             "c {\n  p = f32[] parameter(0)\n  ROOT k = pred[] constant(false)\n}\n"
                                             "b {\n  p = f32[] parameter(0)\n  ROOT k = s32[] constant(0)\n}"),
                                     "body=b returns s32[], expected f32[]"),
    "a token": (_module(f"  {MARK}x = token[] parameter(0)\n  ROOT c = token[] copy(x)"),
                "main/x: its shape token[] holds a token; tokens are not supported"),
    # -- structure --------------------------------------------------------------------------------
    "an operand used before it is defined": (_module(f"  ROOT {MARK}r = f32[] negate(x)\n"
                                                     f"  x = f32[] parameter(0)"),
                                             "main/r: operand 'x' is defined after its user"),
    "parameter numbers with a gap": (_module(f"  x = f32[] parameter(0)\n  {MARK}y = f32[] parameter(2)\n"
                                             f"  ROOT r = f32[] add(x, y)"),
                                     "main/y: parameter number 2 is out of range: the computation has 2 parameter(s)"),
    "a parameter number used twice": (_module(f"  x = f32[] parameter(0)\n  {MARK}y = f32[] parameter(0)\n"
                                              f"  ROOT r = f32[] add(x, y)"),
                                      "main/y: parameter number 0 is also x's"),
    # -- calls ------------------------------------------------------------------------------------
    "a computation that calls itself": (
        _module("  x = f32[] parameter(0)\n  ROOT c = f32[] call(x), to_apply=self",
                f"self {{\n  p = f32[] parameter(0)\n  ROOT {MARK}c = f32[] call(p), to_apply=self\n}}"),
        "self/c: calls 'self', which is recursion (self -> self); HLO computations cannot call themselves"),
    "mutual recursion through a while body": (
        _module("  x = f32[] parameter(0)\n  ROOT c = f32[] call(x), to_apply=f",
                "c {\n  p = f32[] parameter(0)\n  ROOT k = pred[] constant(false)\n}\n"
                "f {\n  p = f32[] parameter(0)\n  ROOT w = f32[] while(p), condition=c, body=g\n}\n"
                f"g {{\n  p = f32[] parameter(0)\n  ROOT {MARK}c = f32[] call(p), to_apply=f\n}}"),
        "g/c: calls 'f', which is recursion (f -> g -> f)"),
    # -- sizes --------------------------------------------------------------------------------------
    "an array of 10**10 elements": (_module(f"  {MARK}x = f32[100000,100000] parameter(0)\n"
                                            f"  ROOT n = f32[100000,100000] negate(x)"),
                                    "shape f32[100000,100000] has 10000000000 elements; at most 2147483648 (2**31)"),
    "an empty array with a huge dimension": (_module(f"  ROOT {MARK}x = f32[0,9000000000] parameter(0)"),
                                             "has a dimension of 9000000000"),
    "an empty array numpy cannot shape": (      # found by tests/hlo_import/test_fuzz_proto.py
        _module(f"  c = f32[] constant(1)\n"
                f"  ROOT {MARK}b = f32[2147483648,2147483648,0] broadcast(c), dimensions={{}}"),
        "main/b: shape f32[2147483648,2147483648,0] is empty, but its nonzero dimensions multiply to "
        "4611686018427387904; at most 2147483648 (2**31) is supported"),
    "rank 33": (_module(f"  ROOT {MARK}x = f32[{','.join(['1'] * 33)}] parameter(0)"),
                "has rank 33; at most 32 is supported"),
    "a 7 TiB iota": (_module(f"  ROOT {MARK}i = s64[2000000000] iota(), iota_dimension=0"),
                     "main/i: iota of shape s64[2000000000] needs about 29.8 GiB of memory in the evaluator; the "
                     "limit is 4 GiB"),
    "too much in total": (_module("  x = f32[8192,16384] parameter(0)\n"
                                  + "".join(f"  n{k} = f32[8192,16384] negate({'x' if k == 0 else f'n{k - 1}'})\n"
                                            for k in range(7))
                                  + f"  ROOT {MARK}n7 = f32[8192,16384] negate(n6)"),   # 512 MiB each
                          "main/n7: the module's values need about 4.5 GiB of memory in the evaluator (this "
                          "instruction passes the limit of 4 GiB)"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_module_is_rejected_at_its_instruction(name):
    text, message = CASES[name]
    with pytest.raises(HloParseError) as error:
        parse_module(text, "m.hlo")
    got = str(error.value)
    assert isinstance(error.value, EmberError)
    assert "\n" not in got
    assert got.startswith(_expected_location(text)), got
    assert message in got, got


def test_the_same_modules_are_fine_once_corrected():
    """Guards the cases above against rejecting for some other reason than the intended one."""
    ok = {
        "add of three": ("add(x, x, x)", "add(x, x)"),
        "gather result shape": ("f32[4,3] gather", "f32[3,4] gather"),
        "elementwise result differs": ("f32[3,2] add", "f32[2,3] add"),
        "scatter updates too wide": ("f32[3,5] parameter(2)", "f32[3,4] parameter(2)"),
        "pad result": ("f32[9] pad", "f32[10] pad"),
        "reduce-window result": ("f32[4] reduce-window", "f32[3] reduce-window"),
        "a computation that calls itself": ("ROOT /*!*/c = f32[] call(p), to_apply=self", "ROOT n = f32[] negate(p)"),
        "too much in total": ("  ROOT /*!*/n7 = f32[8192,16384] negate(n6)", ""),
        "dynamic-slice larger than its operand": ("1000000000000", "4"),
        "an empty array numpy cannot shape": ("2147483648,2147483648,0", "2147483648,0"),
    }
    for name, (old, new) in ok.items():
        text = CASES[name][0]
        assert old in text, name
        parse_module(text.replace(old, new), name)


def test_calls_nested_too_deep():
    depth = verifier.MAX_CALL_DEPTH + 2
    chain = "c0 {\n  p = f32[] parameter(0)\n  ROOT r = f32[] negate(p)\n}\n" + "".join(
        f"c{k} {{\n  p = f32[] parameter(0)\n  ROOT r = f32[] call(p), to_apply=c{k - 1}\n}}\n" for k in range(1, depth))
    text = _module(f"  x = f32[] parameter(0)\n  ROOT r = f32[] call(x), to_apply=c{depth - 1}", chain)
    with pytest.raises(HloParseError, match=f"nest more than {verifier.MAX_CALL_DEPTH} calls deep"):
        parse_module(text, "m.hlo")
    allowed = verifier.MAX_CALL_DEPTH - 1            # the entry is one level more
    shallow = _module(f"  x = f32[] parameter(0)\n  ROOT r = f32[] call(x), to_apply=c{allowed - 1}",
                      chain.split(f"c{allowed} {{")[0])
    out = evaluate(parse_module(shallow), [np.float32(3)])     # deep but allowed: no RecursionError either
    assert out[0] == -3


def test_tuple_shapes_nested_too_deep():
    shape = "(" * 40 + "f32[]" + ")" * 40
    with pytest.raises(HloParseError, match=r"m\.hlo:4:\d+: tuple shapes nest more than 32 deep"):
        parse_module(_module(f"  ROOT x = {shape} parameter(0)"), "m.hlo")


@pytest.mark.parametrize("literal, message", [
    ("s32[2] constant({1, 99999999999})", "constant of type s32 cannot hold the value 99999999999"),
    ("s8[1] constant({300})", "constant of type s8 cannot hold the value 300"),
    ("s64[1] constant({99999999999999999999})", "constant of type s64 cannot hold the value 99999999999999999999"),
    ("s32[1] constant({nan})", "constant of type s32 cannot hold the value nan"),
])
def test_constants_out_of_range_for_their_type(literal, message):
    with pytest.raises(HloParseError) as error:
        parse_module(_module(f"  ROOT c = {literal}"), "m.hlo")
    assert str(error.value).startswith("m.hlo:4:") and message in str(error.value)


@pytest.mark.parametrize("text, message", [
    ("HloModule m\nENTRY e {\n  ROOT x = f32[12345678901234567890123] parameter(0)\n}\n", "is out of range"),
    ("HloModule m\nENTRY e {\n  ROOT x = f32[] parameter(12345678901234567890123)\n}\n", "is out of range"),
    ("HloModule m\nENTRY e {\n  t = (f32[], f32[]) parameter(0)\n  ROOT x = f32[] negate(t#\u00b2)\n}\n",
     "is not an element of a tuple"),
])
def test_numbers_in_the_text_are_parsed_safely(text, message):
    with pytest.raises(HloParseError, match=re.escape(message)):
        parse_module(text, "m.hlo")


def test_a_module_built_in_code_names_module_and_instruction():
    x = Instruction("x", "parameter", Shape("f32", (2,)), [], parameter_number=0)
    bad = Instruction("n", "negate", Shape("f32", (3,)), ["x"])
    module = Module("built", {"main": Computation("main", [x, bad], "n")}, "main")
    with pytest.raises(HloParseError, match=re.escape("built: main/n: the result shape is f32[3], expected f32[2]")):
        verifier.verify_module(module)
    missing = Module("built", {"main": Computation("main", [x], "x")}, "elsewhere")
    with pytest.raises(HloParseError, match="the entry computation 'elsewhere' is not defined"):
        verifier.verify_module(missing)


def test_every_evaluated_opcode_is_verified():
    assert SUPPORTED_OPCODES <= verifier.CHECKED_OPCODES


def test_unsupported_opcodes_pass_to_check_supported():
    # rng is not evaluated; the verifier leaves such opcodes to check_supported (and the converter)
    module = parse_module(_module("  a = f32[] parameter(0)\n  ROOT r = f32[2] rng(a, a), distribution=rng_uniform"))
    assert module.entry_computation.root_instruction.opcode == "rng"


def test_proto_modules_are_verified_and_name_the_instruction():
    pytest.importorskip("tensorflow")
    from ember_tf.hlo.proto import read_module_proto
    from tests.hlo.test_proto import tf_module

    from tensorflow.compiler.xla.service import hlo_pb2

    proto = hlo_pb2.HloModuleProto.FromString(tf_module("bag", "hlo")[1])
    entry = [c for c in proto.computations if c.id == proto.entry_computation_id][0]
    reduce = [i for i in entry.instructions if i.opcode == "reduce"][0]
    reduce.dimensions[:] = [7]
    with pytest.raises(HloParseError) as error:
        read_module_proto(proto.SerializeToString(), "bad.pb")
    message = str(error.value)
    assert message.startswith("bad.pb: ") and f"/{reduce.name}: dimensions={{7}}: dimension 7 is out of range" in message


# -- the evaluator never writes into its inputs ------------------------------------------------------

def test_an_extra_operand_never_reaches_a_ufuncs_out_slot():
    text = _module("  x = f32[2,3] parameter(0)\n  ROOT r = f32[2,3] add(x, x, x)")
    x = np.ones((2, 3), np.float32)
    with pytest.raises(HloEvaluationError, match=re.escape("main/r: add takes 2 operands, not 3")):
        evaluate(parse_module(text, verify=False), [x])      # the evaluator's own guard, behind the verifier's
    np.testing.assert_array_equal(x, np.ones((2, 3), np.float32))


def test_float_math_gives_a_ufunc_exactly_its_inputs():
    from ember_tf.hlo.evaluator.ops.common import float_math

    x = np.ones(3, np.float32)
    with pytest.raises(HloEvaluationError, match="add takes 2 operand"):
        float_math(np.add, np.float32, x, x, x)
    assert (x == 1).all()


INPLACE_CANDIDATES = _module("""
  x = f32[4,3] parameter(0)
  i = s32[2,1] parameter(1)
  u = f32[2,3] parameter(2)
  k = s32[] parameter(3)
  s = f32[4,3] scatter(x, i, u), update_window_dims={1}, inserted_window_dims={0}, scatter_dims_to_operand_dims={0}, index_vector_dim=1, to_apply=add
  d = f32[4,3] dynamic-update-slice(x, u, k, k)
  c = f32[4,3] copy(x)
  n = f32[4,3] add(c, x)
  b = f32[4,3] bitcast(x)
  m = f32[4,3] multiply(b, b)
  ROOT t = (f32[4,3], f32[4,3], f32[4,3], f32[4,3], f32[4,3]) tuple(s, d, n, m, x)
""", ADD)


def _inputs():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((4, 3)).astype(np.float32), np.array([[1], [3]], np.int32),
            rng.standard_normal((2, 3)).astype(np.float32), np.int32(1)]


def test_evaluating_never_changes_the_arguments():
    inputs = _inputs()
    before = [np.copy(a) for a in inputs]
    outputs = evaluate(parse_module(INPLACE_CANDIDATES), inputs)
    for old, new in zip(before, inputs):
        np.testing.assert_array_equal(old, new)
    outputs[-1][:] = 0              # the outputs are the caller's own arrays
    np.testing.assert_array_equal(inputs[0], before[0])


def test_running_a_converted_module_never_changes_the_inputs():
    from ember_tf import Interpreter
    from ember_tf.hlo_import import HloConverter

    content = HloConverter(parse_module(INPLACE_CANDIDATES), "m.hlo").convert()
    inputs = _inputs()
    before = [np.copy(a) for a in inputs]
    runner = Interpreter(model_content=content, mode="golden").get_signature_runner()
    runner(**{f"p{k}": a for k, a in enumerate(inputs)})
    for old, new in zip(before, inputs):
        np.testing.assert_array_equal(old, new)


def test_a_runaway_while_loop_is_stopped(monkeypatch):
    from ember_tf.hlo.evaluator.ops import control

    monkeypatch.setattr(control, "MAX_WHILE_ITERATIONS", 50)
    text = _module("  x = f32[] parameter(0)\n  ROOT w = f32[] while(x), condition=c, body=b",
                   "c {\n  p = f32[] parameter(0)\n  ROOT k = pred[] constant(true)\n}\n"
                   "b {\n  p = f32[] parameter(0)\n  ROOT n = f32[] negate(p)\n}")
    with pytest.raises(HloEvaluationError, match="w: the while loop ran 50 iterations"):
        evaluate(parse_module(text), [np.float32(1)])


def test_inlined_names_never_collide():
    from ember_tf.hlo_import.flatten import flatten

    text = _module("  x = f32[] parameter(0)\n  f.n = f32[] exponential(x)\n  f = f32[] call(x), to_apply=g\n"
                   "  ROOT r = f32[] add(f.n, f)", "g {\n  p = f32[] parameter(0)\n  ROOT n = f32[] negate(p)\n}")
    flat = flatten(parse_module(text))
    names = [i.name for i in flat.entry_computation.instructions]
    assert len(names) == len(set(names))
    assert evaluate(flat, [np.float32(0)])[0] == 1       # exp(0) + -0


def test_an_outer_product_dot_without_contracting_dims_converts_and_runs():
    # XLA omits empty dimension lists; the verifier and the host segment's cost model accept that
    from ember_tf import Interpreter
    from ember_tf.hlo_import import HloConverter

    text = _module("  a = f32[3] parameter(0)\n  b = f32[4] parameter(1)\n  ROOT d = f32[3,4] dot(a, b)")
    content = HloConverter(parse_module(text), "m.hlo").convert()
    a, b = np.arange(3, dtype=np.float32), np.full(4, 2, np.float32)
    out = Interpreter(model_content=content, mode="golden").get_signature_runner()(p0=a, p1=b)
    np.testing.assert_array_equal(out["out0"], np.outer(a, b))
