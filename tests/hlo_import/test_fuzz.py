"""Property-based fuzzing of the HLO path: a valid module's text with a few random token
edits (a number changed, a token deleted or duplicated, a name, opcode or element type
swapped for another, an attribute removed) either parses, verifies, converts and runs,
or fails with one of the project's errors (EmberError: the CLI's one-line message),
never anything else; and no run ever changes the caller's input arrays.

The seeds are modules of the existing tests, frozen as text (so this needs neither JAX
nor TensorFlow): test_cli's LOOKUP, test_evaluator's BRANCHES and hand-written `map`,
and JAX / TensorFlow lowerings of test_evaluator cases (while, scatter, reduce-window,
variadic reduce, dynamic slices, pad, dot, batching scatter, switch, shape ops, a TF
bag in the long form), plus a small sort.

CI runs a fixed-seed set of examples (derandomize=True) in well under 20 s; a long run is
    EMBER_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/hlo_import/test_fuzz.py
While it runs, the verifier's working-set limit and the evaluator's while-loop limit are
lowered (64 MiB, 10,000 iterations) so that no example takes more than a moment; the
limits themselves are tested at their real values in tests/hlo/test_verifier.py."""

from __future__ import annotations

import datetime
import os
import re

import numpy as np
import pytest

from ember_tf.errors import EmberError
from ember_tf.hlo.evaluator import SUPPORTED_OPCODES

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

EXAMPLES = int(os.environ.get("EMBER_FUZZ_EXAMPLES", "1500"))
MAX_INPUT_ELEMENTS = 1 << 16          # larger parameters are not fed (the module is still converted)

# -- mutations ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s+|/\*.*?\*/|[A-Za-z_%][\w.\-#%]*|-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?|.", re.S)
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_%][\w.\-#%]*")
_ATTRIBUTE = re.compile(r",\s*[a-z_]+=(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|\"[^\"]*\"|[^\s,{}()]+)")
KINDS = ("number", "number", "delete", "duplicate", "swap_name", "drop_attribute", "opcode", "element_type")
ELEMENT_TYPES = ("pred", "s8", "s16", "s32", "s64", "u8", "u16", "u32", "u64", "f16", "bf16", "f32", "f64", "token")


def _numbers(value: str) -> list[str]:
    n = int(float(value)) if "." not in value and "e" not in value else 1
    return [str(v) for v in (0, 1, 2, -1, 3, n + 1, n - 1, 2 * n, 7, 1 << 31, (1 << 31) - 1, 1 << 32, 10 ** 12,
                             1 << 63, 10 ** 30, 123456789012345678901234567890)] + ["true", "1.5", "-0", "nan"]


def mutate(text: str, edits) -> str:
    """Apply `edits` ((kind, a, b) with a, b >= 0 picking the spot and the replacement)."""
    for kind, a, b in edits:
        if kind == "drop_attribute":
            spans = list(_ATTRIBUTE.finditer(text))
            if spans:
                m = spans[a % len(spans)]
                text = text[:m.start()] + text[m.end():]
            continue
        tokens = _TOKEN.findall(text)
        solid = [k for k, t in enumerate(tokens) if not t.isspace()]
        if kind == "number":
            spots = [k for k in solid if _NUMBER.fullmatch(tokens[k])]
            if spots:
                k = spots[a % len(spots)]
                choices = _numbers(tokens[k])
                tokens[k] = choices[b % len(choices)]
        elif kind == "delete":
            del tokens[solid[a % len(solid)]]
        elif kind == "duplicate":
            k = solid[a % len(solid)]
            tokens.insert(k, tokens[k])
        elif kind == "swap_name":
            names = [k for k in solid if _NAME.fullmatch(tokens[k])]
            if names:
                tokens[names[a % len(names)]] = tokens[names[b % len(names)]]
        elif kind in ("opcode", "element_type"):
            table = sorted(SUPPORTED_OPCODES) if kind == "opcode" else ELEMENT_TYPES
            spots = [k for k in solid if tokens[k] in table]
            if spots:
                tokens[spots[a % len(spots)]] = table[b % len(table)]
        text = "".join(tokens)
    return text


@st.composite
def mutants(draw):
    seed = draw(st.sampled_from(sorted(SEEDS)))
    edits = draw(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 1 << 20), st.integers(0, 1 << 20)),
                          min_size=1, max_size=3))
    return seed, edits


# -- the property ------------------------------------------------------------------------------

def _value(shape, rng):
    if shape.is_tuple:
        return tuple(_value(s, rng) for s in shape.tuple_shapes)
    dtype = shape.numpy_dtype
    if dtype == np.bool_:
        return rng.integers(0, 2, shape.dims).astype(bool)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-2, 12, shape.dims).astype(dtype)
    return rng.standard_normal(shape.dims).astype(dtype)


def _elements(shape) -> int:
    if shape.is_tuple:
        return sum(_elements(s) for s in shape.tuple_shapes)
    return int(np.prod(shape.dims, dtype=object))


def _copies(value):
    return tuple(_copies(v) for v in value) if isinstance(value, (tuple, list)) else value.copy()


def _unchanged(before, after) -> bool:
    if isinstance(before, tuple):
        return len(before) == len(after) and all(_unchanged(b, a) for b, a in zip(before, after))
    return before.dtype == after.dtype and np.array_equal(before, after, equal_nan=True)


def check(text: str) -> None:
    """parse + verify, then `check_module`."""
    from ember_tf.hlo import parse_module

    try:
        module = parse_module(text, "fuzz.hlo")
    except EmberError:
        return
    check_module(module, "fuzz.hlo")


def check_module(module, source: str) -> str:
    """evaluate + convert + run a verified module: each succeeds or raises an EmberError,
    and the inputs come back unchanged. Returns what happened, for hypothesis.event."""
    from ember_tf import Interpreter
    from ember_tf.hlo.evaluator import evaluate
    from ember_tf.hlo_import import HloConverter

    rng = np.random.default_rng(0)
    parameters = module.entry_computation.parameters()
    feedable = sum(_elements(p.shape) for p in parameters) <= MAX_INPUT_ELEMENTS
    outcome = "not evaluated (inputs too large)"
    if feedable:
        arguments = [_value(p.shape, rng) for p in parameters]
        before = _copies(arguments)
        try:
            evaluate(module, arguments)
            outcome = "evaluates"
        except EmberError:
            outcome = "evaluator rejects"
        assert _unchanged(before, arguments), "the evaluator changed an argument"
    try:
        content = HloConverter(module, source).convert()
    except EmberError:
        return f"{outcome}, converter rejects"
    if not feedable or any(p.shape.is_tuple for p in parameters):
        return f"{outcome}, converts (not run)"
    feeds = {f"p{p.parameter_number}": a for p, a in zip(parameters, arguments)}
    try:
        Interpreter(model_content=content, mode="golden").get_signature_runner()(**feeds)
        ran = "runs"
    except EmberError:
        ran = "run fails"
    assert _unchanged(before, arguments), "a run changed an input"
    return f"{outcome}, converts, {ran}"


# -- the seeds ---------------------------------------------------------------------------------

SEEDS = {
    # tests/hlo_import/test_cli.py
    "lookup": """
HloModule lookup

ENTRY main {
  table = f32[10,4] parameter(0)
  ids = s32[3] parameter(1)
  rows = f32[3,4] gather(table, ids), offset_dims={1}, collapsed_slice_dims={0}, start_index_map={0}, index_vector_dim=1, slice_sizes={1,4}
  two = f32[] constant(2)
  twos = f32[3,4] broadcast(two), dimensions={}
  ROOT doubled = f32[3,4] multiply(rows, twos)
}
""",
    # tests/hlo/test_evaluator.py
    "branches": """
HloModule branches
b0 {
  p = f32[] parameter(0)
  ROOT r = f32[] add(p, p)
}
b1 {
  p = f32[] parameter(0)
  ROOT r = f32[] negate(p)
}
ENTRY main {
  i = s32[] parameter(0)
  x = f32[] parameter(1)
  ROOT c = f32[] conditional(i, x, x), branch_computations={b0, b1}
}
""",
    "map": """
HloModule map_case
mul_add {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  two = f32[] constant(2)
  t = f32[] multiply(a, two)
  ROOT r = f32[] add(t, b)
}
ENTRY main {
  x = f32[2,3] parameter(0)
  y = f32[2,3] parameter(1)
  ROOT m = f32[2,3] map(x, y), dimensions={0,1}, to_apply=mul_add
}
""",
    # the comparator of tests/hlo/test_proto.py's hand-written module
    "sort": """
HloModule sort
total_lt {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  c = s32[] parameter(2)
  d = s32[] parameter(3)
  ROOT lt = pred[] compare(a, b), direction=LT, type=TOTALORDER
}
ENTRY main {
  x = f32[3,5] parameter(0)
  i = s32[3,5] iota(), iota_dimension=1
  s = (f32[3,5], s32[3,5]) sort(x, i), dimensions={1}, is_stable=true, to_apply=total_lt
  ROOT j = s32[3,5] get-tuple-element(s), index=1
}
""",
    # JAX and TensorFlow lowerings of tests/hlo/test_evaluator.py cases
    "jax_while": """
HloModule jit__while_loop, entry_computation_layout={(f32[3,4]{1,0}, s32[])->(s32[], f32[4]{0})}

_where.1 {
  Arg_0.2 = pred[] parameter(0)
  Arg_1.2 = s32[] parameter(1)
  Arg_2.1 = s32[] parameter(2)
  ROOT select_n.1 = s32[] select(Arg_0.2, Arg_1.2, Arg_2.1)
}

remainder.2 {
  Arg_0.3 = s32[] parameter(0)
  Arg_1.3 = s32[] parameter(1)
  constant.9 = s32[] constant(0)
  eq.1 = pred[] compare(Arg_1.3, constant.9), direction=EQ
  constant.8 = s32[] constant(1)
  jit__where_.1 = s32[] call(eq.1, constant.8, Arg_1.3), to_apply=_where.1
  rem.1 = s32[] remainder(Arg_0.3, jit__where_.1)
  lt.2 = pred[] compare(rem.1, constant.9), direction=LT
  lt.3 = pred[] compare(jit__where_.1, constant.9), direction=LT
  ne.3 = pred[] compare(lt.2, lt.3), direction=NE
  ne.2 = pred[] compare(rem.1, constant.9), direction=NE
  and.1 = pred[] and(ne.3, ne.2)
  add.2 = s32[] add(rem.1, jit__where_.1)
  ROOT select_n.3 = s32[] select(and.1, add.2, rem.1)
}

region_0.3 {
  arg_tuple.1 = (s32[], f32[4]{0}, s32[], f32[3,4]{1,0}) parameter(0)
  get-tuple-element.4 = s32[] get-tuple-element(arg_tuple.1), index=0
  constant.13 = s32[] constant(1)
  add.5 = s32[] add(get-tuple-element.4, constant.13)
  get-tuple-element.5 = f32[4]{0} get-tuple-element(arg_tuple.1), index=1
  constant.12 = f32[] constant(1.5)
  broadcast.2 = f32[4]{0} broadcast(constant.12), dimensions={}
  mul.1 = f32[4]{0} multiply(get-tuple-element.5, broadcast.2)
  get-tuple-element.7 = f32[3,4]{1,0} get-tuple-element(arg_tuple.1), index=3
  constant.11 = s32[] constant(3)
  jit_remainder_.1 = s32[] call(get-tuple-element.4, constant.11), to_apply=remainder.2
  constant.10 = s32[] constant(0)
  lt.5 = pred[] compare(jit_remainder_.1, constant.10), direction=LT
  add.6 = s32[] add(jit_remainder_.1, constant.11)
  select_n.5 = s32[] select(lt.5, add.6, jit_remainder_.1)
  dynamic_slice.1 = f32[1,4]{1,0} dynamic-slice(get-tuple-element.7, select_n.5, constant.10), dynamic_slice_sizes={1,4}
  squeeze.1 = f32[4]{0} reshape(dynamic_slice.1)
  add.7 = f32[4]{0} add(mul.1, squeeze.1)
  get-tuple-element.6 = s32[] get-tuple-element(arg_tuple.1), index=2
  ROOT tuple.1 = (s32[], f32[4]{0}, s32[], f32[3,4]{1,0}) tuple(add.5, add.7, get-tuple-element.6, get-tuple-element.7)
}

region_1.4 {
  arg_tuple.3 = (s32[], f32[4]{0}, s32[], f32[3,4]{1,0}) parameter(0)
  get-tuple-element.13 = f32[4]{0} get-tuple-element(arg_tuple.3), index=1
  get-tuple-element.15 = f32[3,4]{1,0} get-tuple-element(arg_tuple.3), index=3
  get-tuple-element.12 = s32[] get-tuple-element(arg_tuple.3), index=0
  get-tuple-element.14 = s32[] get-tuple-element(arg_tuple.3), index=2
  ROOT lt.7 = pred[] compare(get-tuple-element.12, get-tuple-element.14), direction=LT
}

ENTRY main.5 {
  constant.14 = s32[] constant(0)
  constant.15 = f32[] constant(0)
  broadcast.3 = f32[4]{0} broadcast(constant.15), dimensions={}
  n.1 = s32[] parameter(1)
  x.1 = f32[3,4]{1,0} parameter(0)
  while.4 = (s32[], f32[4]{0}, s32[], f32[3,4]{1,0}) tuple(constant.14, broadcast.3, n.1, x.1)
  while.5 = (s32[], f32[4]{0}, s32[], f32[3,4]{1,0}) while(while.4), condition=region_1.4, body=region_0.3
  while.6 = s32[] get-tuple-element(while.5), index=0
  while.7 = f32[4]{0} get-tuple-element(while.5), index=1
  ROOT tuple.3 = (s32[], f32[4]{0}) tuple(while.6, while.7)
}
""",
    "jax_segment_sum": """
HloModule jit__lambda, entry_computation_layout={(f32[7,3]{1,0}, s32[7]{0})->(f32[4,3]{1,0}, f32[4,3]{1,0})}

region_0.1 {
  scatter-add.2 = f32[] parameter(0)
  scatter-add.3 = f32[] parameter(1)
  ROOT add.1 = f32[] add(scatter-add.2, scatter-add.3)
}

region_1.2 {
  scatter-max.2 = f32[] parameter(0)
  scatter-max.3 = f32[] parameter(1)
  ROOT max.1 = f32[] maximum(scatter-max.2, scatter-max.3)
}

ENTRY main.3 {
  constant.3 = f32[] constant(0)
  broadcast.3 = f32[4,3]{1,0} broadcast(constant.3), dimensions={}
  s.1 = s32[7]{0} parameter(1)
  broadcast_in_dim.2 = s32[7,1]{1,0} reshape(s.1)
  x.1 = f32[7,3]{1,0} parameter(0)
  scatter-add.5 = f32[4,3]{1,0} scatter(broadcast.3, broadcast_in_dim.2, x.1), update_window_dims={1}, inserted_window_dims={0}, scatter_dims_to_operand_dims={0}, index_vector_dim=1, to_apply=region_0.1
  constant.2 = f32[] constant(-inf)
  broadcast.2 = f32[4,3]{1,0} broadcast(constant.2), dimensions={}
  broadcast_in_dim.3 = s32[7,1]{1,0} reshape(s.1)
  scatter-max.5 = f32[4,3]{1,0} scatter(broadcast.2, broadcast_in_dim.3, x.1), update_window_dims={1}, inserted_window_dims={0}, scatter_dims_to_operand_dims={0}, index_vector_dim=1, to_apply=region_1.2
  ROOT tuple.1 = (f32[4,3]{1,0}, f32[4,3]{1,0}) tuple(scatter-add.5, scatter-max.5)
}
""",
    "jax_reduce_window": """
HloModule jit__lambda, entry_computation_layout={(f32[4,6]{1,0})->(f32[4,6]{1,0}, f32[2,6]{1,0}, f32[7,3]{1,0}, f32[4,5]{1,0})}

region_0.1 {
  reduce_window_sum.3 = f32[] parameter(0)
  reduce_window_sum.4 = f32[] parameter(1)
  ROOT reduce_window_sum.5 = f32[] add(reduce_window_sum.3, reduce_window_sum.4)
}

cumsum_0.2 {
  Arg_0.2 = f32[4,6]{1,0} parameter(0)
  constant.4 = f32[] constant(0)
  ROOT reduce_window_sum.7 = f32[4,6]{1,0} reduce-window(Arg_0.2, constant.4), window={size=1x6 pad=0_0x5_0}, to_apply=region_0.1
}

cumsum.3 {
  Arg_0.3 = f32[4,6]{1,0} parameter(0)
  ROOT call.1 = f32[4,6]{1,0} call(Arg_0.3), to_apply=cumsum_0.2
}

region_1.4 {
  reduce_window_max.3 = f32[] parameter(0)
  reduce_window_max.4 = f32[] parameter(1)
  ROOT reduce_window_max.5 = f32[] maximum(reduce_window_max.3, reduce_window_max.4)
}

region_2.5 {
  reduce_window_sum.11 = f32[] parameter(0)
  reduce_window_sum.12 = f32[] parameter(1)
  ROOT reduce_window_sum.13 = f32[] add(reduce_window_sum.11, reduce_window_sum.12)
}

region_3.6 {
  reduce_window.2 = f32[] parameter(0)
  constant.6 = f32[] constant(0.5)
  mul.1 = f32[] multiply(reduce_window.2, constant.6)
  reduce_window.3 = f32[] parameter(1)
  ROOT add.1 = f32[] add(mul.1, reduce_window.3)
}

ENTRY main.7 {
  x.1 = f32[4,6]{1,0} parameter(0)
  jit_cumsum_.1 = f32[4,6]{1,0} call(x.1), to_apply=cumsum.3
  constant.8 = f32[] constant(-inf)
  reduce_window_max.7 = f32[2,6]{1,0} reduce-window(x.1, constant.8), window={size=2x2 stride=2x1 pad=0_1x1_0}, to_apply=region_1.4
  constant.7 = f32[] constant(0)
  reduce_window_sum.15 = f32[7,3]{1,0} reduce-window(x.1, constant.7), window={size=2x3 stride=1x2 pad=0_1x1_2 lhs_dilate=2x1 rhs_dilate=1x2}, to_apply=region_2.5
  constant.9 = f32[] constant(1)
  reduce_window.5 = f32[4,5]{1,0} reduce-window(x.1, constant.9), window={size=1x2}, to_apply=region_3.6
  ROOT tuple.1 = (f32[4,6]{1,0}, f32[2,6]{1,0}, f32[7,3]{1,0}, f32[4,5]{1,0}) tuple(jit_cumsum_.1, reduce_window_max.7, reduce_window_sum.15, reduce_window.5)
}
""",
    "jax_argmax": """
HloModule jit__argmax_and_argmin, entry_computation_layout={(f32[4,5]{1,0})->(s32[4]{0}, s32[5]{0})}

region_0.1 {
  reduce.4 = f32[] parameter(0)
  reduce.6 = f32[] parameter(2)
  gt.1 = pred[] compare(reduce.4, reduce.6), direction=GT
  ne.1 = pred[] compare(reduce.4, reduce.4), direction=NE
  or.2 = pred[] or(gt.1, ne.1)
  select_n.2 = f32[] select(or.2, reduce.4, reduce.6)
  eq.1 = pred[] compare(reduce.4, reduce.6), direction=EQ
  reduce.5 = s32[] parameter(1)
  reduce.7 = s32[] parameter(3)
  lt.1 = pred[] compare(reduce.5, reduce.7), direction=LT
  and.1 = pred[] and(eq.1, lt.1)
  or.3 = pred[] or(or.2, and.1)
  select_n.3 = s32[] select(or.3, reduce.5, reduce.7)
  ROOT tuple.1 = (f32[], s32[]) tuple(select_n.2, select_n.3)
}

argmax.2 {
  jit__argmax_and_argmin_.1 = f32[4,5]{1,0} parameter(0)
  iota.2 = s32[5]{0} iota(), iota_dimension=0
  iota.3 = s32[4,5]{1,0} broadcast(iota.2), dimensions={1}
  constant.3 = f32[] constant(-inf)
  constant.2 = s32[] constant(0)
  reduce.11 = (f32[4]{0}, s32[4]{0}) reduce(jit__argmax_and_argmin_.1, iota.3, constant.3, constant.2), dimensions={1}, to_apply=region_0.1
  reduce.12 = f32[4]{0} get-tuple-element(reduce.11), index=0
  ROOT reduce.13 = s32[4]{0} get-tuple-element(reduce.11), index=1
}

region_1.3 {
  reduce.18 = f32[] parameter(0)
  reduce.20 = f32[] parameter(2)
  lt.4 = pred[] compare(reduce.18, reduce.20), direction=LT
  ne.3 = pred[] compare(reduce.18, reduce.18), direction=NE
  or.6 = pred[] or(lt.4, ne.3)
  select_n.6 = f32[] select(or.6, reduce.18, reduce.20)
  eq.3 = pred[] compare(reduce.18, reduce.20), direction=EQ
  reduce.19 = s32[] parameter(1)
  reduce.21 = s32[] parameter(3)
  lt.5 = pred[] compare(reduce.19, reduce.21), direction=LT
  and.3 = pred[] and(eq.3, lt.5)
  or.7 = pred[] or(or.6, and.3)
  select_n.7 = s32[] select(or.7, reduce.19, reduce.21)
  ROOT tuple.3 = (f32[], s32[]) tuple(select_n.6, select_n.7)
}

argmin.4 {
  jit__argmax_and_argmin_.4 = f32[4,5]{1,0} parameter(0)
  iota.6 = s32[4]{0} iota(), iota_dimension=0
  iota.7 = s32[4,5]{1,0} broadcast(iota.6), dimensions={0}
  constant.7 = f32[] constant(inf)
  constant.6 = s32[] constant(0)
  reduce.25 = (f32[5]{0}, s32[5]{0}) reduce(jit__argmax_and_argmin_.4, iota.7, constant.7, constant.6), dimensions={0}, to_apply=region_1.3
  reduce.26 = f32[5]{0} get-tuple-element(reduce.25), index=0
  ROOT reduce.27 = s32[5]{0} get-tuple-element(reduce.25), index=1
}

ENTRY main.5 {
  x.1 = f32[4,5]{1,0} parameter(0)
  jit__argmax_and_argmin_.6 = s32[4]{0} call(x.1), to_apply=argmax.2
  jit__argmax_and_argmin_.7 = s32[5]{0} call(x.1), to_apply=argmin.4
  ROOT tuple.5 = (s32[4]{0}, s32[5]{0}) tuple(jit__argmax_and_argmin_.6, jit__argmax_and_argmin_.7)
}
""",
    "jax_dynamic_slice": """
HloModule jit__lambda, entry_computation_layout={(f32[5,4]{1,0}, s32[], s32[])->(f32[2,3]{1,0}, f32[5,4]{1,0})}

ENTRY main.1 {
  x.1 = f32[5,4]{1,0} parameter(0)
  i.1 = s32[] parameter(1)
  constant.7 = s32[] constant(0)
  lt.4 = pred[] compare(i.1, constant.7), direction=LT
  constant.6 = s32[] constant(5)
  add.4 = s32[] add(i.1, constant.6)
  select_n.4 = s32[] select(lt.4, add.4, i.1)
  j.1 = s32[] parameter(2)
  lt.5 = pred[] compare(j.1, constant.7), direction=LT
  constant.5 = s32[] constant(4)
  add.5 = s32[] add(j.1, constant.5)
  select_n.5 = s32[] select(lt.5, add.5, j.1)
  dynamic_slice.1 = f32[2,3]{1,0} dynamic-slice(x.1, select_n.4, select_n.5), dynamic_slice_sizes={2,3}
  constant.4 = f32[] constant(1)
  broadcast.1 = f32[2,3]{1,0} broadcast(constant.4), dimensions={}
  lt.6 = pred[] compare(i.1, constant.7), direction=LT
  add.6 = s32[] add(i.1, constant.6)
  select_n.6 = s32[] select(lt.6, add.6, i.1)
  lt.7 = pred[] compare(j.1, constant.7), direction=LT
  add.7 = s32[] add(j.1, constant.5)
  select_n.7 = s32[] select(lt.7, add.7, j.1)
  dynamic_update_slice.1 = f32[5,4]{1,0} dynamic-update-slice(x.1, broadcast.1, select_n.6, select_n.7)
  ROOT tuple.1 = (f32[2,3]{1,0}, f32[5,4]{1,0}) tuple(dynamic_slice.1, dynamic_update_slice.1)
}
""",
    "jax_pad": """
HloModule jit__lambda, entry_computation_layout={(f32[3,4]{1,0})->(f32[8,6]{1,0}, f32[4,6]{1,0}, f32[3,6]{1,0})}

ENTRY main.1 {
  x.1 = f32[3,4]{1,0} parameter(0)
  constant.5 = f32[] constant(0.5)
  pad.3 = f32[8,6]{1,0} pad(x.1, constant.5), padding=1_2_1x-1_3_0
  constant.4 = f32[] constant(-1)
  pad.4 = f32[4,6]{1,0} pad(x.1, constant.4), padding=-2_-1_2x2_-3_1
  constant.3 = f32[] constant(9)
  pad.5 = f32[3,6]{1,0} pad(x.1, constant.3), padding=0_0x-4_6
  ROOT tuple.1 = (f32[8,6]{1,0}, f32[4,6]{1,0}, f32[3,6]{1,0}) tuple(pad.3, pad.4, pad.5)
}
""",
    "jax_dot": """
HloModule jit__lambda, entry_computation_layout={(f32[3,4]{1,0}, f32[4,5]{1,0}, f32[2,3,4]{2,1,0}, f32[2,4,3]{2,1,0}, s32[3,4]{1,0}, /*index=5*/s32[4,2]{1,0})->(f32[3,5]{1,0}, f32[2,3,3]{2,1,0}, f32[2,4,4]{2,1,0}, f32[3,5]{1,0}, s32[3,2]{1,0})}

ENTRY main.1 {
  a.1 = f32[3,4]{1,0} parameter(0)
  b.1 = f32[4,5]{1,0} parameter(1)
  dot_general.5 = f32[3,5]{1,0} dot(a.1, b.1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  c.1 = f32[2,3,4]{2,1,0} parameter(2)
  d.1 = f32[2,4,3]{2,1,0} parameter(3)
  dot_general.6 = f32[2,3,3]{2,1,0} dot(c.1, d.1), lhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_batch_dims={0}, rhs_contracting_dims={1}
  dot_general.7 = f32[2,4,4]{2,1,0} dot(c.1, d.1), lhs_batch_dims={0}, lhs_contracting_dims={1}, rhs_batch_dims={0}, rhs_contracting_dims={2}
  transpose.1 = f32[5,4]{0,1} transpose(b.1), dimensions={1,0}
  dot_general.8 = f32[3,5]{1,0} dot(a.1, transpose.1), lhs_contracting_dims={1}, rhs_contracting_dims={1}
  m.1 = s32[3,4]{1,0} parameter(4)
  n.1 = s32[4,2]{1,0} parameter(5)
  dot_general.9 = s32[3,2]{1,0} dot(m.1, n.1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  ROOT tuple.1 = (f32[3,5]{1,0}, f32[2,3,3]{2,1,0}, f32[2,4,4]{2,1,0}, f32[3,5]{1,0}, s32[3,2]{1,0}) tuple(dot_general.5, dot_general.6, dot_general.7, dot_general.8, dot_general.9)
}
""",
    "jax_scatter_batching": """
HloModule jit__lambda, entry_computation_layout={(f32[2,5,3]{2,1,0}, s32[2,3,1]{2,1,0}, f32[2,3,3]{2,1,0})->f32[2,5,3]{2,1,0}}

region_0.1 {
  scatter-add.2 = f32[] parameter(0)
  scatter-add.3 = f32[] parameter(1)
  ROOT add.1 = f32[] add(scatter-add.2, scatter-add.3)
}

ENTRY main.2 {
  x.1 = f32[2,5,3]{2,1,0} parameter(0)
  i.1 = s32[2,3,1]{2,1,0} parameter(1)
  u.1 = f32[2,3,3]{2,1,0} parameter(2)
  ROOT scatter-add.5 = f32[2,5,3]{2,1,0} scatter(x.1, i.1, u.1), update_window_dims={2}, inserted_window_dims={1}, scatter_dims_to_operand_dims={1}, input_batching_dims={0}, scatter_indices_batching_dims={0}, index_vector_dim=2, to_apply=region_0.1
}
""",
    "jax_switch": """
HloModule jit__switch, entry_computation_layout={(s32[], f32[3]{0})->f32[3]{0}}

region_0.1 {
  x.2 = f32[3]{0} parameter(0)
  constant.3 = f32[] constant(1)
  broadcast.1 = f32[3]{0} broadcast(constant.3), dimensions={}
  ROOT add.1 = f32[3]{0} add(x.2, broadcast.1)
}

region_1.2 {
  x.4 = f32[3]{0} parameter(0)
  constant.5 = f32[] constant(2)
  broadcast.3 = f32[3]{0} broadcast(constant.5), dimensions={}
  ROOT mul.1 = f32[3]{0} multiply(x.4, broadcast.3)
}

region_2.3 {
  x.6 = f32[3]{0} parameter(0)
  ROOT neg.1 = f32[3]{0} negate(x.6)
}

ENTRY main.4 {
  constant.6 = s32[] constant(0)
  i.1 = s32[] parameter(0)
  constant.7 = s32[] constant(2)
  clamp.1 = s32[] clamp(constant.6, i.1, constant.7)
  x.7 = f32[3]{0} parameter(1)
  ROOT cond.1 = f32[3]{0} conditional(clamp.1, x.7, x.7, x.7), branch_computations={region_0.1, region_1.2, region_2.3}
}
""",
    "jax_shapes": """
HloModule jit__lambda, entry_computation_layout={(f32[3,4]{1,0})->(f32[2,3,4,5]{3,2,1,0}, f32[4,3]{1,0}, f32[2,6]{1,0}, f32[4,3]{0,1}, f32[2,3,2]{0,2,1}, /*index=5*/f32[3,4]{1,0}, f32[3,9]{1,0}, f32[2,2]{1,0}, s32[3,4]{1,0}, f32[2,3]{1,0})}

_flip.1 {
  Arg_0.1 = f32[3,4]{1,0} parameter(0)
  ROOT rev.1 = f32[3,4]{1,0} reverse(Arg_0.1), dimensions={0,1}
}

ENTRY main.2 {
  x.1 = f32[3,4]{1,0} parameter(0)
  broadcast_in_dim.2 = f32[2,3,4,5]{3,2,1,0} broadcast(x.1), dimensions={1,2}
  slice.3 = f32[1,4]{1,0} slice(x.1), slice={[0:1], [0:4]}
  squeeze.1 = f32[4]{0} reshape(slice.3)
  broadcast_in_dim.3 = f32[4,3]{1,0} broadcast(squeeze.1), dimensions={0}
  reshape.2 = f32[2,6]{1,0} reshape(x.1)
  transpose.2 = f32[4,3]{0,1} transpose(x.1), dimensions={1,0}
  reshape.3 = f32[3,2,2]{2,1,0} reshape(x.1)
  transpose.3 = f32[2,3,2]{0,2,1} transpose(reshape.3), dimensions={2,0,1}
  jit__flip_.1 = f32[3,4]{1,0} call(x.1), to_apply=_flip.1
  constant.1 = f32[] constant(2)
  broadcast.1 = f32[3,4]{1,0} broadcast(constant.1), dimensions={}
  mul.1 = f32[3,4]{1,0} multiply(x.1, broadcast.1)
  slice.4 = f32[3,1]{1,0} slice(x.1), slice={[0:3], [0:1]}
  concatenate.1 = f32[3,9]{1,0} concatenate(x.1, mul.1, slice.4), dimensions={1}
  slice.5 = f32[2,2]{1,0} slice(x.1), slice={[1:3:1], [0:4:2]}
  iota.4 = s32[4]{0} iota(), iota_dimension=0
  iota.5 = s32[3,4]{1,0} broadcast(iota.4), dimensions={1}
  iota.6 = f32[2]{0} iota(), iota_dimension=0
  iota.7 = f32[2,3]{1,0} broadcast(iota.6), dimensions={0}
  ROOT tuple.1 = (f32[2,3,4,5]{3,2,1,0}, f32[4,3]{1,0}, f32[2,6]{1,0}, f32[4,3]{0,1}, f32[2,3,2]{0,2,1}, /*index=5*/f32[3,4]{1,0}, f32[3,9]{1,0}, f32[2,2]{1,0}, s32[3,4]{1,0}, f32[2,3]{1,0}) tuple(broadcast_in_dim.2, broadcast_in_dim.3, reshape.2, transpose.2, transpose.3, jit__flip_.1, concatenate.1, slice.5, iota.5, iota.7)
}
""",
    "tf_bag": """
HloModule a_inference__lambda__9__.2, entry_computation_layout={(f32[5,4]{1,0}, s32[6]{0})->f32[4]{0}}

%Sum-reduction.1 (x.1: f32[], y.1: f32[]) -> f32[] {
  %x.1 = f32[] parameter(0)
  %y.1 = f32[] parameter(1)
  ROOT %add.1 = f32[] add(f32[] %x.1, f32[] %y.1)
}

ENTRY %a_inference__lambda__9__.2 (arg0.1: f32[5,4], arg1.1: s32[6]) -> f32[4] {
  %arg0.1 = f32[5,4]{1,0} parameter(0), parameter_replication={false}, metadata={op_name="XLA_Args"}
  %reshape.2 = f32[5,4]{1,0} reshape(f32[5,4]{1,0} %arg0.1)
  %arg1.1 = s32[6]{0} parameter(1), parameter_replication={false}, metadata={op_name="XLA_Args"}
  %reshape.3 = s32[6]{0} reshape(s32[6]{0} %arg1.1)
  %GatherV2.1 = f32[6,4]{1,0} gather(f32[5,4]{1,0} %reshape.2, s32[6]{0} %reshape.3), offset_dims={1}, collapsed_slice_dims={0}, start_index_map={0}, index_vector_dim=1, slice_sizes={1,4}, metadata={op_type="GatherV2"}
  %Sum.5 = f32[6,4]{1,0} convert(f32[6,4]{1,0} %GatherV2.1), metadata={op_type="Sum"}
  %Sum.6 = f32[] constant(0), metadata={op_type="Sum"}
  %Sum.7 = f32[] convert(f32[] %Sum.6), metadata={op_type="Sum"}
  %Sum.8 = f32[4]{0} reduce(f32[6,4]{1,0} %Sum.5, f32[] %Sum.7), dimensions={0}, to_apply=%Sum-reduction.1, metadata={op_type="Sum"}
  %Sum.9 = f32[4]{0} convert(f32[4]{0} %Sum.8), metadata={op_type="Sum"}
  %XLA_Retvals.3 = f32[4]{0} reshape(f32[4]{0} %Sum.9), metadata={op_name="XLA_Retvals"}
  %XLA_Retvals.4 = (f32[4]{0}) tuple(f32[4]{0} %XLA_Retvals.3), metadata={op_name="XLA_Retvals"}
  ROOT %XLA_Retvals.5 = f32[4]{0} get-tuple-element((f32[4]{0}) %XLA_Retvals.4), index=0, metadata={op_name="XLA_Retvals"}
}
""",
}


# -- the tests ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_limits():
    """Lower the limits that bound one example's memory and time (see the docstring)."""
    from ember_tf.hlo import verifier
    from ember_tf.hlo.evaluator.ops import control

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(verifier, "MAX_WORKING_SET_BYTES", 64 << 20)
        patch.setattr(control, "MAX_WHILE_ITERATIONS", 10_000)
        check(SEEDS["lookup"])          # warm up the compiler and emulator outside any deadline
        yield


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_converts_and_runs(name, small_limits):
    from ember_tf.hlo import parse_module
    from ember_tf.hlo_import import HloConverter

    HloConverter(parse_module(SEEDS[name], name), name).convert()   # the seeds themselves are valid
    check(SEEDS[name])


@hypothesis.settings(max_examples=EXAMPLES, deadline=datetime.timedelta(seconds=5), derandomize=True,
                     database=None, suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(mutant=mutants())
def test_a_mutated_module_converts_runs_or_fails_cleanly(small_limits, mutant):
    seed, edits = mutant
    check(mutate(SEEDS[seed], edits))


def test_mutations_do_change_the_text():
    changed = {kind: mutate(SEEDS["lookup"], [(kind, 5, 3)]) != SEEDS["lookup"] for kind in set(KINDS)}
    assert all(changed.values()), changed
