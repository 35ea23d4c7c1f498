"""`read_module_proto`: the serialized HloModuleProto of a module imports to the same
Module as its text. Modules come from TensorFlow (`experimental_get_compiler_ir`, before
and after XLA's optimizations), from JAX, and from hand-written HLO that XLA parses
(via jaxlib) to reach attributes neither framework emits for these small functions."""

from __future__ import annotations

import functools
import os
import sys

import numpy as np
import pytest

from ember_tf.errors import EmberError
from ember_tf.hlo.module import Module
from ember_tf.hlo.proto import HloProtoUnavailableError, read_module_proto
from ember_tf.hlo.text import HloParseError, parse_module

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@functools.cache
def _tf():
    from ember_tf.tf_loader import tensorflow

    return tensorflow("the proto tests")


# -- the comparison ------------------------------------------------------------------------

def assert_same_module(text: Module, proto: Module) -> None:
    assert (proto.name, proto.entry) == (text.name, text.entry)
    assert list(proto.computations) == list(text.computations)      # callees before callers, as printed
    for name, expected in text.computations.items():
        got = proto.computations[name]
        assert got.root == expected.root, name
        assert [i.name for i in got.instructions] == [i.name for i in expected.instructions], name
        for want, have in zip(expected.instructions, got.instructions):
            where = f"{name}/{want.name}"
            assert (have.opcode, have.shape, have.operands) == (want.opcode, want.shape, want.operands), where
            assert have.parameter_number == want.parameter_number, where
            assert have.attrs == want.attrs, where
            assert (have.literal is None) == (want.literal is None), where
            if want.literal is not None:
                assert have.literal.dtype == want.literal.dtype, where
                assert have.literal.shape == want.literal.shape, where
                assert np.array_equal(have.literal, want.literal, equal_nan=True), where


# -- TensorFlow ----------------------------------------------------------------------------

def _tf_cases():
    tf = _tf()
    S = tf.TensorSpec

    def bag(t, ids):
        return tf.reduce_sum(tf.gather(t, ids), 1)

    def mlp(x, w, b, y):
        return tf.concat([tf.nn.relu(tf.matmul(x, w) + b), y], 1)

    def mixed(x, k):     # strided slice, transpose, dynamic slice, iota, compare, select
        mask = tf.range(8)[None, :] < k
        return tf.where(mask, tf.transpose(x[:, 1:9:2]), tf.slice(x, [k, 0], [4, 8]))

    def loop(x):
        return tf.while_loop(lambda i, a: i < 5, lambda i, a: (i + 1, a * 2.0), (0, x))[1]

    return {
        "lookup": (lambda t, ids: tf.gather(t, ids), [S([10, 4], tf.float32), S([3], tf.int32)]),
        "bag": (bag, [S([10, 4], tf.float32), S([2, 3], tf.int32)]),
        "segment_sum": (lambda t, src, dst: tf.math.unsorted_segment_sum(tf.gather(t, src), dst, 5),
                        [S([10, 4], tf.float32), S([6], tf.int32), S([6], tf.int32)]),
        "mlp": (mlp, [S([2, 4], tf.float32), S([4, 3], tf.float32), S([3], tf.float32), S([2, 5], tf.float32)]),
        "mixed": (mixed, [S([8, 10], tf.float32), S([], tf.int32)]),
        "while": (loop, [S([4], tf.float32)]),
        "cond": (lambda x, p: tf.cond(p, lambda: x * 2.0, lambda: x - 1.0), [S([4], tf.float32), S([], tf.bool)]),
    }


TF_CASES = ["lookup", "bag", "segment_sum", "mlp", "mixed", "while", "cond"]


@functools.cache
def tf_module(case: str, stage: str) -> tuple[str, bytes]:
    fn, specs = _tf_cases()[case]
    ir = _tf().function(fn, jit_compile=True).experimental_get_compiler_ir(*specs)
    return ir(stage=stage), ir(stage=f"{stage}_serialized")


@pytest.mark.parametrize("stage", ["hlo", "optimized_hlo"])
@pytest.mark.parametrize("case", TF_CASES)
def test_tensorflow_text_and_proto_import_the_same(case, stage):
    text, proto = tf_module(case, stage)
    assert_same_module(parse_module(text, f"{case}.hlo"), read_module_proto(proto, f"{case}.pb"))


def test_while_and_conditional_name_their_computations_as_the_text_does():
    loop = read_module_proto(tf_module("while", "hlo")[1])
    (while_,) = [i for c in loop.computations.values() for i in c.instructions if i.opcode == "while"]
    assert while_.attrs["condition"].startswith("cond_wrapper") and while_.attrs["body"].startswith("while_body")
    cond = read_module_proto(tf_module("cond", "hlo")[1])
    (conditional,) = [i for i in cond.entry_computation.instructions if i.opcode == "conditional"]
    assert conditional.attrs["true_computation"].startswith("cond_true")
    assert conditional.attrs["false_computation"].startswith("cond_false")
    names = list(loop.computations)
    assert names.index(while_.attrs["body"]) < names.index(loop.entry)        # callees first


def test_optimized_module_keeps_fusions_and_the_schedule_order():
    text, proto = tf_module("segment_sum", "optimized_hlo")
    module = read_module_proto(proto, "segment_sum.pb")
    fusions = [i for i in module.entry_computation.instructions if i.opcode == "fusion"]
    assert fusions and all(i.attrs["kind"] == "kLoop" and i.attrs["calls"] in module.computations for i in fusions)
    assert [i.name for i in module.entry_computation.instructions] == \
        [i.name for i in parse_module(text).entry_computation.instructions]


def test_large_constant_the_text_elides_is_read_from_the_proto():
    tf = _tf()
    values = np.arange(1000, dtype=np.float32) / 7
    f = tf.function(lambda x: x + tf.constant(values), jit_compile=True)
    ir = f.experimental_get_compiler_ir(tf.TensorSpec([1000], tf.float32))
    assert "constant({...})" in ir(stage="hlo")       # why the proto path exists
    module = read_module_proto(ir(stage="hlo_serialized"))
    (constant,) = [i for i in module.entry_computation.instructions if i.opcode == "constant"]
    assert constant.literal.dtype == np.float32 and np.array_equal(constant.literal, values)


# -- JAX -------------------------------------------------------------------------------------

def _jax_cases():
    jax = pytest.importorskip("jax")
    jnp, lax = jax.numpy, jax.lax
    f32 = lambda *s: jnp.zeros(s, jnp.float32)     # noqa: E731
    i32 = lambda *s: jnp.zeros(s, jnp.int32)       # noqa: E731
    return jax, {
        "bag": (lambda t, i: jnp.take(t, i, axis=0).sum(1), (f32(10, 4), i32(2, 3))),
        "segment_sum": (lambda t, s, d: jax.ops.segment_sum(t[s], d, 5), (f32(10, 4), i32(6), i32(6))),
        "fori": (lambda x: lax.fori_loop(0, 3, lambda i, a: a * 2 + i, x), (f32(4),)),
        "switch": (lambda i, x: lax.switch(i, [jnp.sin, jnp.cos, lambda v: -v], x), (i32(), f32(4))),
        "sort_cumsum": (lambda x: (jnp.sort(x, axis=1), jnp.cumsum(x, axis=0)), (f32(4, 5),)),
        "pool_grad": (jax.grad(lambda x: lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                                           "VALID").sum()), (f32(1, 4, 4, 2),)),
        "conv": (lambda x, k: lax.conv_general_dilated(x, k, (2, 1), [(1, 1), (0, 2)], rhs_dilation=(1, 2),
                                                       dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                                       feature_group_count=2),
                 (f32(1, 8, 8, 4), f32(3, 3, 2, 4))),
        "pad_flip": (lambda x: jnp.flip(lax.pad(x, 0.0, [(1, 2, 1), (0, 0, 0)]), 0), (f32(3, 4),)),
        "types": (lambda x: (x.astype(jnp.bfloat16) * jnp.bfloat16(1.5)).astype(jnp.float16)
                  + jnp.float16(0.25) + jnp.array([np.nan, np.inf, -2.5e-8], jnp.float16), (f32(3),)),
        "batched_dot": (lambda a, b: jnp.einsum("bij,bjk->bik", a, b), (f32(2, 3, 4), f32(2, 4, 5))),
    }


@pytest.mark.parametrize("case", ["bag", "segment_sum", "fori", "switch", "sort_cumsum", "pool_grad", "conv",
                                  "pad_flip", "types", "batched_dot"])
def test_jax_text_and_proto_import_the_same(case):
    jax, cases = _jax_cases()
    fn, args = cases[case]
    lowered = jax.jit(fn).lower(*args)
    hlo = lowered.compiler_ir("hlo")          # JAX's short text form
    assert_same_module(parse_module(hlo.as_hlo_text(), case), read_module_proto(hlo.as_serialized_hlo_module_proto()))
    optimized = lowered.compile().runtime_executable().hlo_modules()[0]
    assert_same_module(parse_module(optimized.to_string(_print_options()), case),
                       read_module_proto(optimized.as_serialized_hlo_module_proto()))


def _print_options():
    hlo = pytest.importorskip("jaxlib._hlo")
    options = hlo.HloPrintOptions()
    options.print_metadata = False      # else XLA prints a stack-frame table the text parser does not read
    return options


# -- hand-written HLO, parsed and printed by XLA itself -------------------------------------

HAND_WRITTEN = """
HloModule hand

add {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT s = f32[] add(a, b)
}

ge {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT c = pred[] compare(a, b), direction=GE
}

total_lt {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT c = pred[] compare(a, b), direction=LT, type=TOTALORDER
}

body {
  p = (s32[], f32[2,3]) parameter(0)
  i = s32[] get-tuple-element(p), index=0
  one = s32[] constant(1)
  n = s32[] add(i, one)
  x = f32[2,3] get-tuple-element(p), index=1
  ROOT t = (s32[], f32[2,3]) tuple(n, x)
}

cond {
  p = (s32[], f32[2,3]) parameter(0)
  i = s32[] get-tuple-element(p), index=0
  limit = s32[] constant(3)
  ROOT c = pred[] compare(i, limit), direction=LT
}

neg {
  p = f32[2,3] parameter(0)
  ROOT n = f32[2,3] negate(p)
}

exp {
  p = f32[2,3] parameter(0)
  ROOT e = f32[2,3] exponential(p)
}

fused {
  p0 = f32[2,3] parameter(0)
  p1 = f32[2,3] parameter(1)
  ROOT m = f32[2,3] multiply(p0, p1)
}

ENTRY main {
  x = f32[4,6] parameter(0)
  i = s32[] parameter(1)
  u = u32[4] parameter(2)
  img = f32[1,8,8,2] parameter(3)
  k = f32[3,3,2,4] parameter(4)
  src = f32[4,3] parameter(5)
  op = f32[3,4,5] parameter(6)
  ix = s32[3,2] parameter(7)
  tab = f32[10,4] parameter(8)
  si = s32[6] parameter(9)
  up = f32[6,4] parameter(10)
  pr = pred[] parameter(11)
  br = s32[] parameter(12)
  zero = f32[] constant(0)
  cm = f32[2,3]{0,1} constant({{1, 2, 3}, {4, 5, 6}})
  c3 = s32[2,2,2]{0,2,1} constant({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}})
  h = f16[2] constant({1.5, -2})
  bh = bf16[2] constant({0.5, 3})
  b8 = u8[3] constant({1, 2, 255})
  i8 = s8[2] constant({-1, 7})
  i64 = s64[2] constant({-5, 9000000000})
  d = f64[2] constant({0.1, inf})
  pv = pred[3] constant({true, false, true})
  t = f32[6,4] transpose(x), dimensions={1,0}
  r = f32[6,4] reverse(t), dimensions={0,1}
  rs = f32[24] reshape(x), inferred_dimension=0
  sl = f32[2,3] slice(x), slice={[0:4:2], [1:4]}
  sl1 = f32[2,3] slice(x), slice={[0:2], [1:4]}
  pd = f32[7,12] pad(x, zero), padding=1_2x0_1_1
  pd2 = f32[5,9] pad(x, zero), padding=0_1x3_0
  io = s32[4,6] iota(), iota_dimension=1
  cu = pred[4] compare(u, u), direction=EQ
  cs = pred[4] compare(u, u), direction=EQ, type=SIGNED
  red = f32[4] reduce(x, zero), dimensions={1}, to_apply=add
  rw = f32[4,3] reduce-window(x, zero), window={size=1x2 stride=1x2}, to_apply=add
  rw2 = f32[5,7] reduce-window(x, zero), window={size=2x2 pad=1_1x1_1}, to_apply=add
  sas = f32[4,6] select-and-scatter(x, src, zero), window={size=1x2 stride=1x2}, select=ge, scatter=add
  st = f32[4,6] sort(x), dimensions={1}, is_stable=true, to_apply=total_lt
  mp = f32[4,6] map(x, x), dimensions={0,1}, to_apply=add
  rp = f32[4,6] reduce-precision(x), exponent_bits=5, mantissa_bits=10
  cv = f32[1,4,4,4] convolution(img, k), window={size=3x3 stride=2x2 pad=1_1x1_1}, dim_labels=b01f_01io->b01f
  cc = f32[4,6] custom-call(x), custom_call_target="my target", custom_call_has_side_effect=true, api_version=API_VERSION_STATUS_RETURNING
  cw = f32[1,6,6,4] custom-call(img, k), window={size=3x3}, dim_labels=b01f_01io->b01f, custom_call_target="conv"
  ds = f32[2,2] dynamic-slice(x, i, i), dynamic_slice_sizes={2,2}
  one = f32[] constant(1)
  rng = f32[4] rng(zero, one), distribution=rng_normal
  gd = s32[] get-dimension-size(x), dimensions={1}
  z = s32[] constant(0)
  tup = (s32[], f32[2,3]) tuple(z, cm)
  w = (s32[], f32[2,3]) while(tup), condition=cond, body=body
  wx = f32[2,3] get-tuple-element(w), index=1
  cd = f32[2,3] conditional(pr, wx, wx), true_computation=neg, false_computation=exp
  sw = f32[2,3] conditional(br, wx, wx, wx), branch_computations={exp, neg, exp}
  fu = f32[2,3] fusion(cd, sw), kind=kLoop, calls=fused
  cl = f32[2,3] call(fu), to_apply=exp
  g = f32[3,5,2] gather(op, ix), offset_dims={1}, collapsed_slice_dims={1}, start_index_map={1}, operand_batching_dims={0}, start_indices_batching_dims={0}, index_vector_dim=2, slice_sizes={1,1,5}, indices_are_sorted=true
  sc = f32[10,4] scatter(tab, si, up), update_window_dims={1}, inserted_window_dims={0}, scatter_dims_to_operand_dims={0}, index_vector_dim=1, indices_are_sorted=true, unique_indices=true, to_apply=add
  sv = f32[4] parameter(13)
  bn = f32[10,4] batch-norm-inference(tab, sv, sv, sv, sv), epsilon=0.001, feature_index=1
  tk = (f32[10,2], s32[10,2]) topk(tab), k=2, largest=true
  ROOT root = (f32[6,4], f32[2,3], f32[10,4]) tuple(r, cl, sc)
}
"""


def test_hand_written_module_printed_by_xla_and_its_proto_import_the_same():
    hlo = pytest.importorskip("jaxlib._hlo")
    if not hasattr(hlo, "hlo_module_from_text"):
        pytest.skip("this jaxlib cannot parse HLO text")
    module = hlo.hlo_module_from_text(HAND_WRITTEN)
    text = parse_module(module.to_string(), "hand")
    proto = read_module_proto(module.as_serialized_hlo_module_proto(), "hand.pb")
    assert_same_module(text, proto)
    entry = proto.entry_computation
    # a constant stored column-major in the proto still reads row-major
    assert entry.instruction("cm").literal.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert entry.instruction("sl").attrs["slice"] == "{[0:4:2],[1:4:1]}"   # every stride, as XLA prints
    assert entry.instruction("sl1").attrs["slice"] == "{[0:2],[1:4]}"


# -- wrappers and errors ------------------------------------------------------------------

def test_hlo_proto_and_snapshot_wrappers_are_unwrapped():
    from tensorflow.compiler.xla.service import hlo_pb2

    text, data = tf_module("bag", "hlo")
    inner = hlo_pb2.HloModuleProto.FromString(data)
    expected = parse_module(text)
    assert_same_module(expected, read_module_proto(hlo_pb2.HloProto(hlo_module=inner).SerializeToString()))
    snapshot = hlo_pb2.HloSnapshot(hlo=hlo_pb2.HloProto(hlo_module=inner))
    assert_same_module(expected, read_module_proto(snapshot.SerializeToString()))


@pytest.mark.parametrize("data, problem", [
    (b"\x00\x01garbage, not a protocol buffer\xff\xfe", "corrupt or truncated"),
    (b"", "empty"),
    (b"\x0a\x05hello", "no computations"),           # a valid message, but of nothing
])
def test_bytes_that_are_not_a_module_give_a_one_line_error(data, problem):
    with pytest.raises(HloParseError) as info:
        read_module_proto(data, "model.pb")
    message = str(info.value)
    assert "\n" not in message and message.startswith("model.pb: ") and problem in message
    assert isinstance(info.value, EmberError)


def test_truncated_proto_gives_a_one_line_error():
    data = tf_module("lookup", "hlo")[1]
    for cut in (len(data) // 3, len(data) - 7):
        with pytest.raises(HloParseError, match=r"^cut\.pb: not a serialized HloModuleProto: .*truncated") as info:
            read_module_proto(data[:cut], "cut.pb")
        assert "\n" not in str(info.value)


def test_dangling_references_are_reported_not_raised_from_protobuf():
    from tensorflow.compiler.xla.service import hlo_pb2

    proto = hlo_pb2.HloModuleProto.FromString(tf_module("bag", "hlo")[1])
    entry = [c for c in proto.computations if c.id == proto.entry_computation_id][0]
    reduce = [i for i in entry.instructions if i.opcode == "reduce"][0]
    reduce.called_computation_ids[0] = 999
    with pytest.raises(HloParseError, match=r"^bad\.pb: .*calls computation id 999"):
        read_module_proto(proto.SerializeToString(), "bad.pb")
    reduce.operand_ids[0] = 12345
    with pytest.raises(HloParseError, match=r"^bad\.pb: .*operand id 12345 is not an instruction"):
        read_module_proto(proto.SerializeToString(), "bad.pb")


def test_missing_xla_protos_give_an_ember_error(monkeypatch):
    import tensorflow.compiler.xla.service as service

    monkeypatch.delattr(service, "hlo_pb2", raising=False)
    monkeypatch.setitem(sys.modules, "tensorflow.compiler.xla.service.hlo_pb2", None)
    with pytest.raises(HloProtoUnavailableError, match="TensorFlow's bundled XLA protos"):
        read_module_proto(b"")
