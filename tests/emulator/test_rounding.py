"""The rounding rule (ember_tf/emulator/rounding.py, docs/EMULATOR.md): a value converted to
float16, bfloat16 or float32 is rounded once, to nearest with ties to even, from the exact value
the machine holds. Checked against exact rational arithmetic (fractions.Fraction), never against
numpy's or ml_dtypes' own casts: the fast mode's scalar functions, the golden mode's `convert`,
and both modes end to end through every instruction that converts."""

from __future__ import annotations

import math
import operator
import struct
from fractions import Fraction

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.dae_isa import dtypes
from ember_tf.emulator import Interpreter, rounding
from tests.emulator.programs import TMU_MACHINE

# name: (significand bits p, exponent bias)
FORMATS = {"float16": (11, 15), "bfloat16": (8, 127), "float32": (24, 127), "float64": (53, 1023)}
CODES = {"float16": rounding.F16, "bfloat16": rounding.BF16, "float32": rounding.F32, "float64": rounding.F64}
NARROW = ("float16", "bfloat16", "float32")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def np_dtype(name: str) -> np.dtype:
    return dtypes.numpy_dtype(dtypes.BY_NAME[name].code)


# -- the exact reference ----------------------------------------------------------------------

def _floor_log2(x: Fraction) -> int:
    e = x.numerator.bit_length() - x.denominator.bit_length()
    while Fraction(2) ** e > x:
        e -= 1
    while Fraction(2) ** (e + 1) <= x:
        e += 1
    return e


def exact(value: int | float | Fraction, name: str) -> float:
    """`value` (a Python int, a Fraction, or a float that is not a NaN) rounded to nearest, ties
    to even, in exact rational arithmetic, to format `name`: the result as a Python float (exact)."""
    precision, bias = FORMATS[name]
    if isinstance(value, float) and (math.isinf(value) or value == 0):
        return value
    x = Fraction(value)
    if x == 0:
        return 0.0
    sign = -1.0 if x < 0 else 1.0
    magnitude = abs(x)
    ulp = Fraction(2) ** (max(_floor_log2(magnitude), 1 - bias) - (precision - 1))
    count = magnitude / ulp
    kept = math.floor(count)
    rest = count - kept
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and kept % 2 == 1):
        kept += 1
    result = kept * ulp
    largest = (2 - Fraction(1, 2 ** (precision - 1))) * Fraction(2) ** bias
    if result > largest:
        return sign * math.inf
    return sign * float(result)  # a zero result keeps the sign: -1.0 * 0.0 is -0.0


def encode(value: float, name: str) -> int:
    """The bits of a value exactly representable in format `name` (struct packs exactly)."""
    if name == "float16":
        return struct.unpack("<H", struct.pack("<e", value))[0]
    if name == "bfloat16":
        return struct.unpack("<I", struct.pack("<f", value))[0] >> 16
    if name == "float32":
        return struct.unpack("<I", struct.pack("<f", value))[0]
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def expected_bits(value: int | float, name: str) -> int:
    """The reference's bits; a NaN (quiet, no payload: np.nan or -np.nan) stays a quiet NaN of its sign."""
    if isinstance(value, float) and math.isnan(value):
        negative = math.copysign(1.0, value) < 0
        return {"float16": 0x7E00 | negative << 15, "bfloat16": 0x7FC0 | negative << 15,
                "float32": 0x7FC00000 | negative << 31, "float64": 0x7FF8000000000000 | negative << 63}[name]
    return encode(exact(value, name), name)


def bits_of(array: np.ndarray) -> np.ndarray:
    return array.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[array.dtype.itemsize])


# -- the values --------------------------------------------------------------------------------

def _special_floats() -> list[float]:
    f16_max, bf16_max = 65504.0, (2 - 2 ** -7) * 2.0 ** 127
    f32_max = (2 - 2 ** -23) * 2.0 ** 127
    special = [
        0.0, np.inf, 1.0, 65504.0, 65519.99, 65520.0, 6.1e-05, 5.96e-08, 2.98e-08, 1e-10,
        1.0 + 2 ** -11, 1.0 + 2 ** -11 + 2 ** -40, 1.0 + 2 ** -8 + 2 ** -30, 3.4e38, 1e39, 1e-300, 5e-324,
        # overflow: the largest finite, the tie half an ulp above it (to inf), just below the tie
        f16_max, f16_max + 16, math.nextafter(f16_max + 16, 0),
        bf16_max, bf16_max + 2.0 ** 119, math.nextafter(bf16_max + 2.0 ** 119, 0),
        f32_max, f32_max + 2.0 ** 103, math.nextafter(f32_max + 2.0 ** 103, 0),
        # subnormal boundaries: the smallest subnormal, half of it (a tie to 0), just above the
        # half, 1.5 of it (a tie to 2), the smallest normal, the tie below it (to the normal)
        2.0 ** -24, 2.0 ** -25, math.nextafter(2.0 ** -25, 1), 3 * 2.0 ** -25, 2.0 ** -14, 2.0 ** -14 - 2.0 ** -25,
        2.0 ** -133, 2.0 ** -134, math.nextafter(2.0 ** -134, 1), 3 * 2.0 ** -134, 2.0 ** -126,
        2.0 ** -126 - 2.0 ** -134, 2.0 ** -149, 2.0 ** -150, 3 * 2.0 ** -150,
        # exact ties (to even: down, then up) and their neighbours
        1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, math.nextafter(1.0 + 2 ** -8, 2), math.nextafter(1.0 + 2 ** -8, 0),
        1.0 + 2 ** -11, 1.0 + 3 * 2 ** -11, 1.0 + 2 ** -24, 1.0 + 3 * 2 ** -24, 257.0, 259.0, 2049.0, 2051.0,
        # where rounding through float32 first would differ (double rounding)
        1.0 + 2 ** -8 + 2 ** -25, 1.0 + 2 ** -11 + 2 ** -25, 2.0 ** -126 * (1 + 2 ** -8 + 2 ** -30),
    ]
    return special


def edge_floats() -> list[float]:
    rng = np.random.default_rng(2)
    special = _special_floats()
    randoms = rng.standard_normal(3000) * 10.0 ** rng.integers(-45, 40, 3000)
    return special + [-v for v in special] + [float(v) for v in randoms]


def edge_ints() -> list[int]:
    rng = np.random.default_rng(3)
    special = [
        0, 1, 255, 256, 257, 258, 259, 2047, 2048, 2049, 2050, 2051, 65504, 65519, 65520, 65535, 65536,
        (1 << 24) + 1, (1 << 24) + 3, (1 << 53) - 1, 1 << 53, (1 << 53) + 1, (1 << 53) + 3, (1 << 54) + 2,
        (1 << 54) + 6, (1 << 60) + (1 << 52) + 1, (1 << 60) + (1 << 52), (1 << 60) + (1 << 36) + 1,
        (1 << 60) + (1 << 36), (1 << 60) + (3 << 52), (1 << 62) + (1 << 54) + 1, INT64_MAX, INT64_MAX - 1,
        (1 << 63) - (1 << 39), (1 << 63) - (1 << 39) - 1, (1 << 63) - (1 << 54), (1 << 63) - (1 << 54) - 1,
    ]
    wide = rng.integers(INT64_MIN, INT64_MAX, 1000, dtype=np.int64, endpoint=True)
    randoms = [int(v) >> int(s) for v, s in zip(wide, rng.integers(0, 63, 1000))]  # every magnitude
    return special + [-v for v in special] + [INT64_MIN, INT64_MIN + 1] + randoms


FLOATS, INTS = edge_floats(), edge_ints()


# -- the fast mode's scalar functions -----------------------------------------------------------

@pytest.mark.parametrize("name", NARROW)
def test_fast_float64_conversions_round_once(name):
    code = CODES[name]
    for v in FLOATS + [np.nan, -np.nan]:
        got = rounding.round_float(v, code)
        want = exact(v, name) if not math.isnan(v) else v
        assert encode(got, "float64") == encode(want, "float64") or (math.isnan(got) and math.isnan(want)), v
        if name == "float16":
            assert rounding.f16_bits(v) == expected_bits(v, name), v
        elif name == "bfloat16":
            assert rounding.bf16_bits(v) == expected_bits(v, name), v


@pytest.mark.parametrize("name", NARROW + ("float64",))
def test_fast_int64_conversions_round_once(name):
    for x in INTS:
        got = rounding.round_int(x, CODES[name])
        assert encode(got, "float64") == encode(exact(x, name), "float64"), x


def test_fast_decoding_is_exact_and_round_trips():
    for bits in range(1 << 16):
        f16 = struct.unpack("<e", struct.pack("<H", bits))[0]
        bf16 = struct.unpack("<f", struct.pack("<I", bits << 16))[0]
        got16, got_bf = rounding.f16_value(bits), rounding.bf16_value(bits)
        if math.isnan(f16):
            assert math.isnan(got16) and rounding.f16_bits(got16) == bits | 0x200  # made quiet
        else:
            assert encode(got16, "float64") == encode(f16, "float64") and rounding.f16_bits(got16) == bits
        if math.isnan(bf16):
            assert math.isnan(got_bf) and rounding.bf16_bits(got_bf) == bits | 0x40
        else:
            assert encode(got_bf, "float64") == encode(bf16, "float64") and rounding.bf16_bits(got_bf) == bits


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_every_midpoint_rounds_to_even(name):
    """Between every two adjacent finite values of the format: the midpoint goes to the even
    one, the float64s just beside it to the nearer one (fast and golden alike)."""
    below = np.arange(0, (0x7C00 if name == "float16" else 0x7F80), dtype=np.int64)  # +0 .. largest finite
    decode = np.vectorize(rounding.f16_value if name == "float16" else rounding.bf16_value, otypes=[np.float64])
    low, high = decode(below), decode(below + 1)  # high of the largest finite is inf: skipped below
    finite = np.isfinite(high)
    middle = (low + high)[finite] / 2  # exact in float64
    even = np.where(below[finite] % 2 == 0, below[finite], below[finite] + 1)
    cases = [(middle, even), (np.nextafter(middle, 0), below[finite]),
             (np.nextafter(middle, np.inf), below[finite] + 1)]
    fast = np.vectorize(rounding.f16_bits if name == "float16" else rounding.bf16_bits, otypes=[np.int64])
    for values, want in cases:
        for sign in (1.0, -1.0):
            want_bits = want | (0x8000 if sign < 0 else 0)
            assert np.array_equal(fast(sign * values), want_bits)
            assert np.array_equal(bits_of(rounding.convert(sign * values, np_dtype(name))), want_bits)


# -- the golden mode's convert ---------------------------------------------------------------

@pytest.mark.parametrize("name", NARROW + ("float64",))
def test_golden_conversions_round_once(name):
    floats = np.array(FLOATS + [np.nan, -np.nan], np.float64)
    got = bits_of(rounding.convert(floats, np_dtype(name)))
    assert got.tolist() == [expected_bits(float(v), name) for v in floats]
    ints = np.array(INTS, np.int64)
    got = bits_of(rounding.convert(ints, np_dtype(name)))
    assert got.tolist() == [expected_bits(int(x), name) for x in INTS]
    assert rounding.convert(np.float64(1.0 + 2 ** -8 + 2 ** -30), np_dtype(name)).shape == ()  # a scalar: 0-d


@pytest.mark.parametrize("source", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", NARROW + ("float64",))
def test_golden_conversions_from_narrower_floats(source, name):
    values = np.array([v for v in FLOATS], np.float64)
    narrow = rounding.convert(values, np_dtype(source))  # any values of the source format
    held = [float(v) for v in rounding.convert(narrow, np.float64)]  # exact
    got = bits_of(rounding.convert(narrow, np_dtype(name)))
    assert got.tolist() == [expected_bits(v, name) for v in held]


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_half_arithmetic_rounds_once_from_the_exact_result(name):
    """fadd/fsub/fmul/fdiv on half types: golden's `compute` and the fast mode's float64
    operation rounded by round_float both give the exact result rounded once."""
    rng = np.random.default_rng(7)
    t = np_dtype(name)
    low, high = (-4, 3) if name == "float16" else (-30, 30)  # finite operands; results may overflow
    a, b = (rounding.convert(rng.standard_normal(400) * 10.0 ** rng.integers(low, high, 400), t) for _ in range(2))
    held_a, held_b = ([float(v) for v in rounding.convert(x, np.float64)] for x in (a, b))
    for ufunc, op in ((np.add, operator.add), (np.subtract, operator.sub), (np.multiply, operator.mul),
                      (np.divide, operator.truediv)):
        want = [expected_bits(exact(op(Fraction(x), Fraction(y)), name), name) for x, y in zip(held_a, held_b)]
        with np.errstate(all="ignore"):
            assert bits_of(rounding.compute(ufunc, t, a, b)).tolist() == want, ufunc
        fast = [rounding.round_float(op(x, y), CODES[name]) for x, y in zip(held_a, held_b)]
        assert [expected_bits(v, name) for v in fast] == want, ufunc


# -- both modes, end to end ---------------------------------------------------------------------

LANES = {"float16": 32, "bfloat16": 32, "float32": 16}
SUFFIX = {"float16": "f16", "bfloat16": "bf16", "float32": "f32"}
OUTPUTS = ["o_fcvt", "o_fst", "o_fmul", "o_vsplat", "o_vcvt_i", "o_vcvt_x", "o_lf", "o_popf", "o_vpop_i", "o_vpop_x",
           "o_bld_i", "o_bld_x"]
FROM_INTS = {"o_fcvt", "o_vcvt_i", "o_vpop_i", "o_bld_i"}


def _literal(value: float) -> str:
    """A float as the assembler reads it back exactly (float.hex drops a NaN's sign)."""
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return float.hex(float(value))


def convert_program(name: str, constants: list[float]) -> str:
    """Every instruction that converts into element type `name`, over inputs `ints` (int64) and
    `xs` (float64) of one length n >= len(constants), each into its own output of n elements:
    the core's fcvt, fst of a float64 register, an fmul operand, vsplat, vcvt of int64 and of
    float64 vectors, lf of each constant; the queue's q.popf of float64 scalars, q.vpop of int64
    and float64 vectors, bld from int64 and float64 buffers."""
    t, lanes = SUFFIX[name], LANES[name]
    lines = [f'.model version=1 description="conversions to {name}"',
             '.tensor 0 "ints" dtype=int64 shape=[1] signature=[-1]',
             '.tensor 1 "xs" dtype=float64 shape=[1] signature=[-1]']
    lines += [f'.tensor {2 + i} "{o}" dtype={name} shape=[1] signature=[-1]' for i, o in enumerate(OUTPUTS)]
    lines += ['.kernel "convert"', TMU_MACHINE, ".slot ints int64 read rank=1", ".slot xs float64 read rank=1"]
    lines += [f".slot {o} {name} write rank=1 shape=[p0]" for o in OUTPUTS]
    lines += [".param p0 slot=ints dim=0"]
    lines += [f".fconst kf{k} {_literal(v)}" for k, v in enumerate([1.0] + constants)]
    lines += [
        ".jumptable jt0 done scalar chunk buffer",
        ".access",
        "  tu.dns t0, parent=none, width=1, lb=0, ub=p0",
        "  str.ite s0, tu=t0",
        "  str.mem s1, tu=t0, slot=xs, index=s0, col=none",
        "  mar.opnd t0, event=ite, stream=s1",
        "  mar.cb t0, event=ite, id=1",
        "  tu.dns t1, parent=none, width=8, lb=0, ub=p0",
        "  str.ite s2, tu=t1",
        "  str.mem s3, tu=t1, slot=ints, index=s2, col=none",
        "  str.mem s4, tu=t1, slot=xs, index=s2, col=none",
        "  mar.opnd t1, event=ite, stream=s3",
        "  mar.opnd t1, event=ite, stream=s4",
        "  mar.cb t1, event=ite, id=2",
        "  tu.dns t2, parent=none, width=8, lb=0, ub=p0",
        "  str.ite s5, tu=t2",
        "  str.mem s6, tu=t2, slot=ints, index=s5, col=none",
        "  str.mem s7, tu=t2, slot=xs, index=s5, col=none",
        "  str.buf s8, tu=t2, src=s6",
        "  str.buf s9, tu=t2, src=s7",
        "  mar.opnd t2, event=end, stream=s8",
        "  mar.opnd t2, event=end, stream=s9",
        "  mar.cb t2, event=end, id=3",
        ".execute",
        "        param x2, p0",
        "        li x20, 8",
        "        li x21, 1",
        "        mset m1, x21",
        f"        lf.{t} f30, kf0",
        "        li x4, 0",
        "s_loop: bge x4, x2, v_start",
        "        ld.i64 x10, ints, x4",
        f"        fcvt.{t} f1, x10",
        f"        fst.{t} f1, o_fcvt, x4",
        "        fld.f64 f2, xs, x4",
        f"        fst.{t} f2, o_fst, x4",
        f"        fmul.{t} f3, f2, f30",
        f"        fst.{t} f3, o_fmul, x4",
        f"        vsplat.{t} v3, f2",
        f"        vst.{t} v3, o_vsplat, x4, m1",
        "        addi x4, x4, 1",
        "        jmp s_loop",
        "v_start: li x4, 0",
        "v_loop: bge x4, x2, l_start",
        "        sub x5, x2, x4",
        "        min x5, x5, x20",
        "        mset m0, x5",
        "        vld.i64 v0, ints, x4, m0",
        f"        vcvt.{t} v1, v0",
        f"        vst.{t} v1, o_vcvt_i, x4, m0",
        "        vld.f64 v2, xs, x4, m0",
        f"        vcvt.{t} v4, v2",
        f"        vst.{t} v4, o_vcvt_x, x4, m0",
        "        addi x4, x4, 8",
        "        jmp v_loop",
        "l_start: li x4, 0",
    ]
    for k in range(len(constants)):
        lines += [f"        lf.{t} f1, kf{k + 1}", f"        fst.{t} f1, o_lf, x4", "        addi x4, x4, 1"]
    lines += [
        "        li x3, 0",
        "        li x4, 0",
        "loop:   cb.pop x1",
        "        br.tab x1, jt0",
        f"scalar: q.popf.{t} f1",
        f"        fst.{t} f1, o_popf, x3",
        "        addi x3, x3, 1",
        "        jmp loop",
        f"chunk:  q.vpop.{t} v0, m0",
        f"        vst.{t} v0, o_vpop_i, x4, m0",
        f"        q.vpop.{t} v1, m2",
        f"        vst.{t} v1, o_vpop_x, x4, m2",
        "        addi x4, x4, 8",
        "        jmp loop",
        "buffer: q.bpop b0",
        "        q.bpop b1",
        "        li x5, 0",
        "b_loop: bge x5, x2, loop",
        "        sub x6, x2, x5",
        "        mset m3, x6",
        f"        bld.{t} v2, b0, x5, m3",
        f"        vst.{t} v2, o_bld_i, x5, m3",
        f"        bld.{t} v3, b1, x5, m3",
        f"        vst.{t} v3, o_bld_x, x5, m3",
        f"        addi x5, x5, {lanes}",
        "        jmp b_loop",
        "done:   halt",
        ".end",
        f'.subgraph "main" inputs=[0, 1] outputs=[{", ".join(str(2 + i) for i in range(len(OUTPUTS)))}]',
        f'.operator kernel 0 inputs=[0, 1] outputs=[{", ".join(str(2 + i) for i in range(len(OUTPUTS)))}]',
        '.signature "serving_default" subgraph=0',
        '.input "ints" 0', '.input "xs" 1',
    ]
    lines += [f'.output "{o}" {2 + i}' for i, o in enumerate(OUTPUTS)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("mode", ["golden", "fast"])
@pytest.mark.parametrize("name", NARROW)
def test_both_modes_convert_by_the_rule(name, mode):
    special = _special_floats()
    floats = special + [-v for v in special] + [np.nan, -np.nan] + FLOATS[-100:]
    ints = INTS[:len(floats)]
    constants = special + [-v for v in special] + [np.nan, -np.nan]
    assert len(ints) == len(floats) >= len(constants)
    model = dae_isa.serialize_model(dae_isa.assemble(convert_program(name, constants), "convert.dasm"))
    feeds = {"ints": np.array(ints, np.int64), "xs": np.array(floats, np.float64)}
    with np.errstate(all="ignore"):
        outputs = Interpreter(model_content=model, machine="tmu", mode=mode).get_signature_runner()(**feeds)
    for output in OUTPUTS:
        sources = ints if output in FROM_INTS else constants if output == "o_lf" else floats
        want = [expected_bits(v, name) for v in sources] + [0] * (len(floats) - len(sources))
        assert outputs[output].dtype == np_dtype(name)
        got = bits_of(outputs[output]).tolist()
        assert got == want, (output, [(v, hex(g), hex(w)) for v, g, w in zip(sources, got, want) if g != w][:5])
