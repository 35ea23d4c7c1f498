"""How a value becomes a float16, bfloat16, float32 or float64: the project's rule,
not whichever numpy or ml_dtypes cast happens to be installed.

    A value converted to a float format is rounded once, to nearest with ties to
    even, from the exact value the machine holds: a float64 (register, constant),
    an int64 (int -> float conversion) or a narrower float.

IEEE's overflow and underflow follow: a magnitude of at least the largest finite
value plus half its ulp becomes +-inf (65520 for float16, (2 - 2**-8) * 2**127 for
bfloat16); below the smallest normal the steps are the subnormal ones (2**-24 for
float16, 2**-133 for bfloat16); -0.0 keeps its sign; a NaN stays a NaN (quiet, with
its sign and the leading bits of its payload). int64 values beyond 2**53 are rounded
as integers, never through float64 first (that would round twice).

Arithmetic needs nothing more: a sum, difference, product, quotient or square root
of two values of a format with p significand bits, computed in a format of at least
2p + 2 bits and rounded once to the narrow one, is the correctly rounded result
(float32 is wide enough for float16 and bfloat16; float64 for all three).

Two implementations of the one rule: numba scalar functions for the fast mode
(fast.py inlines them; bit operations on the float64's encoding) and `convert`,
numpy over arrays, for the golden mode (frexp / rint / ldexp on values), with
`compute` for its half-precision arithmetic. tests/emulator/test_rounding.py checks
both against exact rational arithmetic. (numba checks fast.py's cached code against
fast.py's contents only: after editing this file, delete __pycache__/fast.*.nb?.)
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa._schema_generated import DType

F32, F64, F16, BF16 = DType.FLOAT32, DType.FLOAT64, DType.FLOAT16, DType.BFLOAT16

# As fast.py compiles (no NRT: these never allocate).
_JIT = dict(cache=True, error_model="numpy", nogil=True, _nrt=False)

# Per format: significand bits p (the leading one included) and exponent bias.
FORMATS = {F16: (11, 15), BF16: (8, 127), F32: (24, 127), F64: (53, 1023)}
MAX_EXACT_INT = 1 << 53   # every int64 of at most this magnitude is a float64


# ---------------------------------------------------------------------------
# bit casts (no memory involved)

@intrinsic
def f32_from_bits(typingctx, bits):
    """The float32 whose IEEE bits are the low 32 bits of an int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.trunc(args[0], ir.IntType(32)), ir.FloatType())
    return types.float32(types.int64), codegen


@intrinsic
def f64_bits(typingctx, value):
    """The IEEE bits of a float64, as an int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def f64_from_bits(typingctx, bits):
    """The float64 whose IEEE bits are an int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


# ---------------------------------------------------------------------------
# fast mode: scalar functions (numba)

@njit(inline="always", **_JIT)
def _narrow_bits(value, fraction, bias):
    """The bits of a 16-bit format (1 sign, 15 - fraction exponent, `fraction` fraction
    bits) nearest to a float64, ties to even. The common case, a result in the normal
    range, rounds the float64's own encoding: adding just under half a unit of the
    last kept bit (plus the kept lowest bit, for ties) carries into the exponent when
    it must, and into the infinity encoding on overflow."""
    bits = f64_bits(value)
    magnitude = bits & 0x7FFFFFFFFFFFFFFF
    if ((1024 - bias) << 52) <= magnitude < ((1024 + bias) << 52):
        drop = 52 - fraction
        rounded = (magnitude + ((np.int64(1) << (drop - 1)) - 1) + ((magnitude >> drop) & 1)) >> drop
        return ((bits >> 48) & 0x8000) | (rounded - ((1023 - bias) << fraction))
    return _narrow_bits_edge(value, fraction, bias)


@njit(**_JIT)
def _narrow_bits_edge(value, fraction, bias):
    """_narrow_bits outside the normal range: NaN, infinity and overflow, subnormals, zero."""
    bits = f64_bits(value)
    sign = (bits >> 48) & 0x8000
    magnitude = bits & 0x7FFFFFFFFFFFFFFF
    infinity = ((2 * bias + 1) << fraction)
    if magnitude > 0x7FF0000000000000:  # NaN: quiet, its sign and the leading payload bits
        payload = (magnitude >> (52 - fraction)) & ((np.int64(1) << fraction) - 1)
        return sign | infinity | (np.int64(1) << (fraction - 1)) | payload
    if magnitude >= ((1024 + bias) << 52):
        return sign | infinity
    # Below the smallest normal: multiples of 2**(1 - bias - fraction). The scaling is exact
    # and the count is at most 2**fraction, the smallest normal's encoding.
    return sign | np.int64(np.rint(math.ldexp(abs(value), bias - 1 + fraction)))


@njit(**_JIT)
def f16_bits(value):
    """float16 bits of a float64, rounded once (to nearest, ties to even)."""
    return _narrow_bits(value, 10, 15)


@njit(**_JIT)
def bf16_bits(value):
    """bfloat16 bits of a float64, rounded once (to nearest, ties to even)."""
    return _narrow_bits(value, 7, 127)


@njit(inline="always", **_JIT)
def f16_value(bits):
    """The float64 a float16's bits encode (exact; a NaN keeps its sign and payload)."""
    exponent, fraction = (bits >> 10) & 0x1F, bits & 0x3FF
    if exponent == 0:
        magnitude = fraction * 5.9604644775390625e-08  # subnormal: fraction * 2**-24
        return -magnitude if bits & 0x8000 else magnitude
    wide = 2047 if exponent == 31 else exponent + 1008
    return f64_from_bits(((bits & 0x8000) << 48) | (wide << 52) | (fraction << 42))


@njit(inline="always", **_JIT)
def bf16_value(bits):
    """The float64 a bfloat16's bits encode (exact: they are a float32's top half)."""
    return np.float64(f32_from_bits(bits << 16))


@njit(**_JIT)
def int_rounded(value, precision):
    """An int64 rounded once to `precision` significant bits (to nearest, ties to
    even), as the float64 that holds it exactly (precision <= 53). Beyond 2**53 this
    is integer arithmetic: no float64 in between to round twice."""
    if -MAX_EXACT_INT <= value <= MAX_EXACT_INT:
        return np.float64(value)
    magnitude = abs(value)
    if magnitude < 0:  # -2**63, whose magnitude wraps: a power of two, exact everywhere
        return -9.223372036854775808e18
    length = 54
    while magnitude >> length:
        length += 1
    drop = length - precision
    kept = magnitude >> drop
    rest = magnitude - (kept << drop)
    half = np.int64(1) << (drop - 1)
    if rest > half or (rest == half and (kept & 1) == 1):
        kept += 1
    rounded = math.ldexp(np.float64(kept), drop)
    return -rounded if value < 0 else rounded


@njit(**_JIT)
def _round_half(value, dtype):
    """round_float to float16 or bfloat16 (a call: inlined at every use it would cost
    more compile time than the call costs at run time)."""
    if dtype == F16:
        return f16_value(_narrow_bits(value, 10, 15))
    return bf16_value(_narrow_bits(value, 7, 127))


@njit(inline="always", **_JIT)
def round_float(value, dtype):
    """A float64 rounded once to a float element type, kept as the float64 that holds
    the result exactly (how the fast mode keeps every float)."""
    if dtype == F32:
        return np.float64(np.float32(value))  # the host's conversion: one IEEE rounding
    if dtype == F16 or dtype == BF16:
        return _round_half(value, dtype)
    return value


@njit(**_JIT)
def round_int(value, dtype):
    """An int64 converted (rounded once) to a float element type, as a float64."""
    if dtype == F64:
        return np.float64(value)
    if dtype == F32:
        return np.float64(np.float32(int_rounded(value, 24)))  # exact: 24 bits
    if dtype == F16:
        return f16_value(f16_bits(int_rounded(value, 11)))  # exact, or past the range: inf
    return bf16_value(bf16_bits(int_rounded(value, 8)))


# ---------------------------------------------------------------------------
# golden mode: numpy

def _int_rounded(value: int, precision: int) -> float:
    """int_rounded for a Python int."""
    magnitude = abs(value)
    drop = magnitude.bit_length() - precision
    if drop <= 0:
        return float(value)
    kept, rest = divmod(magnitude, 1 << drop)
    half = 1 << (drop - 1)
    if rest > half or (rest == half and kept & 1):
        kept += 1
    return math.copysign(float(kept << drop), value)


def _exact(values: np.ndarray, precision: int) -> np.ndarray:
    """The values as float64: floats exactly; integers rounded once to `precision` bits
    (exact when they fit in 53 bits, integer arithmetic beyond)."""
    if values.dtype == dtypes.numpy_dtype(BF16):  # its bits are a float32's top half
        return (values.view(np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if values.dtype.kind == "f":
        return values.astype(np.float64)  # float16/32/64: widening is exact
    ints = values.astype(np.int64)
    out = ints.astype(np.float64)
    for i in np.flatnonzero((ints > MAX_EXACT_INT) | (ints < -MAX_EXACT_INT)):
        out.flat[i] = _int_rounded(int(ints.flat[i]), precision)
    return out


def _rounded(x: np.ndarray, precision: int, bias: int) -> np.ndarray:
    """float64 values rounded once to p = precision significant bits with exponents
    1 - bias .. bias: the nearest multiple of the ulp 2**(max(e, 1 - bias) - p + 1),
    where 2**e <= |x| < 2**(e + 1), ties to even; +-inf past the largest finite."""
    magnitude = np.abs(x)
    _, e = np.frexp(magnitude)  # magnitude = m * 2**e with m in [0.5, 1): floor(log2) is e - 1
    ulp = np.maximum(e - 1, 1 - bias) - (precision - 1)
    with np.errstate(all="ignore"):
        out = np.ldexp(np.rint(np.ldexp(magnitude, -ulp)), ulp)  # the scalings are exact
        out[out >= 2.0 ** (bias + 1)] = np.inf
    out = np.where(np.isfinite(x), out, magnitude)  # inf and NaN as they are
    return np.copysign(out, x)  # -0.0 and the signs of NaNs too


def _nan_bits(x: np.ndarray, fraction: int, bias: int) -> np.ndarray:
    """16-bit encodings of NaNs: quiet, their sign and leading payload bits."""
    bits = x.view(np.uint64)
    sign = (bits >> np.uint64(48)) & np.uint64(0x8000)
    payload = (bits >> np.uint64(52 - fraction)) & np.uint64((1 << fraction) - 1)
    return (sign | np.uint64((2 * bias + 1) << fraction | 1 << (fraction - 1)) | payload).astype(np.uint16)


def convert(values, dtype) -> np.ndarray:
    """`values` (an array or scalar of any real dtype) converted to `dtype`, as an array
    (0-d for a scalar: index it with [()]). Float element types follow the rule above;
    others are numpy's cast (integers wrap)."""
    dtype = np.dtype(dtype)
    values = np.asarray(values)
    element = dtypes.BY_NAME.get(dtype.name)
    if element is None or not element.is_float:
        return values.astype(dtype)
    if values.dtype == dtype:
        return values.copy()
    precision, bias = FORMATS[element.code]
    x = _exact(values, precision)
    if element.code == F64:
        return x
    if element.code == F32:
        with np.errstate(over="ignore"):
            return x.astype(np.float32)  # the host's conversion: one IEEE rounding
    x = np.ascontiguousarray(x)  # ndim >= 1 (a scalar's shape comes back at the end)
    exact = _rounded(x, precision, bias)  # representable in the format (or +-inf, NaN)
    with np.errstate(all="ignore"):
        if element.code == F16:
            bits = exact.astype(np.float16).view(np.uint16)  # exact: nothing left to round
        else:
            bits = (exact.astype(np.float32).view(np.uint32) >> np.uint32(16)).astype(np.uint16)  # exact too
    nan = np.isnan(x)
    if nan.any():
        bits = np.where(nan, _nan_bits(x, precision - 1, bias), bits)
    return bits.astype(np.uint16).view(dtype).reshape(values.shape)


def compute(fn, dtype, *operands) -> np.ndarray:
    """`fn` (a numpy ufunc) over operands of element type `dtype`, its result of `dtype`:
    float16 and bfloat16 computed in float64 and rounded once by `convert` (as the fast
    mode computes them; correctly rounded, float64 having over 2p + 2 bits), so nothing of
    numpy's or ml_dtypes' half arithmetic shows; other types in `dtype` itself."""
    dtype = np.dtype(dtype)
    element = dtypes.BY_NAME.get(dtype.name)
    if element is not None and element.code in (F16, BF16):
        return convert(fn(*(convert(x, np.float64) for x in operands)), dtype)
    return np.asarray(fn(*operands), dtype=dtype)
